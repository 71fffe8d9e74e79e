import { useState } from 'preact/hooks'
import { EMPTY_FORM, inputOf } from '../form'
import type { Dashboard } from '../store'
import { titleToAdd } from '../todo'
import { TaskFields } from './TaskFields'

/** The TodoMVC new-task field (Enter adds), with optional details for the next task. */
export function NewTask({ dashboard }: { dashboard: Dashboard }) {
  const [form, setForm] = useState(EMPTY_FORM)
  const [showDetails, setShowDetails] = useState(false)

  const add = async (event: KeyboardEvent) => {
    if (event.key !== 'Enter' || event.isComposing) return
    const title = titleToAdd(form.title)
    if (title === null) return
    // Clear at once so the next task can be typed while this one is saved.
    setForm((f) => ({ ...f, title: '' }))
    if (await dashboard.addTask({ ...inputOf(form), title })) {
      setForm((f) => ({ ...EMPTY_FORM, title: f.title }))
    } else {
      setForm((f) => (f.title === '' ? { ...f, title } : f)) // give it back to fix
    }
  }

  return (
    <header class="new-task">
      <input
        class="new-todo"
        placeholder="What needs to be done?"
        aria-label="New task"
        value={form.title}
        onInput={(e) => setForm((f) => ({ ...f, title: e.currentTarget.value }))}
        onKeyDown={add}
        autoFocus
      />
      <button type="button" class="link" aria-expanded={showDetails} aria-controls="new-task-details" onClick={() => setShowDetails(!showDetails)}>
        {showDetails ? 'Hide details' : 'Details'}
      </button>
      {showDetails && (
        <div id="new-task-details">
          <TaskFields idPrefix="new" form={form} onChange={(patch) => setForm((f) => ({ ...f, ...patch }))} />
        </div>
      )}
    </header>
  )
}
