/**
 * The one way the pages call the API: same origin, `Authorization: Bearer <token>` on every
 * call, a deadline on every call, and every non-2xx answer thrown as an `ApiError` (the problem
 * document, the status, the Retry-After). A 401 tells the auth layer, which signs out.
 */

import { ApiError, parseProblem } from './problem'
import { parseRetryAfter } from './retryAfter'

export const API_TIMEOUT_MS = 15_000

interface ApiHooks {
  getToken: () => Promise<string | null>
  onUnauthorized: () => void
}

let hooks: ApiHooks = { getToken: async () => null, onUnauthorized: () => {} }

export function configureApi(next: ApiHooks): void {
  hooks = next
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  body?: unknown
  signal?: AbortSignal
  /** Send no token (public endpoints). */
  anonymous?: boolean
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (!options.anonymous) {
    const token = await hooks.getToken()
    if (token) headers.Authorization = `Bearer ${token}`
  }
  if (options.body !== undefined) headers['Content-Type'] = 'application/json'
  const deadline = AbortSignal.timeout(API_TIMEOUT_MS)
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline
  const response = await fetch(path, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal,
  })
  const text = await response.text()
  if (!response.ok) {
    const error = new ApiError(response.status, parseProblem(text), parseRetryAfter(response.headers.get('Retry-After')))
    if (response.status === 401 && !options.anonymous) hooks.onUnauthorized()
    throw error
  }
  return (text ? JSON.parse(text) : null) as T
}

export const api = {
  get: <T>(path: string, signal?: AbortSignal) => request<T>(path, { signal }),
  post: <T>(path: string, body?: unknown) => request<T>(path, { method: 'POST', body: body ?? {} }),
  patch: <T>(path: string, body: unknown) => request<T>(path, { method: 'PATCH', body }),
  delete: <T>(path: string) => request<T>(path, { method: 'DELETE' }),
}

export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(key, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}
