import { describe, expect, it } from 'vitest'
import { appendPage, firstPage, hasMore, showing } from './paging'
import type { Paged } from './types'

interface Row {
  id: string
}

const rows = (...ids: string[]): Row[] => ids.map((id) => ({ id }))

function page(ids: string[], offset: number, total: number, limit = 3): Paged<Row> {
  return { items: rows(...ids), total, limit, offset, unreadable: [] }
}

describe('paging', () => {
  it('appends the next page and moves the offset by the rows received', () => {
    let state = firstPage(page(['f', 'e', 'd'], 0, 6))
    expect(state.nextOffset).toBe(3)
    expect(hasMore(state)).toBe(true)
    expect(showing(state, 'call')).toBe('Showing 3 of 6 calls')
    state = appendPage(state, page(['c', 'b', 'a'], 3, 6))
    expect(state.items.map((r) => r.id)).toEqual(['f', 'e', 'd', 'c', 'b', 'a'])
    expect(state.nextOffset).toBe(6)
    expect(hasMore(state)).toBe(false)
    expect(showing(state, 'call')).toBe('Showing 6 of 6 calls')
  })

  it('shows a row once when a new one arrived between pages and shifted the rest down', () => {
    const state = firstPage(page(['f', 'e', 'd'], 0, 6))
    // 'g' started meanwhile: offset 3 now starts at 'd', already shown.
    const next = appendPage(state, page(['d', 'c', 'b'], 3, 7))
    expect(next.items.map((r) => r.id)).toEqual(['f', 'e', 'd', 'c', 'b'])
    expect(next.total).toBe(7)
    expect(next.nextOffset).toBe(6) // forward by the page, so 'a' comes next and nothing is skipped
    expect(hasMore(next)).toBe(true)
    const last = appendPage(next, page(['a'], 6, 7))
    expect(last.items.map((r) => r.id)).toEqual(['f', 'e', 'd', 'c', 'b', 'a'])
    expect(hasMore(last)).toBe(false) // a short page is the end, whatever the total says
  })

  it('moves forward even when a whole page repeats rows already shown', () => {
    const state = firstPage(page(['f', 'e', 'd'], 0, 6))
    const next = appendPage(state, page(['f', 'e', 'd'], 3, 9))
    expect(next.items).toHaveLength(3)
    expect(next.nextOffset).toBe(6)
    expect(hasMore(next)).toBe(true)
  })

  it('ends on a short or empty page and on a total reached', () => {
    expect(hasMore(firstPage(page([], 0, 0)))).toBe(false)
    expect(hasMore(firstPage(page(['a', 'b'], 0, 5)))).toBe(false) // rows went away meanwhile
    expect(hasMore(firstPage(page(['a', 'b', 'c'], 0, 3)))).toBe(false)
    expect(hasMore(appendPage(firstPage(page(['c', 'b', 'a'], 0, 9)), page([], 3, 9)))).toBe(false)
  })

  it('counts a row the server could not list (it fails the contract) as sent', () => {
    const state = firstPage({ ...page(['f', 'e'], 0, 6), unreadable: ['x'] })
    expect(state.nextOffset).toBe(3) // 'x' held the third place of the page
    expect(hasMore(state)).toBe(true) // a full page, not a short one
    const next = appendPage(state, { ...page(['c'], 3, 6), unreadable: ['y', 'z'] })
    expect(next.items.map((r) => r.id)).toEqual(['f', 'e', 'c'])
    expect(next.nextOffset).toBe(6)
    expect(hasMore(next)).toBe(false)
  })

  it('says how many are shown of how many, in the right number', () => {
    expect(showing(firstPage(page(['a'], 0, 1)), 'call')).toBe('Showing 1 of 1 call')
    expect(showing(firstPage(page([], 0, 0)), 'call')).toBe('Showing 0 of 0 calls')
    expect(showing(firstPage({ ...page(['c', 'b', 'a'], 0, 1234) }), 'call')).toBe(`Showing 3 of ${(1234).toLocaleString()} calls`)
    // Rows counted after they were shown never read as more shown than there are.
    expect(showing(firstPage(page(['c', 'b', 'a'], 0, 2)), 'call')).toBe('Showing 3 of 3 calls')
  })
})
