import { useEffect, useRef, useState } from 'preact/hooks'
import { eventLabel, fieldDiffs, formatDateTime, relativeTime } from '../format'
import { formOf, patchOf } from '../form'
import type { Dashboard } from '../store'
import type { HistoryEntry, Task } from '../types'
import { TaskFields } from './TaskFields'

interface Props {
  dashboard: Dashboard
  taskId: string
  /** Null once deleted (its history stays readable) or before the list loads. */
  task: Task | null
  loaded: boolean
  closeHref: string
  now: number
}

/** A task's details, editable, and its audit trail. */
export function TaskPanel({ dashboard, taskId, task, loaded, closeHref, now }: Props) {
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => heading.current?.focus(), [])
  return (
    <aside class="panel" aria-labelledby="panel-heading">
      <header class="panel-head">
        <h2 id="panel-heading" ref={heading} tabIndex={-1}>
          {task?.title ?? (loaded ? 'Deleted task' : 'Task')}
        </h2>
        <a href={closeHref} class="close" aria-label="Close the task panel">
          ×
        </a>
      </header>
      {task !== null && <TaskEditor dashboard={dashboard} task={task} />}
      <History dashboard={dashboard} taskId={taskId} version={task?.updated_at ?? null} now={now} />
    </aside>
  )
}

function TaskEditor({ dashboard, task }: { dashboard: Dashboard; task: Task }) {
  const [form, setForm] = useState(() => formOf(task))
  // The task the form started from: a change from elsewhere replaces an untouched form.
  const base = useRef(task)
  useEffect(() => {
    setForm((f) => (Object.keys(patchOf(base.current, f)).length === 0 ? formOf(task) : f))
    base.current = task
  }, [task])
  const patch = patchOf(task, form)
  const dirty = Object.keys(patch).length > 0

  const save = async (event: Event) => {
    event.preventDefault()
    await dashboard.updateTask(task, patch)
  }

  return (
    <form class="editor" onSubmit={save}>
      <label for="edit-title">Title</label>
      <input id="edit-title" value={form.title} onInput={(e) => setForm({ ...form, title: e.currentTarget.value })} />
      <label for="edit-description">Description</label>
      <textarea id="edit-description" rows={3} value={form.description} onInput={(e) => setForm({ ...form, description: e.currentTarget.value })} />
      <TaskFields idPrefix="edit" form={form} onChange={(p) => setForm({ ...form, ...p })} />
      <div class="actions">
        <button type="submit" disabled={!dirty}>
          Save
        </button>
        <button type="button" class="link" disabled={!dirty} onClick={() => setForm(formOf(task))}>
          Discard changes
        </button>
      </div>
    </form>
  )
}

interface HistoryProps {
  dashboard: Dashboard
  taskId: string
  /** Refetched whenever this changes: the task's `updated_at`, null once deleted. */
  version: string | null
  now: number
}

/** The audit trail as a timeline: what happened, when, and each field old → new. */
function History({ dashboard, taskId, version, now }: HistoryProps) {
  const [entries, setEntries] = useState<HistoryEntry[] | null | 'loading'>('loading')
  useEffect(() => {
    let current = true
    void dashboard.history(taskId).then((loaded) => current && setEntries(loaded))
    return () => {
      current = false
    }
  }, [dashboard, taskId, version])

  return (
    <section class="history" aria-labelledby="history-heading">
      <h3 id="history-heading">History</h3>
      {entries === 'loading' && <p class="placeholder">Loading…</p>}
      {entries === null && <p class="placeholder">The history could not be loaded.</p>}
      {Array.isArray(entries) && (
        <ol class="timeline">
          {entries.map((entry) => (
            <li key={entry.event_id} class={`event event-${entry.event_type.replace('task.', '')}`}>
              <div class="event-head">
                <strong>{eventLabel(entry.event_type)}</strong>{' '}
                <time dateTime={entry.occurred_at} title={formatDateTime(entry.occurred_at)}>
                  {relativeTime(entry.occurred_at, now)}
                </time>
              </div>
              <ul class="changes">
                {fieldDiffs(entry).map((diff) => (
                  <li key={diff.field}>
                    <span class="field">{diff.label}</span>{' '}
                    {diff.from !== null && <del>{diff.from}</del>}
                    {diff.from !== null && diff.to !== null && ' → '}
                    {diff.to !== null && <ins>{diff.to}</ins>}
                  </li>
                ))}
              </ul>
            </li>
          ))}
        </ol>
      )}
    </section>
  )
}
