// The signed-in session, kept in localStorage.
//
// Why localStorage rather than sessionStorage: a script injected into the
// page could read either, so neither is safer against XSS; localStorage is
// shared by the origin's tabs, so a second tab (the live-sync case) opens
// signed in, and signing out in one tab signs out all of them (the `storage`
// event). The token's own expiry (12 hours for the dev sign-in) bounds how
// long a forgotten session lives, and an expired one is dropped on load.

import type { Session } from './types'

const KEY = 'todo.session'

export function loadSession(storage: Storage, now: number = Date.now()): Session | null {
  try {
    const value = JSON.parse(storage.getItem(KEY) ?? 'null') as Partial<Session> | null
    if (typeof value?.token === 'string' && typeof value.user_id === 'string' && typeof value.expires_at === 'string') {
      const session = { token: value.token, user_id: value.user_id, expires_at: value.expires_at }
      if (Date.parse(session.expires_at) > now) return session
    }
  } catch {
    // Unreadable: treat as signed out.
  }
  storage.removeItem(KEY)
  return null
}

export function saveSession(storage: Storage, session: Session): void {
  storage.setItem(KEY, JSON.stringify(session))
}

export function clearSession(storage: Storage): void {
  storage.removeItem(KEY)
}

/**
 * The session a pasted JWT stands for, read from its payload (`sub`, `exp`).
 * Only the server checks the signature; this catches paste mistakes early.
 */
export function sessionFromToken(pasted: string, now: number = Date.now()): Session {
  const token = pasted.trim()
  const payload = token.split('.')[1]
  let claims: { sub?: unknown; exp?: unknown }
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/')
    claims = JSON.parse(atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '=')))
  } catch {
    throw new Error('this is not a JSON Web Token (three base64url parts separated by dots)')
  }
  if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') {
    throw new Error('the token names no user (sub) or no expiry (exp)')
  }
  const expires = claims.exp * 1000
  if (expires <= now) throw new Error(`the token expired at ${new Date(expires).toISOString()}`)
  return { token, user_id: claims.sub, expires_at: new Date(expires).toISOString() }
}
