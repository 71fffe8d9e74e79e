// The dashboard's API types (types.ts, which api.ts sends and expects)
// checked against the OpenAPI document's (api-types.ts, generated from
// crates/domain/openapi.json by `npm run api-types`; `npm test` fails when
// it is stale). `tsc` (in `npm run build`) fails on any disagreement: what
// each route answers must fit what the dashboard reads, and what the
// dashboard sends must fit what the route takes.

import type { components, operations } from './api-types'
import type { HistoryEntry, Notification, NotificationsRead, Page, Session, Task, TaskChanged, TaskInput } from './types'

type Schemas = components['schemas']
type Answer<Op extends keyof operations, Status extends keyof operations[Op]['responses']> =
  operations[Op]['responses'][Status] extends { content: { 'application/json': infer Body } } ? Body : never
type Body<Op extends keyof operations> = operations[Op] extends {
  requestBody?: { content: { 'application/json': infer Body } }
}
  ? Body
  : never

/** `true` when `From` can be used where `To` is expected. */
type Fits<From, To> = [From] extends [To] ? true : false
type Check<T extends true> = T

export type AnswersFitTheDashboard = [
  Check<Fits<Answer<'listTasks', 200>, Page<Task>>>,
  Check<Fits<Answer<'getTask', 200>, Task>>,
  Check<Fits<Answer<'createTask', 201>, Task>>,
  Check<Fits<Answer<'updateTask', 200>, Task>>,
  Check<Fits<Answer<'completeTask', 200>, Task>>,
  Check<Fits<Answer<'taskHistory', 200>, { items: HistoryEntry[] }>>,
  Check<Fits<Answer<'listNotifications', 200>, Page<Notification>>>,
  Check<Fits<Answer<'markNotificationRead', 200>, Notification>>,
  Check<Fits<Answer<'markAllNotificationsRead', 200>, { updated: number }>>,
  Check<Fits<Answer<'unreadCount', 200>, { count: number }>>,
  Check<Fits<Answer<'devSignIn', 200>, Session>>,
  Check<Fits<Answer<'getTask', 404>, { error: { code: string; message: string } }>>,
  // The stream's data.
  Check<Fits<Schemas['SyncEvent'], TaskChanged>>,
  Check<Fits<Schemas['NotificationRead'], NotificationsRead>>,
  Check<Fits<Omit<Schemas['NotificationCreated'], 'user_id'>, Notification>>,
]

export type RequestsFitTheApi = [
  Check<Fits<TaskInput, Body<'updateTask'>>>,
  // A create's title is checked by the form before it is sent.
  Check<Fits<TaskInput & { title: string }, Body<'createTask'>>>,
  Check<Fits<{ completed: boolean }, Body<'completeTask'>>>,
  Check<Fits<{ user_id: string }, Body<'devSignIn'>>>,
]
