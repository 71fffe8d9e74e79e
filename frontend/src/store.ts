// The dashboard's state and everything that changes it: the person's
// actions (through the API) and the live stream's events.

import { ApiError, messageOf, type Api } from './api'
import { LiveStream, type LiveStatus, type LiveStreamOptions, type SseEvent } from './sse'
import type { HistoryEntry, Notification, NotificationsRead, Task, TaskChanged, TaskInput } from './types'

export interface ShownError {
  id: number
  text: string
}

export interface State {
  /** Newest first, as the API lists them. */
  tasks: Task[]
  loaded: boolean
  /** The newest few, newest first. */
  notifications: Notification[]
  unreadCount: number
  live: LiveStatus
  errors: ShownError[]
}

export const NOTIFICATION_LIMIT = 20
const MAX_ERRORS = 5

// Timestamps are fixed-width RFC 3339 in UTC, so they compare as text.
const newestFirst = (a: Task, b: Task) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id)

/** `tasks` with `task` put in, unless the list already holds a newer version of it. */
export function upsertTask(tasks: Task[], task: Task): Task[] {
  const current = tasks.find((t) => t.id === task.id)
  if (current !== undefined && current.updated_at > task.updated_at) return tasks
  return [...tasks.filter((t) => t.id !== task.id), task].sort(newestFirst)
}

/** A new notification: listed first and counted, once (a refetch may already hold it). */
export function addNotification(state: Pick<State, 'notifications' | 'unreadCount'>, notification: Notification) {
  if (state.notifications.some((n) => n.id === notification.id)) return state
  return {
    notifications: [notification, ...state.notifications].slice(0, NOTIFICATION_LIMIT),
    unreadCount: state.unreadCount + (notification.read ? 0 : 1),
  }
}

export function markNotificationsRead(notifications: Notification[], ids: string[] | 'all'): Notification[] {
  return notifications.map((n) => (ids === 'all' || ids.includes(n.id) ? { ...n, read: true } : n))
}

export interface DashboardOptions {
  api: Api
  token: string
  /** The live stream: the same origin's, or another's that allows this one. */
  streamUrl: string
  /** The server refused the session: show the sign-in with this reason. */
  onSignedOut(reason: string): void
  openStream?: (options: LiveStreamOptions) => Pick<LiveStream, 'start' | 'stop'>
}

export class Dashboard {
  state: State = { tasks: [], loaded: false, notifications: [], unreadCount: 0, live: { state: 'connecting' }, errors: [] }
  private readonly listeners = new Set<() => void>()
  /** Tasks known deleted: a late answer about one must not bring it back. */
  private readonly deleted = new Set<string>()
  /** Refetches and stream events run one at a time, in order, so a refetch never undoes a later event. */
  private queue: Promise<void> = Promise.resolve()
  private readonly stream: Pick<LiveStream, 'start' | 'stop'>
  private readonly api: Api
  private nextErrorId = 1

