/**
 * A name as a slug, the way the platform derives one (shared/naming.py `slug_from`): accents
 * folded to ASCII, every run of other characters one hyphen, at most 63 characters. The New
 * agent form fills its slug from the name with it; the server still checks what is sent.
 * Both spellings are held to one table, tests/support/slugs.json.
 */

export const SLUG_MAX_LENGTH = 63

/** `Clarence Coherence`, `clarence_coherence`, ` Café--Olé ` → `clarence-coherence`, `cafe-ole`. */
export function normalizeSlug(raw: string): string {
  // NFKD splits accents (and compatibility forms: ﬁ → fi) off their letters; what is still not
  // ASCII is dropped, as Python's encode('ascii', 'ignore') does.
  const ascii = raw.normalize('NFKD').replace(/[^\p{ASCII}]/gu, '')
  return ascii.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '')
}

/** The slug for `raw`, or null where the platform refuses one: nothing left, or a slug the API
 * would read as an agent id (32 hex digits, hyphens anywhere). */
export function slugFrom(raw: string): string | null {
  const slug = normalizeSlug(raw).slice(0, SLUG_MAX_LENGTH).replace(/-+$/, '')
  if (!slug || /^[0-9a-f]{32}$/.test(slug.replace(/-/g, ''))) return null
  return slug
}
