import { describe, expect, it } from 'vitest'
import { appendPage, hasMore, mergePages, nextOffset } from './pages'
import type { Paged } from './types'

interface Row {
  id: string
  name: string
}

const row = (id: string, name = id): Row => ({ id, name })
const page = (items: Row[], offset: number, total: number, limit = 2): Paged<Row> => ({ items, offset, limit, total, unreadable: [] })

describe('mergePages', () => {
  it('appends the next page after what is shown', () => {
    expect(mergePages([row('a'), row('b')], [row('c'), row('d')]).map((r) => r.id)).toEqual(['a', 'b', 'c', 'd'])
  })

  it('shows a row the next page repeats once, in its first place, with the fresher copy', () => {
    // `b` was pushed down a place by a new row between the two reads.
    const merged = mergePages([row('a'), row('b', 'old')], [row('b', 'new'), row('c')])
    expect(merged).toEqual([row('a'), row('b', 'new'), row('c')])
  })

  it('keeps one of a row the next page itself repeats, and leaves its inputs alone', () => {
    const shown = [row('a')]
    const next = [row('b'), row('b')]
    expect(mergePages(shown, next).map((r) => r.id)).toEqual(['a', 'b'])
    expect(shown).toEqual([row('a')])
  })

  it('merges into nothing and from nothing', () => {
    expect(mergePages([], [row('a')])).toEqual([row('a')])
    expect(mergePages([row('a')], [])).toEqual([row('a')])
  })
})

describe('paging', () => {
  it('goes on from the page offset plus its limit, counting rows the page could not list', () => {
    expect(nextOffset(page([row('a')], 50, 120, 50))).toBe(100)
    expect(hasMore(page([row('a')], 50, 120, 50))).toBe(true)
    expect(hasMore(page([row('a')], 100, 120, 50))).toBe(false)
    expect(hasMore(page([], 0, 0, 50))).toBe(false)
    expect(hasMore(page([row('a'), row('b')], 0, 2))).toBe(false)
  })

  it('appends a page: its rows merged, its paging taken, unreadable ids once', () => {
    const first = { ...page([row('a'), row('b')], 0, 5), unreadable: ['x'] }
    const second = { ...page([row('b'), row('c')], 2, 6), unreadable: ['x', 'y'] }
    const both = appendPage(first, second)
    expect(both.items.map((r) => r.id)).toEqual(['a', 'b', 'c'])
    expect([both.offset, both.limit, both.total, both.unreadable]).toEqual([2, 2, 6, ['x', 'y']])
    expect(hasMore(both)).toBe(true)
  })
})
