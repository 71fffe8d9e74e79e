// The TodoMVC input rules.

import type { Task } from './types'

/** The title Enter adds: trimmed; null when blank, and nothing is added. */
export function titleToAdd(raw: string): string | null {
  const title = raw.trim()
  return title === '' ? null : title
}

export type EditOutcome = { kind: 'keep' } | { kind: 'delete' } | { kind: 'rename'; title: string }

/** What finishing an edit (Enter or leaving the field) does: a blanked title deletes the task. */
export function editOutcome(original: string, raw: string): EditOutcome {
  const title = raw.trim()
  if (title === '') return { kind: 'delete' }
  return title === original ? { kind: 'keep' } : { kind: 'rename', title }
}

/** "1 item left", "3 items left": the tasks not completed. */
export function itemsLeft(tasks: Task[]): string {
  const n = tasks.filter((task) => !task.completed).length
  return `${n} ${n === 1 ? 'item' : 'items'} left`
}
