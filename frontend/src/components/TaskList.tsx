import { useEffect, useRef, useState } from 'preact/hooks'
import { formatDateTime, formatRecurrence, relativeTime } from '../format'
import { applyFilter, FILTERS, routeHref, type Route } from '../route'
import type { Dashboard, State } from '../store'
import { editOutcome, itemsLeft } from '../todo'
import type { Task } from '../types'

interface ListProps {
  dashboard: Dashboard
  state: State
  route: Route
  now: number
}

/** The filtered list and the TodoMVC footer: items left and the filters. */
export function TaskList({ dashboard, state, route, now }: ListProps) {
  if (!state.loaded) return <p class="placeholder">Loading…</p>
  const shown = applyFilter(state.tasks, route.filter)
  return (
    <>
      <ul class="todo-list">
        {shown.map((task) => (
          <TaskItem key={task.id} dashboard={dashboard} task={task} route={route} now={now} />
        ))}
      </ul>
      {state.tasks.length === 0 && <p class="placeholder">Nothing to do yet.</p>}
      {state.tasks.length > 0 && (
        <footer class="footer">
          <span class="todo-count">{itemsLeft(state.tasks)}</span>
          <nav aria-label="Filter">
            <ul class="filters">
              {FILTERS.map((filter) => (
                <li key={filter}>
                  <a href={routeHref({ ...route, filter })} class={filter === route.filter ? 'selected' : undefined} aria-current={filter === route.filter ? 'page' : undefined}>
                    {filter[0].toUpperCase() + filter.slice(1)}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        </footer>
      )}
    </>
  )
}

interface ItemProps {
  dashboard: Dashboard
  task: Task
  route: Route
  now: number
}

/** A task: toggle, title (double-click or Enter to edit), details, delete. */
function TaskItem({ dashboard, task, route, now }: ItemProps) {
  const [draft, setDraft] = useState<string | null>(null)
  // Also read synchronously: Enter or Escape end the edit before the field's blur.
  const editing = useRef(false)
  const field = useRef<HTMLInputElement>(null)
  useEffect(() => field.current?.focus(), [draft !== null])

  const edit = () => {
    editing.current = true
    setDraft(task.title)
  }
  const stop = () => {
    editing.current = false
    setDraft(null)
  }
  const finish = async () => {
    if (!editing.current || draft === null) return
    stop()
    const outcome = editOutcome(task.title, draft)
    if (outcome.kind === 'delete') await dashboard.deleteTask(task)
    if (outcome.kind === 'rename') await dashboard.updateTask(task, { title: outcome.title })
  }
  const overdue = !task.completed && task.due_date !== null && Date.parse(task.due_date) < now
  const classes = [task.completed && 'completed', draft !== null && 'editing', overdue && 'overdue'].filter(Boolean).join(' ')

  return (
    <li class={classes} data-task-id={task.id}>
      {draft !== null ? (
        <input
          ref={field}
          class="edit"
          aria-label={`Edit “${task.title}”`}
          value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') void finish()
            if (e.key === 'Escape') stop()
          }}
          onBlur={() => void finish()}
        />
      ) : (
        <div class="view">
          <input
            class="toggle"
            type="checkbox"
            checked={task.completed}
            onChange={() => void dashboard.toggle(task)}
            aria-label={`Done: ${task.title}`}
          />
          <div class="body">
            <label
              class="title"
              tabIndex={0}
              title="Double-click or press Enter to edit"
              onDblClick={edit}
              onKeyDown={(e) => e.key === 'Enter' && edit()}
            >
              {task.title}
            </label>
            <TaskMeta task={task} now={now} />
          </div>
          <a class="details-link" href={routeHref({ ...route, taskId: task.id })} aria-label={`Details and history of “${task.title}”`}>
            History
          </a>
          <button type="button" class="destroy" aria-label={`Delete “${task.title}”`} onClick={() => void dashboard.deleteTask(task)}>
            ×
          </button>
        </div>
      )}
    </li>
  )
}

/** Priority, tags, due date and recurrence, where set. */
function TaskMeta({ task, now }: { task: Task; now: number }) {
  return (
    <div class="meta">
      <span class={`priority priority-${task.priority}`}>{task.priority}</span>
      {task.tags.map((tag) => (
        <span key={tag} class="tag">
          #{tag}
        </span>
      ))}
      {task.due_date !== null && (
        <time class="due" dateTime={task.due_date} title={relativeTime(task.due_date, now)}>
          due {formatDateTime(task.due_date)}
        </time>
      )}
      {task.recurrence_pattern !== null && <span class="repeat">↻ {formatRecurrence(task.recurrence_pattern)}</span>}
    </div>
  )
}
