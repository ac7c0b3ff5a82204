/**
 * The API's errors: RFC 9457 problem documents (`application/problem+json`), e.g.
 *
 *     {"type": "urn:voxie:problem:stale-version", "title": "Conflict", "status": 409,
 *      "detail": "agent 3f2b… is at version 4, not 3", "instance": "/api/agents/3f2b…",
 *      "request_id": "f1c2…", "current_version": 4}
 *
 * `ApiError` carries the parsed document, the status and the Retry-After; `describe.ts` turns it
 * into a sentence.
 */

const TYPE_PREFIX = 'urn:voxie:problem:'

export interface ProblemDocument {
  type?: string
  title?: string
  status?: number
  detail?: string
  instance?: string
  request_id?: string | null
  current_version?: number
  [extension: string]: unknown
}

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly detail: string
  readonly retryAfterS: number | null
  readonly problem: ProblemDocument

  constructor(status: number, problem: ProblemDocument, retryAfterS: number | null = null) {
    const detail = typeof problem.detail === 'string' ? problem.detail : ''
    super(detail || `HTTP ${status}`)
    this.name = 'ApiError'
    this.status = status
    this.problem = problem
    this.detail = detail
    this.retryAfterS = retryAfterS
    this.code = problemCode(problem)
  }

  get requestId(): string | null {
    return typeof this.problem.request_id === 'string' ? this.problem.request_id : null
  }
}

/** `urn:voxie:problem:rate-limited` → `rate-limited`; an unknown type gives "". */
export function problemCode(problem: ProblemDocument): string {
  const type = typeof problem.type === 'string' ? problem.type : ''
  return type.startsWith(TYPE_PREFIX) ? type.slice(TYPE_PREFIX.length) : ''
}

/** A response body as a problem document, tolerating HTML error pages and empty bodies. */
export function parseProblem(text: string): ProblemDocument {
  if (!text) return {}
  try {
    const value: unknown = JSON.parse(text)
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as ProblemDocument)
      : {}
  } catch {
    return {}
  }
}
