import { useEffect, useMemo } from 'preact/hooks'
import { Api } from '../api'
import { useDashboardState, useNow, useRoute } from '../hooks'
import { routeHref } from '../route'
import { Dashboard } from '../store'
import type { Session } from '../types'
import { Bell } from './Bell'
import { NewTask } from './NewTask'
import { Errors, LiveIndicator } from './Status'
import { TaskList } from './TaskList'
import { TaskPanel } from './TaskPanel'

interface Props {
  session: Session
  /** Where the live stream is (see `config.ts`). */
  streamUrl: string
  onSignOut(reason: string | null): void
}

/** The signed-in page: header, errors, the list and, when one is open, a task's panel. */
export function Board({ session, streamUrl, onSignOut }: Props) {
  const dashboard = useMemo(
    () => new Dashboard({ api: new Api(session.token), token: session.token, streamUrl, onSignedOut: onSignOut }),
    [session.token, streamUrl],
  )
  useEffect(() => {
    dashboard.start()
    return () => dashboard.stop()
  }, [dashboard])
  const state = useDashboardState(dashboard)
  const route = useRoute()
  const now = useNow()
  const openTask = state.tasks.find((t) => t.id === route.taskId) ?? null

  return (
    <div class="board">
      <header class="topbar">
        <h1>todos</h1>
        <LiveIndicator status={state.live} />
        <span class="spacer" />
        <Bell dashboard={dashboard} state={state} route={route} now={now} />
        <span class="user" title="Signed in as">
          {session.user_id}
        </span>
        <button type="button" class="link" onClick={() => onSignOut(null)}>
          Sign out
        </button>
      </header>
      <Errors errors={state.errors} onDismiss={(id) => dashboard.dismissError(id)} />
      <main class={route.taskId === null ? 'layout' : 'layout with-panel'}>
        <section class="todoapp" aria-label="Tasks">
          <NewTask dashboard={dashboard} />
          <TaskList dashboard={dashboard} state={state} route={route} now={now} />
        </section>
        {route.taskId !== null && (
          <TaskPanel
            key={route.taskId}
            dashboard={dashboard}
            taskId={route.taskId}
            task={openTask}
            loaded={state.loaded}
            closeHref={routeHref({ ...route, taskId: null })}
            now={now}
          />
        )}
      </main>
    </div>
  )
}
