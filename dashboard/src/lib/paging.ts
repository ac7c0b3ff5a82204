/**
 * A list the API pages (`limit`/`offset`, newest first) loaded a page at a time and shown as one:
 * "Showing N of TOTAL" and "Load more".
 *
 * Between two pages new rows can arrive at the top (a call starts), shifting every older row one
 * place down: the next page then repeats the last rows already shown. So the next offset counts
 * the rows the server sent (never a gap, and every page moves it forward), and a page is merged
 * by id (no row shown twice). A row the server could not read (`unreadable`: it fails the
 * contract) took its place in the page without being listed, so it counts as sent.
 */

import type { Paged } from './types'

export interface Paging<T> {
  items: T[]
  /** How many rows match, as the newest page said. */
  total: number
  /** Where the next page starts: the rows received so far, repeats included. */
  nextOffset: number
  /** A page came back short: the server has nothing past it, whatever `total` said. */
  ended: boolean
}

/** The rows the server sent for `page`: those listed and those it could not list. */
function sent(page: Paged<unknown>): number {
  return page.items.length + (page.unreadable ?? []).length
}

export function firstPage<T>(page: Paged<T>): Paging<T> {
  return { items: page.items, total: page.total, nextOffset: page.offset + sent(page), ended: sent(page) < page.limit }
}

/** `state` with `page` appended: its rows not already shown, in the server's order. */
export function appendPage<T extends { id: string }>(state: Paging<T>, page: Paged<T>): Paging<T> {
  const shown = new Set(state.items.map((item) => item.id))
  const fresh = page.items.filter((item) => !shown.has(item.id))
  return {
    items: [...state.items, ...fresh],
    total: page.total,
    nextOffset: Math.max(state.nextOffset, page.offset + sent(page)),
    ended: sent(page) < page.limit,
  }
}

/** Whether a "Load more" can bring more rows. */
export function hasMore(state: Paging<unknown>): boolean {
  return !state.ended && state.nextOffset < state.total
}

/** "Showing 50 of 1,234 calls". */
export function showing(state: Paging<unknown>, noun: string, nouns: string = `${noun}s`): string {
  // Rows that arrived after the newest page was counted are shown, so never "51 of 50".
  const total = Math.max(state.total, state.items.length)
  return `Showing ${state.items.length.toLocaleString()} of ${total.toLocaleString()} ${total === 1 ? noun : nouns}`
}
