import { describe, expect, it } from 'vitest'
import table from '../../../tests/support/slugs.json'
import { SLUG_MAX_LENGTH, slugFrom } from './slug'

describe('a name as a slug, as shared/naming.py slug_from makes it', () => {
  it.each(table.slugs)('$text', ({ text, slug }) => {
    expect(slugFrom(text)).toBe(slug)
  })

  it('never makes a slug longer than the platform allows', () => {
    for (const { slug } of table.slugs) expect((slug ?? '').length).toBeLessThanOrEqual(SLUG_MAX_LENGTH)
  })
})
