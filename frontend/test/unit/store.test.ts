import { describe, expect, it, vi } from 'vitest'
import { Api, type Fetch } from '../../src/api'
import type { LiveStreamOptions, SseEvent } from '../../src/sse'
import { addNotification, Dashboard, upsertTask } from '../../src/store'
import type { Notification } from '../../src/types'
import { json, task } from './fixtures'

type Handler = (init: RequestInit) => Response | Promise<Response>

/** A fake host: `"GET /api/todos"` → handler (the path without its query); counts calls. */
function fakeHost(routes: Record<string, Handler>) {
  const calls: string[] = []
  const fetchFn: Fetch = async (url, init = {}) => {
    const route = `${init.method ?? 'GET'} ${String(url).split('?')[0]}`
    calls.push(route)
    const handler = routes[route]
    if (handler === undefined) return json(404, { error: { code: 'not_found', message: `no route for ${route}` } })
    return handler(init)
  }
  return { fetchFn, calls, count: (route: string) => calls.filter((c) => c === route).length }
}

const EMPTY_NOTIFICATIONS: Record<string, Handler> = {
  'GET /api/notifications': () => json(200, { items: [], next_cursor: null }),
  'GET /api/notifications/unread-count': () => json(200, { count: 0 }),
}

function dashboard(routes: Record<string, Handler>) {
  const host = fakeHost({ ...EMPTY_NOTIFICATIONS, ...routes })
  let stream: LiveStreamOptions | undefined
  const signedOut: string[] = []
  const board = new Dashboard({
    api: new Api('t', host.fetchFn),
    token: 't',
    streamUrl: 'http://127.0.0.1:3001/api/stream/tasks',
    onSignedOut: (reason) => signedOut.push(reason),
    openStream: (options) => {
      stream = options
      return { start() {}, stop() {} }
    },
  })
  const event = (type: string, data: unknown): SseEvent => ({ type, data: JSON.stringify(data), id: 'log-1' })
  return { board, host, stream: () => stream as LiveStreamOptions, signedOut, event }
}

const changed = (task_id: string, change_type = 'updated') => ({ change_type, task_id, user_id: 'alice', changed_fields: [], timestamp: '' })

describe('upsertTask', () => {
  it('adds newest first and never replaces a newer version with an older one', () => {
    const old = task({ id: 'a', created_at: '2026-01-01T00:00:00.000000Z', updated_at: '2026-01-01T00:00:00.000000Z' })
    const newer = { ...old, title: 'new', updated_at: '2026-01-02T00:00:00.000000Z' }
    const other = task({ id: 'b', created_at: '2026-01-03T00:00:00.000000Z' })
    const tasks = upsertTask(upsertTask([old], other), newer)
    expect(tasks.map((t) => [t.id, t.title])).toEqual([['b', 'Water the plants'], ['a', 'new']])
    expect(upsertTask(tasks, old)).toBe(tasks)
  })
})

describe('addNotification', () => {
  const n: Notification = { id: 'n1', type: 'reminder.upcoming', title: 'Task due soon', body: '', task_id: 'a', read: false, created_at: '' }
  it('lists and counts a notification once', () => {
    const once = addNotification({ notifications: [], unreadCount: 2 }, n)
    expect(once).toEqual({ notifications: [n], unreadCount: 3 })
    expect(addNotification(once, n)).toBe(once)
  })
})

describe('Dashboard', () => {
  it('opens the stream where the configuration says', () => {
    const { stream } = dashboard({})
    expect(stream().url).toBe('http://127.0.0.1:3001/api/stream/tasks')
  })

  it('refetches at start, on resync and when the stream opens without resuming, not on a resume', async () => {
    const { board, host, stream, event } = dashboard({ 'GET /api/todos': () => json(200, { items: [task()], next_cursor: null }) })
    board.start()
    await board.refresh()
    expect(host.count('GET /api/todos')).toBe(2)
    expect(board.state.tasks).toHaveLength(1)
    stream().onOpen(true)
    stream().onOpen(false)
    await board.apply(event('resync', { reason: 'unknown event id' }))
    await board.refresh()
    expect(host.count('GET /api/todos')).toBe(5)
  })

  it('fetches a changed task, drops a deleted one, and a late answer does not bring it back', async () => {
    const a = task({ id: 'a' })
    const { board, event } = dashboard({
      'GET /api/todos': () => json(200, { items: [], next_cursor: null }),
      'GET /api/todos/a': () => json(200, a),
      'GET /api/todos/gone': () => json(404, { error: { code: 'not_found', message: 'no such task' } }),
    })
    await board.apply(event('sync.task-changed', changed('a', 'created')))
    expect(board.state.tasks).toEqual([a])
    await board.apply(event('sync.task-changed', changed('a', 'deleted')))
    expect(board.state.tasks).toEqual([])
    await board.apply(event('sync.task-changed', changed('a')))
    expect(board.state.tasks).toEqual([])
    await board.apply(event('sync.task-changed', changed('gone')))
    expect(board.state.errors).toEqual([])
  })

  it('applies events that arrive during a refetch after it, so the refetch cannot undo them', async () => {
    let release: () => void = () => {}
    const listed = new Promise<void>((resolve) => (release = resolve))
    const { board, stream, event } = dashboard({
      'GET /api/todos': async () => {
        await listed // the list is read before the task is created...
        return json(200, { items: [], next_cursor: null })
      },
      'GET /api/todos/a': () => json(200, task({ id: 'a' })),
    })
    const refreshed = board.refresh()
    stream().onEvent(event('sync.task-changed', changed('a', 'created'))) // ...whose event comes meanwhile
    release()
    await refreshed
    await vi.waitFor(() => expect(board.state.tasks.map((t) => t.id)).toEqual(['a']))
  })

  it('keeps the bell current from notification events', async () => {
    const { board, event } = dashboard({})
    const n = { id: 'n1', type: 'reminder.overdue', title: 'Task overdue', body: '', task_id: 'a', read: false, created_at: '', user_id: 'alice' }
    await board.apply(event('notification.created', n))
    await board.apply(event('notification.created', n))
    expect(board.state.unreadCount).toBe(1)
    await board.apply(event('notification.read', { user_id: 'alice', ids: ['n1'], unread_count: 0 }))
    expect([board.state.unreadCount, board.state.notifications[0].read]).toEqual([0, true])
  })

  it('shows failed requests in words, and signs out when the session is refused', async () => {
    const { board, signedOut } = dashboard({
      'POST /api/todos': () => json(422, { error: { code: 'validation_failed', message: 'title: must not be empty' } }),
      'DELETE /api/todos/a': () => json(401, { error: { code: 'unauthorized', message: 'token expired' } }),
    })
    expect(await board.addTask({ title: ' ' })).toBe(false)
    expect(board.state.errors.map((e) => e.text)).toEqual(['Could not add the task: title: must not be empty'])
    board.dismissError(board.state.errors[0].id)
    expect(board.state.errors).toEqual([])
    expect(await board.deleteTask(task({ id: 'a' }))).toBe(false)
    expect(signedOut).toEqual(['The server refused your session (token expired): sign in again.'])
  })

  it('reports a live update it cannot apply', async () => {
    const { board, stream } = dashboard({})
    stream().onEvent({ type: 'sync.task-changed', data: 'not json', id: 'log-2' })
    await vi.waitFor(() => expect(board.state.errors).toHaveLength(1))
    expect(board.state.errors[0].text).toMatch(/^A live update failed: /)
  })
})
