// Preact hooks over the store, the URL and the clock.

import { useEffect, useState } from 'preact/hooks'
import { parseRoute, type Route } from './route'
import type { Dashboard, State } from './store'

export function useDashboardState(dashboard: Dashboard): State {
  const [state, setState] = useState(dashboard.state)
  useEffect(() => {
    setState(dashboard.state)
    return dashboard.subscribe(() => setState(dashboard.state))
  }, [dashboard])
  return state
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash))
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash))
    addEventListener('hashchange', onChange)
    return () => removeEventListener('hashchange', onChange)
  }, [])
  return route
}

/** The time, refreshed every half minute: relative times stay current. */
export function useNow(intervalMs = 30_000): number {
  const [now, setNow] = useState(Date.now)
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs)
    return () => clearInterval(timer)
  }, [intervalMs])
  return now
}
