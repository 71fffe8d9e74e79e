import { useEffect, useState } from 'preact/hooks'
import type { Config } from '../config'
import { clearSession, loadSession, saveSession } from '../session'
import type { Session } from '../types'
import { Board } from './Board'
import { SignIn } from './SignIn'

/** Signed out: the sign-in; signed in: the board. Tabs follow each other's sign-in and sign-out. */
export function App({ config }: { config: Config }) {
  const [session, setSession] = useState(() => loadSession(localStorage))
  const [notice, setNotice] = useState<string | null>(null)

  useEffect(() => {
    const onStorage = () => setSession(loadSession(localStorage))
    addEventListener('storage', onStorage)
    return () => removeEventListener('storage', onStorage)
  }, [])

  const signIn = (next: Session) => {
    saveSession(localStorage, next)
    setNotice(null)
    setSession(next)
  }
  const signOut = (reason: string | null) => {
    clearSession(localStorage)
    setNotice(reason)
    setSession(null)
  }

  if (session === null) return <SignIn notice={notice} onSignedIn={signIn} />
  return <Board key={session.token} session={session} streamUrl={config.streamUrl} onSignOut={signOut} />
}
