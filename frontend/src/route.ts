// The URL state: the TodoMVC filter routes `#/`, `#/active`, `#/completed`,
// plus `?task=<id>` while a task's panel is open. A hash route works behind
// any static server and survives reloads and shared links.

import type { Task } from './types'

export type Filter = 'all' | 'active' | 'completed'
export const FILTERS: readonly Filter[] = ['all', 'active', 'completed']

export interface Route {
  filter: Filter
  taskId: string | null
}

export function parseRoute(hash: string): Route {
  const [path, query = ''] = hash.replace(/^#/, '').split('?')
  const name = path.replace(/^\/+|\/+$/g, '')
  const filter = FILTERS.find((f) => f === name) ?? 'all'
  return { filter, taskId: new URLSearchParams(query).get('task') || null }
}

export function routeHref({ filter, taskId }: Route): string {
  const path = filter === 'all' ? '#/' : `#/${filter}`
  return taskId === null ? path : `${path}?${new URLSearchParams({ task: taskId })}`
}

export function applyFilter(tasks: Task[], filter: Filter): Task[] {
  if (filter === 'all') return tasks
  return tasks.filter((task) => task.completed === (filter === 'completed'))
}
