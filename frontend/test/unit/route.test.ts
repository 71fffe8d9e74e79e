import { describe, expect, it } from 'vitest'
import { applyFilter, parseRoute, routeHref } from '../../src/route'
import { editOutcome, itemsLeft, titleToAdd } from '../../src/todo'
import { task } from './fixtures'

describe('URL state', () => {
  it('reads the TodoMVC filter routes and the open task', () => {
    expect(parseRoute('')).toEqual({ filter: 'all', taskId: null })
    expect(parseRoute('#/')).toEqual({ filter: 'all', taskId: null })
    expect(parseRoute('#/active')).toEqual({ filter: 'active', taskId: null })
    expect(parseRoute('#/completed/?task=5b0c')).toEqual({ filter: 'completed', taskId: '5b0c' })
    expect(parseRoute('#/nonsense?task=')).toEqual({ filter: 'all', taskId: null })
  })

  it('writes what it reads', () => {
    for (const route of [
      { filter: 'all', taskId: null },
      { filter: 'active', taskId: 'a b' },
      { filter: 'completed', taskId: null },
    ] as const) {
      expect(parseRoute(routeHref(route))).toEqual(route)
    }
    expect(routeHref({ filter: 'all', taskId: null })).toBe('#/')
    expect(routeHref({ filter: 'active', taskId: 'x' })).toBe('#/active?task=x')
  })

  it('filters', () => {
    const tasks = [task({ id: 'a' }), task({ id: 'b', completed: true })]
    expect(applyFilter(tasks, 'all')).toBe(tasks)
    expect(applyFilter(tasks, 'active').map((t) => t.id)).toEqual(['a'])
    expect(applyFilter(tasks, 'completed').map((t) => t.id)).toEqual(['b'])
  })
})

describe('TodoMVC rules', () => {
  it('adds the trimmed title and ignores a blank one', () => {
    expect(titleToAdd('  Buy milk \t')).toBe('Buy milk')
    expect(titleToAdd('   ')).toBeNull()
  })

  it('renames on a changed title, keeps an unchanged one, deletes on a blank one', () => {
    expect(editOutcome('Buy milk', ' Buy oat milk ')).toEqual({ kind: 'rename', title: 'Buy oat milk' })
    expect(editOutcome('Buy milk', 'Buy milk  ')).toEqual({ kind: 'keep' })
    expect(editOutcome('Buy milk', '  ')).toEqual({ kind: 'delete' })
  })

  it('counts the items left', () => {
    expect(itemsLeft([])).toBe('0 items left')
    expect(itemsLeft([task(), task({ completed: true })])).toBe('1 item left')
    expect(itemsLeft([task(), task()])).toBe('2 items left')
  })
})
