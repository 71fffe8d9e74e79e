import { browserTimeZone } from '../format'
import type { TaskForm } from '../form'
import type { Frequency, Priority } from '../types'

interface Props {
  form: TaskForm
  onChange(patch: Partial<TaskForm>): void
  /** Prefix for element ids, unique on the page. */
  idPrefix: string
}

/** Priority, tags, due date (in the browser's zone, which it names) and recurrence. */
export function TaskFields({ form, onChange, idPrefix }: Props) {
  const id = (name: string) => `${idPrefix}-${name}`
  return (
    <div class="fields">
      <label for={id('priority')}>Priority</label>
      <select id={id('priority')} value={form.priority} onChange={(e) => onChange({ priority: e.currentTarget.value as Priority })}>
        <option value="low">low</option>
        <option value="medium">medium</option>
        <option value="high">high</option>
      </select>

      <label for={id('tags')}>Tags</label>
      <input id={id('tags')} value={form.tags} placeholder="home, errands" onInput={(e) => onChange({ tags: e.currentTarget.value })} />

      <label for={id('due')}>Due</label>
      <span class="due-input">
        <input id={id('due')} type="datetime-local" value={form.due} onInput={(e) => onChange({ due: e.currentTarget.value })} />
        <small>{browserTimeZone()}</small>
      </span>

      <label for={id('repeat')}>Repeats</label>
      <span class="repeat-input">
        <select id={id('repeat')} value={form.frequency} onChange={(e) => onChange({ frequency: e.currentTarget.value as Frequency | '' })}>
          <option value="">never</option>
          <option value="daily">daily</option>
          <option value="weekly">weekly</option>
          <option value="monthly">monthly</option>
        </select>
        {form.frequency !== '' && (
          <label>
            every{' '}
            <input type="number" min={1} max={365} value={form.interval} onInput={(e) => onChange({ interval: e.currentTarget.value })} aria-label="Interval" />
          </label>
        )}
      </span>
    </div>
  )
}
