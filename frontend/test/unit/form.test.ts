import { describe, expect, it } from 'vitest'
import { EMPTY_FORM, formOf, fromLocalInput, inputOf, parseTags, patchOf, toLocalInput } from '../../src/form'
import { task } from './fixtures'

describe('task form', () => {
  it('reads tags as a trimmed, de-duplicated list', () => {
    expect(parseTags(' home, shop,, home ,')).toEqual(['home', 'shop'])
    expect(parseTags('')).toEqual([])
  })

  it('converts between the datetime-local value (browser zone) and UTC', () => {
    const utc = fromLocalInput('2026-12-01T09:30')
    expect(utc).toMatch(/^2026-1[12]-\d\dT\d\d:30:00\.000Z$/)
    expect(toLocalInput(utc)).toBe('2026-12-01T09:30')
    expect(fromLocalInput('')).toBeNull()
    expect(toLocalInput(null)).toBe('')
  })

  it('makes a create body of every field', () => {
    const form = { ...EMPTY_FORM, title: ' Pay rent ', tags: 'home', due: '2026-12-01T09:00', frequency: 'monthly' as const, interval: '1' }
    expect(inputOf(form)).toEqual({
      title: 'Pay rent',
      description: null,
      priority: 'medium',
      tags: ['home'],
      due_date: fromLocalInput('2026-12-01T09:00'),
      recurrence_pattern: { frequency: 'monthly', interval: 1 },
    })
  })

  it('patches only what changed, with null to clear', () => {
    const t = task({ due_date: '2026-12-01T08:00:30.000000Z', recurrence_pattern: { frequency: 'weekly', interval: 1 }, tags: ['home'] })
    expect(patchOf(t, formOf(t))).toEqual({})
    expect(patchOf(t, { ...formOf(t), priority: 'high', due: '', frequency: '', tags: 'home, garden' })).toEqual({
      priority: 'high',
      tags: ['home', 'garden'],
      due_date: null,
      recurrence_pattern: null,
    })
  })
})
