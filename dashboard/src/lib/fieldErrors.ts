/**
 * The API refuses a body with 422 and a `detail` written by `shared.validation`:
 * `field.path: reason; other.path: reason` (a reason may itself contain "; ", as in
 * "unsupported voice 'x'; choose one of: …"). This splits it back into one message per form field
 * so the edit form can show each under its input.
 */

export interface FieldErrors {
  /** The first path segment (`tools.0.url` → `tools`) to its reasons, joined. */
  fields: Record<string, string>
  /** Reasons that name no field the form knows. */
  general: string[]
}

// A "; " starts a new error only when a `path: ` follows it (paths have no spaces).
const SEPARATOR = /; (?=[A-Za-z_][\w.\-[\]]*: )/

/** One error of a detail: its field path (`tools.0.http.url`), or null when it names none. */
export interface DetailPart {
  path: string | null
  reason: string
}

/** The detail's errors, in order. */
export function detailParts(detail: string): DetailPart[] {
  return detail
    .split(SEPARATOR)
    .filter((part) => part.trim())
    .map((part) => {
      const match = /^([A-Za-z_][\w.\-[\]]*): (.*)$/s.exec(part)
      return match?.[1] !== undefined && match[2] !== undefined ? { path: match[1], reason: match[2] } : { path: null, reason: part.trim() }
    })
}

export function splitFieldErrors(detail: string, known: readonly string[]): FieldErrors {
  const result: FieldErrors = { fields: {}, general: [] }
  for (const { path, reason } of detailParts(detail)) {
    const field = path?.split('.')[0]
    if (path !== null && field !== undefined && known.includes(field)) {
      const where = path === field ? '' : `${path.slice(field.length + 1)}: `
      const previous = result.fields[field]
      const message = `${where}${humanize(reason)}`
      result.fields[field] = previous ? `${previous}; ${message}` : message
    } else {
      result.general.push(path === null ? reason : `${path}: ${reason}`)
    }
  }
  return result
}

/** pydantic's wording where a person would not follow it ("String should match pattern '^…$'"). */
export function humanize(reason: string): string {
  if (/^String should match pattern/.test(reason)) return 'This is not in the expected format.'
  if (/^Input should be a valid URL/.test(reason)) return 'This is not a valid web address (https://…).'
  return reason.charAt(0).toUpperCase() + reason.slice(1)
}
