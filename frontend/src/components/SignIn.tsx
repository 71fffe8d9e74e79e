import { useState } from 'preact/hooks'
import { Api, ApiError, devSignIn, messageOf } from '../api'
import { sessionFromToken } from '../session'
import type { Session } from '../types'

interface Props {
  /** Why the person is here again (a refused session), if so. */
  notice: string | null
  onSignedIn(session: Session): void
}

/** The host's development sign-in, or a pasted token where that is off. */
export function SignIn({ notice, onSignedIn }: Props) {
  const [mode, setMode] = useState<'dev' | 'token'>('dev')
  const [userId, setUserId] = useState('')
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const submit = async (event: Event, signIn: () => Promise<Session>) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      onSignedIn(await signIn())
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && mode === 'dev') {
        setMode('token')
        setError('Development sign-in is off on this server: paste a token instead.')
      } else {
        setError(messageOf(e))
      }
    } finally {
      setBusy(false)
    }
  }

  const withToken = async () => {
    const session = sessionFromToken(token)
    await new Api(session.token).listTasks(1) // the server, not us, says whether it is valid
    return session
  }

  return (
    <main class="signin">
      <h1>todos</h1>
      {notice !== null && <p class="notice">{notice}</p>}
      {mode === 'dev' ? (
        <form onSubmit={(e) => submit(e, () => devSignIn(userId.trim()))}>
          <label for="user-id">User id</label>
          <input id="user-id" value={userId} onInput={(e) => setUserId(e.currentTarget.value)} autoFocus required autocomplete="username" />
          <button type="submit" disabled={busy}>
            Sign in
          </button>
          <button type="button" class="link" onClick={() => setMode('token')}>
            Use a token instead
          </button>
        </form>
      ) : (
        <form onSubmit={(e) => submit(e, withToken)}>
          <label for="token">Access token (JWT)</label>
          <textarea id="token" value={token} onInput={(e) => setToken(e.currentTarget.value)} rows={4} autoFocus required />
          <button type="submit" disabled={busy}>
            Sign in with token
          </button>
          <button type="button" class="link" onClick={() => setMode('dev')}>
            Use the development sign-in
          </button>
        </form>
      )}
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </main>
  )
}
