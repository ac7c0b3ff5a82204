/**
 * A list read page by page ("Load more"): each next page is appended to what is shown, once per
 * id. Rows move between pages while a person reads (a list newest first puts an edited row back
 * on top; a new row pushes the others down), so the next page can repeat a row already shown:
 * it is shown once, in its first place, with the fresher copy.
 */

import type { Paged } from './types'

/** Anything listed by id. */
export interface Identified {
  id: string
}

/** `shown` followed by the rows of `next` not in it; a row in both keeps its place in `shown`
 * and takes `next`'s copy (the newer read). */
export function mergePages<T extends Identified>(shown: readonly T[], next: readonly T[]): T[] {
  const fresher = new Map(next.map((item) => [item.id, item]))
  const merged = shown.map((item) => fresher.get(item.id) ?? item)
  const seen = new Set(shown.map((item) => item.id))
  for (const item of next) {
    if (seen.has(item.id)) continue
    seen.add(item.id)
    merged.push(item)
  }
  return merged
}

/** The offset of the page after `page`. The API pages by stored rows, and a row that fails the
 * contract is counted but not listed, so this is the page's offset plus its limit, not the
 * number of rows shown. */
export function nextOffset(page: Pick<Paged<unknown>, 'offset' | 'limit'>): number {
  return page.offset + page.limit
}

/** Whether a page follows `page`. */
export function hasMore(page: Pick<Paged<unknown>, 'offset' | 'limit' | 'total'>): boolean {
  return nextOffset(page) < page.total
}

/** `shown` with the page after it appended: the rows merged by id, the paging (`offset`,
 * `limit`, `total`) that of `next`, so `hasMore` and `nextOffset` go on from it. */
export function appendPage<T extends Identified>(shown: Paged<T>, next: Paged<T>): Paged<T> {
  return {
    ...next,
    items: mergePages(shown.items, next.items),
    unreadable: [...new Set([...shown.unreadable, ...next.unreadable])],
  }
}
