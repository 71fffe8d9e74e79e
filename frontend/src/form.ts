// The task form (new-task options, the task panel) and the API bodies made
// from it. Due dates are edited in the browser's zone with minute precision
// (`<input type="datetime-local">`) and sent as UTC.

import type { Frequency, Priority, Task, TaskInput } from './types'

export interface TaskForm {
  title: string
  description: string
  priority: Priority
  /** Comma-separated. */
  tags: string
  /** A datetime-local value, in the browser's zone; '' for none. */
  due: string
  /** '' for a task that does not repeat. */
  frequency: Frequency | ''
  interval: string
}

export const EMPTY_FORM: TaskForm = {
  title: '',
  description: '',
  priority: 'medium',
  tags: '',
  due: '',
  frequency: '',
  interval: '1',
}

/** "home, shop,, home" → ["home", "shop"]. */
export function parseTags(text: string): string[] {
  const tags = text.split(',').map((tag) => tag.trim())
  return [...new Set(tags.filter((tag) => tag !== ''))]
}

const pad = (n: number) => String(n).padStart(2, '0')

/** An RFC 3339 instant as a datetime-local value in the browser's zone. */
export function toLocalInput(iso: string | null): string {
  if (iso === null) return ''
  const d = new Date(iso)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/** A datetime-local value (the browser's zone) as an RFC 3339 instant in UTC; null when empty. */
export function fromLocalInput(value: string): string | null {
  const time = new Date(value).getTime()
  return value === '' || Number.isNaN(time) ? null : new Date(time).toISOString()
}

export function formOf(task: Task): TaskForm {
  return {
    title: task.title,
    description: task.description ?? '',
    priority: task.priority,
    tags: task.tags.join(', '),
    due: toLocalInput(task.due_date),
    frequency: task.recurrence_pattern?.frequency ?? '',
    interval: String(task.recurrence_pattern?.interval ?? 1),
  }
}

/** Every field the form edits, as a create body. */
export function inputOf(form: TaskForm): Required<Omit<TaskInput, 'completed'>> {
  return {
    title: form.title.trim(),
    description: form.description.trim() || null,
    priority: form.priority,
    tags: parseTags(form.tags),
    due_date: fromLocalInput(form.due),
    recurrence_pattern: form.frequency === '' ? null : { frequency: form.frequency, interval: Number(form.interval) },
  }
}

/** The update body for what the form changed in `task`; empty when nothing. */
export function patchOf(task: Task, form: TaskForm): TaskInput {
  const before = inputOf(formOf(task))
  const after = inputOf(form)
  const changed = (Object.keys(after) as (keyof typeof after)[]).filter(
    (key) => JSON.stringify(after[key]) !== JSON.stringify(before[key]),
  )
  return Object.fromEntries(changed.map((key) => [key, after[key]]))
}
