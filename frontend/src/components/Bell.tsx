import { useEffect, useRef, useState } from 'preact/hooks'
import { formatDateTime, relativeTime } from '../format'
import { routeHref, type Route } from '../route'
import type { Dashboard, State } from '../store'
import { AlertIcon, BellIcon, ClockIcon } from './Icons'

interface Props {
  dashboard: Dashboard
  state: State
  route: Route
  now: number
}

const TYPE_ICONS: Record<string, typeof BellIcon> = {
  'reminder.upcoming': ClockIcon,
  'reminder.overdue': AlertIcon,
}

/** The unread count, and a dropdown of the newest notifications. Escape or a click elsewhere closes it. */
export function Bell({ dashboard, state, route, now }: Props) {
  const [open, setOpen] = useState(false)
  const root = useRef<HTMLDivElement>(null)
  const button = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    if (!open) return
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return
      setOpen(false)
      button.current?.focus()
    }
    const onPointer = (e: Event) => {
      if (!root.current?.contains(e.target as Node)) setOpen(false)
    }
    document.addEventListener('keydown', onKey)
    document.addEventListener('pointerdown', onPointer)
    return () => {
      document.removeEventListener('keydown', onKey)
      document.removeEventListener('pointerdown', onPointer)
    }
  }, [open])
  const count = state.unreadCount

  return (
    <div class="bell" ref={root}>
      <button
        ref={button}
        type="button"
        class="bell-button"
        aria-label={`Notifications, ${count} unread`}
        aria-expanded={open}
        aria-controls="notifications"
        onClick={() => setOpen(!open)}
      >
        <BellIcon />
        {count > 0 && (
          <span class="badge" data-count={count}>
            {count > 99 ? '99+' : count}
          </span>
        )}
      </button>
      {open && (
        <div id="notifications" class="dropdown" role="region" aria-label="Notifications">
          <header class="dropdown-head">
            <h2>Notifications</h2>
            <button type="button" class="link" disabled={count === 0} onClick={() => void dashboard.markAllRead()}>
              Mark all read
            </button>
          </header>
          {state.notifications.length === 0 && <p class="placeholder">No notifications yet.</p>}
          <ul class="notifications">
            {state.notifications.map((n) => {
              const TypeIcon = TYPE_ICONS[n.type] ?? BellIcon
              return (
                <li key={n.id} class={n.read ? 'read' : 'unread'}>
                  <span class={`type type-${n.type.replace('.', '-')}`} title={n.type}>
                    <TypeIcon />
                  </span>
                  <div class="text">
                    {n.task_id !== null ? (
                      <a href={routeHref({ ...route, taskId: n.task_id })} onClick={() => setOpen(false)}>
                        {n.title}
                      </a>
                    ) : (
                      <strong>{n.title}</strong>
                    )}
                    <p>{n.body}</p>
                    <time dateTime={n.created_at} title={formatDateTime(n.created_at)}>
                      {relativeTime(n.created_at, now)}
                    </time>
                  </div>
                  {!n.read && (
                    <button type="button" class="link" aria-label={`Mark “${n.title}” read`} onClick={() => void dashboard.markRead(n)}>
                      Mark read
                    </button>
                  )}
                </li>
              )
            })}
          </ul>
        </div>
      )}
    </div>
  )
}
