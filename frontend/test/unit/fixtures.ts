import type { Task } from '../../src/types'

export function task(overrides: Partial<Task> = {}): Task {
  return {
    id: '00000000-0000-0000-0000-000000000001',
    title: 'Water the plants',
    description: null,
    completed: false,
    priority: 'medium',
    tags: [],
    due_date: null,
    recurrence_pattern: null,
    parent_task_id: null,
    created_at: '2026-11-26T21:48:36.123456Z',
    updated_at: '2026-11-26T21:48:36.123456Z',
    ...overrides,
  }
}

export function json(status: number, body: unknown, statusText = ''): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    statusText,
    headers: { 'content-type': 'application/json' },
  })
}
