// The HTTP client: every route of the Task and Notification APIs and the
// development sign-in, with failures turned into `ApiError`s.

import type { HistoryEntry, Notification, Page, Session, Task, TaskInput } from './types'

/** A failed request: the API's `{"error": {"code", "message"}}`, or what we know. */
export class ApiError extends Error {
  constructor(
    /** The HTTP status; 0 when no response came. */
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** What went wrong, in words, whatever was thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** The error a non-2xx response carries: the API's envelope, else its status line. */
export async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '')
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }
    if (typeof error?.code === 'string' && typeof error.message === 'string') {
      return new ApiError(response.status, error.code, error.message)
    }
  } catch {
    // Not JSON: a proxy's page, say. Fall through to the status line.
  }
  const status = `${response.status} ${response.statusText}`.trim()
  return new ApiError(response.status, `http_${response.status}`, `the server answered ${status}`)
}

export type Fetch = typeof fetch

/** Sends a JSON request and returns the decoded answer (undefined for 204). */
async function send<T>(fetchFn: Fetch, method: string, path: string, token: string | null, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (token !== null) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response: Response
  try {
    response = await fetchFn(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch (e) {
    throw new ApiError(0, 'network_error', `cannot reach the server (${messageOf(e)})`)
  }
  if (!response.ok) throw await errorOf(response)
  return (response.status === 204 ? undefined : await response.json()) as T
}

/** `POST /auth/dev/sign-in`: 404 when the host has a real secret (`TODO_JWT_SECRET`). */
export function devSignIn(userId: string, fetchFn: Fetch = fetch): Promise<Session> {
  return send<Session>(fetchFn, 'POST', '/auth/dev/sign-in', null, { user_id: userId })
}

const PAGE_LIMIT = 100
/** Enough for any one person's list; the dashboard stops loading there. */
const MAX_TASK_PAGES = 50

export class Api {
  constructor(
    private readonly token: string,
    private readonly fetchFn: Fetch = fetch,
  ) {}

  private send<T>(method: string, path: string, body?: unknown): Promise<T> {
    return send<T>(this.fetchFn, method, path, this.token, body)
  }

  listTasks(limit: number, cursor: string | null = null): Promise<Page<Task>> {
    const query = new URLSearchParams({ limit: String(limit) })
    if (cursor !== null) query.set('cursor', cursor)
    return this.send('GET', `/api/todos?${query}`)
  }

  /** Every task, newest first, following the cursor page by page. */
  async allTasks(): Promise<Task[]> {
    const tasks: Task[] = []
    let cursor: string | null = null
    for (let page = 0; page < MAX_TASK_PAGES; page++) {
      const { items, next_cursor }: Page<Task> = await this.listTasks(PAGE_LIMIT, cursor)
      tasks.push(...items)
      if (next_cursor === null) break
      cursor = next_cursor
    }
    return tasks
  }

  getTask(id: string): Promise<Task> {
    return this.send('GET', `/api/todos/${encodeURIComponent(id)}`)
  }

  createTask(input: TaskInput): Promise<Task> {
    return this.send('POST', '/api/todos', input)
  }

  updateTask(id: string, patch: TaskInput): Promise<Task> {
    return this.send('PUT', `/api/todos/${encodeURIComponent(id)}`, patch)
  }

  setCompleted(id: string, completed: boolean): Promise<Task> {
    return this.send('PATCH', `/api/todos/${encodeURIComponent(id)}/complete`, { completed })
  }

  deleteTask(id: string): Promise<void> {
    return this.send('DELETE', `/api/todos/${encodeURIComponent(id)}`)
  }

  async history(id: string): Promise<HistoryEntry[]> {
    const { items } = await this.send<{ items: HistoryEntry[] }>('GET', `/api/todos/${encodeURIComponent(id)}/history?limit=100`)
    return items
  }

  /** The newest notifications, newest first. */
  async notifications(limit: number): Promise<Notification[]> {
    const { items } = await this.send<Page<Notification>>('GET', `/api/notifications?limit=${limit}`)
    return items
  }

  async unreadCount(): Promise<number> {
    const { count } = await this.send<{ count: number }>('GET', '/api/notifications/unread-count')
    return count
  }

  markRead(id: string): Promise<Notification> {
    return this.send('PATCH', `/api/notifications/${encodeURIComponent(id)}/read`)
  }

  async markAllRead(): Promise<number> {
    const { updated } = await this.send<{ updated: number }>('POST', '/api/notifications/read-all')
    return updated
  }
}
