// The JSON shapes of the host's API and event stream (see the README and
// crates/domain: task.rs, changes.rs, events.rs, notification.rs).

export type Priority = 'low' | 'medium' | 'high'
export type Frequency = 'daily' | 'weekly' | 'monthly'

export interface Recurrence {
  frequency: Frequency
  interval: number
}

export interface Task {
  id: string
  title: string
  description: string | null
  completed: boolean
  priority: Priority
  tags: string[]
  /** RFC 3339 in UTC, e.g. `2026-12-01T08:00:00.000000Z`. */
  due_date: string | null
  recurrence_pattern: Recurrence | null
  parent_task_id: string | null
  created_at: string
  updated_at: string
}

/** A create or update body: a field left out stays as it is; `null` clears it. */
export type TaskInput = Partial<
  Pick<Task, 'title' | 'description' | 'completed' | 'priority' | 'tags' | 'due_date' | 'recurrence_pattern'>
>

export interface Page<T> {
  items: T[]
  next_cursor: string | null
}

export interface FieldChange {
  old: unknown
  new: unknown
}

/** One audit row of `GET /api/todos/{id}/history`. */
export interface HistoryEntry {
  event_id: string
  /** `task.created` | `task.updated` | `task.completed` | `task.deleted` */
  event_type: string
  changed_fields: Record<string, FieldChange>
  snapshot: Task | null
  occurred_at: string
}

export interface Notification {
  id: string
  /** `reminder.upcoming` | `reminder.overdue` */
  type: string
  title: string
  body: string
  task_id: string | null
  read: boolean
  created_at: string
}

export interface Session {
  token: string
  user_id: string
  expires_at: string
}

/** Data of the stream's `sync.task-changed`. */
export interface TaskChanged {
  change_type: 'created' | 'updated' | 'deleted' | 'completed'
  task_id: string
  user_id: string
  changed_fields: string[]
  timestamp: string
}

/** Data of the stream's `notification.read`. */
export interface NotificationsRead {
  user_id: string
  ids?: string[]
  all?: boolean
  unread_count: number
}
