import { describe, expect, it } from 'vitest'
import { clearSession, loadSession, saveSession, sessionFromToken } from '../../src/session'

class MemoryStorage implements Storage {
  private items = new Map<string, string>()
  get length() {
    return this.items.size
  }
  clear() {
    this.items.clear()
  }
  getItem(key: string) {
    return this.items.get(key) ?? null
  }
  key(index: number) {
    return [...this.items.keys()][index] ?? null
  }
  removeItem(key: string) {
    this.items.delete(key)
  }
  setItem(key: string, value: string) {
    this.items.set(key, value)
  }
}

const NOW = Date.parse('2026-11-26T12:00:00Z')
const base64url = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')
const jwt = (claims: unknown) => `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(claims)}.signature`

describe('session', () => {
  it('is kept until it expires', () => {
    const storage = new MemoryStorage()
    const session = { token: 't', user_id: 'alice', expires_at: '2026-11-26T13:00:00Z' }
    saveSession(storage, session)
    expect(loadSession(storage, NOW)).toEqual(session)
    expect(loadSession(storage, Date.parse('2026-11-26T13:00:01Z'))).toBeNull()
    expect(storage.length).toBe(0)
  })

  it('ignores what it cannot read, and clears', () => {
    const storage = new MemoryStorage()
    storage.setItem('todo.session', '{not json')
    expect(loadSession(storage, NOW)).toBeNull()
    saveSession(storage, { token: 't', user_id: 'a', expires_at: '2026-11-27T00:00:00Z' })
    clearSession(storage)
    expect(loadSession(storage, NOW)).toBeNull()
  })

  it('reads the user and expiry of a pasted token', () => {
    const token = jwt({ sub: 'bob@example.com', exp: NOW / 1000 + 3600 })
    expect(sessionFromToken(`  ${token}\n`, NOW)).toEqual({ token, user_id: 'bob@example.com', expires_at: '2026-11-26T13:00:00.000Z' })
  })

  it('refuses a pasted token that is malformed, anonymous or expired', () => {
    expect(() => sessionFromToken('hello', NOW)).toThrow(/not a JSON Web Token/)
    expect(() => sessionFromToken(jwt({ exp: NOW / 1000 + 60 }), NOW)).toThrow(/no user/)
    expect(() => sessionFromToken(jwt({ sub: 'a', exp: NOW / 1000 - 60 }), NOW)).toThrow(/expired at 2026-11-26T11:59:00.000Z/)
  })
})