  constructor(private readonly options: DashboardOptions) {
    this.api = options.api
    const open = options.openStream ?? ((o: LiveStreamOptions) => new LiveStream(o))
    this.stream = open({
      url: options.streamUrl,
      token: options.token,
      onEvent: (event) => void this.enqueue(() => this.apply(event)),
      onOpen: (resumed) => {
        // Without a resume, events may have been missed: refetch.
        if (!resumed) void this.refresh()
      },
      onStatus: (live) => this.set({ live }),
      onUnauthorized: () => options.onSignedOut('The server no longer accepts your session: sign in again.'),
    })
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  start(): void {
    void this.refresh()
    this.stream.start()
  }

  stop(): void {
    this.stream.stop()
  }

  /** Refetches tasks and notifications (at start, on `resync`, on a stream opened without resuming). */
  refresh(): Promise<void> {
    return this.enqueue(() => this.load())
  }

  addTask(input: TaskInput): Promise<boolean> {
    return this.attempt('Could not add the task', async () => this.keep(await this.api.createTask(input)))
  }

  /** Saves `patch` (nothing to save is a success). */
  updateTask(task: Task, patch: TaskInput): Promise<boolean> {
    if (Object.keys(patch).length === 0) return Promise.resolve(true)
    return this.attempt(`Could not save “${task.title}”`, async () => this.keep(await this.api.updateTask(task.id, patch)))
  }

  toggle(task: Task): Promise<boolean> {
    return this.attempt(`Could not update “${task.title}”`, async () =>
      this.keep(await this.api.setCompleted(task.id, !task.completed)),
    )
  }

  deleteTask(task: Task): Promise<boolean> {
    return this.attempt(`Could not delete “${task.title}”`, async () => {
      await this.api.deleteTask(task.id)
      this.forget(task.id)
    })
  }

  /** The task's audit trail, oldest first; null when it could not be loaded (the error is shown). */
  async history(taskId: string): Promise<HistoryEntry[] | null> {
    try {
      return await this.api.history(taskId)
    } catch (e) {
      this.report('Could not load the history', e)
      return null
    }
  }

  markRead(notification: Notification): Promise<boolean> {
    return this.attempt('Could not mark the notification read', async () => {
      await this.api.markRead(notification.id)
      const unread = this.state.notifications.some((n) => n.id === notification.id && !n.read)
      this.set({
        notifications: markNotificationsRead(this.state.notifications, [notification.id]),
        unreadCount: Math.max(0, this.state.unreadCount - (unread ? 1 : 0)),
      })
    })
  }

  markAllRead(): Promise<boolean> {
    return this.attempt('Could not mark the notifications read', async () => {
      await this.api.markAllRead()
      this.set({ notifications: markNotificationsRead(this.state.notifications, 'all'), unreadCount: 0 })
    })
  }

  dismissError(id: number): void {
    this.set({ errors: this.state.errors.filter((e) => e.id !== id) })
  }

  /** Applies one event of the stream. */
  async apply(event: SseEvent): Promise<void> {
    switch (event.type) {
      case 'sync.task-changed':
        return this.taskChanged(JSON.parse(event.data) as TaskChanged)
      case 'notification.created':
        this.set(addNotification(this.state, JSON.parse(event.data) as Notification))
        return
      case 'notification.read': {
        const read = JSON.parse(event.data) as NotificationsRead
        this.set({
          notifications: markNotificationsRead(this.state.notifications, read.all === true ? 'all' : (read.ids ?? [])),
          unreadCount: read.unread_count,
        })
        return
      }
      case 'resync':
        return this.load()
    }
  }

  private async taskChanged({ change_type, task_id }: TaskChanged): Promise<void> {
    if (change_type === 'deleted') return this.forget(task_id)
    try {
      this.keep(await this.api.getTask(task_id))
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e
      this.forget(task_id) // deleted since
    }
  }

  private async load(): Promise<void> {
    await Promise.all([
      this.attempt('Could not load the tasks', async () => {
        const tasks = await this.api.allTasks()
        this.set({ tasks: tasks.filter((t) => !this.deleted.has(t.id)), loaded: true })
      }),
      this.attempt('Could not load the notifications', async () => {
        const [notifications, unreadCount] = await Promise.all([this.api.notifications(NOTIFICATION_LIMIT), this.api.unreadCount()])
        this.set({ notifications, unreadCount })
      }),
    ])
  }

  private keep(task: Task): void {
    if (!this.deleted.has(task.id)) this.set({ tasks: upsertTask(this.state.tasks, task) })
  }

  private forget(id: string): void {
    this.deleted.add(id)
    this.set({ tasks: this.state.tasks.filter((t) => t.id !== id) })
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(job).catch((e: unknown) => this.report('A live update failed', e))
    return this.queue
  }

  /** Runs an API call, showing its failure to the person; true when it succeeded. */
  private async attempt(what: string, action: () => Promise<void>): Promise<boolean> {
    try {
      await action()
      return true
    } catch (e) {
      this.report(what, e)
      return false
    }
  }

  private report(what: string, error: unknown): void {
    if (error instanceof ApiError && error.status === 401) {
      this.options.onSignedOut(`The server refused your session (${error.message}): sign in again.`)
      return
    }
    const shown = { id: this.nextErrorId++, text: `${what}: ${messageOf(error)}` }
    this.set({ errors: [...this.state.errors, shown].slice(-MAX_ERRORS) })
  }

  private set(patch: Partial<State>): void {
    this.state = { ...this.state, ...patch }
    for (const listener of this.listeners) listener()
  }
}
