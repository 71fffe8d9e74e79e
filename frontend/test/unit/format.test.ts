import { describe, expect, it } from 'vitest'
import { eventLabel, fieldDiffs, formatDateTime, formatRecurrence, relativeTime } from '../../src/format'
import type { HistoryEntry } from '../../src/types'

const NOW = Date.parse('2026-11-26T12:00:00Z')
const BERLIN = { locale: 'en-US', timeZone: 'Europe/Berlin' }

describe('relativeTime', () => {
  it.each([
    ['2026-11-26T11:59:30Z', 'now'],
    ['2026-11-26T11:55:00Z', '5 minutes ago'],
    ['2026-11-26T14:00:00Z', 'in 2 hours'],
    ['2026-11-25T12:00:00Z', 'yesterday'],
    ['2026-12-10T12:00:00Z', 'in 2 weeks'],
    ['2026-08-26T12:00:00Z', '3 months ago'],
    ['2024-11-26T12:00:00Z', '2 years ago'],
  ])('%s is %s', (iso, text) => {
    expect(relativeTime(iso, NOW, 'en-US')).toBe(text)
  })
})

describe('dates and recurrence', () => {
  it('shows a due date in the given zone and names the zone', () => {
    expect(formatDateTime('2026-12-01T08:00:00.000000Z', BERLIN)).toBe('Tue, Dec 1, 2026, 09:00 AM GMT+1')
    expect(formatDateTime('2026-07-01T08:00:00.000000Z', { locale: 'en-US', timeZone: 'America/New_York' })).toBe(
      'Wed, Jul 1, 2026, 04:00 AM EDT',
    )
  })

  it('words the recurrence pattern', () => {
    expect(formatRecurrence({ frequency: 'weekly', interval: 1 })).toBe('every week')
    expect(formatRecurrence({ frequency: 'daily', interval: 3 })).toBe('every 3 days')
    expect(formatRecurrence({ frequency: 'monthly', interval: 2 })).toBe('every 2 months')
  })
})

describe('history', () => {
  const entry = (event_type: string, changed_fields: HistoryEntry['changed_fields']): HistoryEntry => ({
    event_id: 'e',
    event_type,
    changed_fields,
    snapshot: null,
    occurred_at: '2026-11-26T12:00:00.000000Z',
  })

  it('shows each changed field old → new, title first', () => {
    const diffs = fieldDiffs(
      entry('task.updated', {
        tags: { old: ['home'], new: ['home', 'shop'] },
        title: { old: 'Buy milk', new: 'Buy oat milk' },
        due_date: { old: null, new: '2026-12-01T08:00:00.000000Z' },
        recurrence_pattern: { old: { frequency: 'weekly', interval: 1 }, new: null },
      }),
      BERLIN,
    )
    expect(diffs).toEqual([
      { field: 'title', label: 'title', from: '“Buy milk”', to: '“Buy oat milk”' },
      { field: 'tags', label: 'tags', from: 'home', to: 'home, shop' },
      { field: 'due_date', label: 'due date', from: 'none', to: 'Tue, Dec 1, 2026, 09:00 AM GMT+1' },
      { field: 'recurrence_pattern', label: 'repeats', from: 'every week', to: 'none' },
    ])
  })

  it('shows only the new values of a creation and the old ones of a deletion', () => {
    expect(fieldDiffs(entry('task.created', { completed: { old: null, new: false }, priority: { old: null, new: 'high' } }))).toEqual([
      { field: 'completed', label: 'completed', from: null, to: 'not done' },
      { field: 'priority', label: 'priority', from: null, to: 'high' },
    ])
    expect(fieldDiffs(entry('task.deleted', { tags: { old: [], new: null } }))).toEqual([{ field: 'tags', label: 'tags', from: 'none', to: null }])
  })

  it('names the event types', () => {
    expect(['task.created', 'task.updated', 'task.completed', 'task.deleted', 'task.other'].map(eventLabel)).toEqual([
      'Created',
      'Updated',
      'Completed',
      'Deleted',
      'task.other',
    ])
  })
})
