// Text for people: relative times, dates in the browser's time zone,
// recurrence patterns and audit-trail changes.

import type { HistoryEntry, Recurrence } from './types'

/** Defaults to the browser's own locale and time zone; tests pin both. */
export interface LocaleOptions {
  locale?: string
  timeZone?: string
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86_400],
  ['month', 30 * 86_400],
  ['week', 7 * 86_400],
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
]

/** "now", "5 minutes ago", "in 2 hours", "yesterday". */
export function relativeTime(iso: string, now: number, locale?: string): string {
  const seconds = (Date.parse(iso) - now) / 1000
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' })
  const unit = UNITS.find(([, size]) => Math.abs(seconds) >= size)
  if (unit === undefined) return format.format(0, 'second')
  const [name, size] = unit
  return format.format(Math.sign(seconds) * Math.round(Math.abs(seconds) / size), name)
}

/** "Tue, Dec 1, 2026, 09:00 AM GMT+1": in the browser's zone, which it names. */
export function formatDateTime(iso: string, { locale, timeZone }: LocaleOptions = {}): string {
  return new Intl.DateTimeFormat(locale, {
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone,
    timeZoneName: 'short',
  }).format(new Date(iso))
}

/** The browser's IANA time zone, e.g. "Europe/Berlin". */
export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone
}

const FREQUENCY_UNITS = { daily: 'day', weekly: 'week', monthly: 'month' } as const

/** "every week", "every 3 days". */
export function formatRecurrence({ frequency, interval }: Recurrence): string {
  const unit = FREQUENCY_UNITS[frequency]
  return interval === 1 ? `every ${unit}` : `every ${interval} ${unit}s`
}

const EVENT_LABELS: Record<string, string> = {
  'task.created': 'Created',
  'task.updated': 'Updated',
  'task.completed': 'Completed',
  'task.deleted': 'Deleted',
}

export function eventLabel(eventType: string): string {
  return EVENT_LABELS[eventType] ?? eventType
}

const FIELD_ORDER = ['title', 'completed', 'priority', 'tags', 'due_date', 'recurrence_pattern', 'description', 'parent_task_id']
const FIELD_LABELS: Record<string, string> = {
  due_date: 'due date',
  recurrence_pattern: 'repeats',
  parent_task_id: 'repeat of',
}

/** One changed field as text; `from` is null for a creation and `to` for a deletion. */
export interface FieldDiff {
  field: string
  label: string
  from: string | null
  to: string | null
}

/** An audit row's changed fields, in a fixed order (title first), as text. */
export function fieldDiffs(entry: HistoryEntry, options: LocaleOptions = {}): FieldDiff[] {
  const rank = (field: string) => {
    const i = FIELD_ORDER.indexOf(field)
    return i < 0 ? FIELD_ORDER.length : i
  }
  return Object.entries(entry.changed_fields)
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([field, change]) => ({
      field,
      label: FIELD_LABELS[field] ?? field,
      from: entry.event_type === 'task.created' ? null : formatValue(field, change.old, options),
      to: entry.event_type === 'task.deleted' ? null : formatValue(field, change.new, options),
    }))
}

export function formatValue(field: string, value: unknown, options: LocaleOptions = {}): string {
  if (value === null || value === undefined) return 'none'
  switch (field) {
    case 'completed':
      return value === true ? 'done' : 'not done'
    case 'tags':
      return Array.isArray(value) && value.length > 0 ? value.join(', ') : 'none'
    case 'due_date':
      return typeof value === 'string' ? formatDateTime(value, options) : JSON.stringify(value)
    case 'recurrence_pattern':
      return formatRecurrence(value as Recurrence)
    case 'title':
    case 'description':
      return `“${String(value)}”`
    default:
      return typeof value === 'string' ? value : JSON.stringify(value)
  }
}
