/**
 * Every failure the pages show, as a sentence a person understands: the API's problem
 * documents, what the room is told (`spawner.error`, `platform.room_closed`), LiveKit's
 * connection errors, the browser's microphone errors, and our own timeouts.
 */

import { ApiError } from './problem'
import { formatCountdown } from './retryAfter'

export interface Failure {
  /** The sentence shown. */
  message: string
  /** Seconds to wait before trying again (429/503 Retry-After): shown as a countdown. */
  retryAfterS: number | null
  /** What a "Try again" / "Reload" button should do, if anything makes sense. */
  action: 'retry' | 'reload' | 'sign-in' | null
}

function failure(message: string, action: Failure['action'] = null, retryAfterS: number | null = null): Failure {
  return { message, retryAfterS, action }
}

/** An answer of the API as a sentence; `retryAfterS` drives the countdown. */
export function describeApiError(error: ApiError): Failure {
  const wait = error.retryAfterS
  const detail = error.detail
  switch (error.code) {
    case 'rate-limited':
      return failure('You are starting calls faster than the platform allows. You can try again when the countdown ends.', 'retry', wait)
    case 'at-capacity':
      return failure('Every agent place on the platform is taken right now. You can try again when the countdown ends.', 'retry', wait)
    case 'agent-archived':
      return failure('This agent is archived, so it cannot take calls any more.')
    case 'agent-not-active':
      return failure('This agent is still a draft, so it takes no calls yet. Test its draft, or set its status to active.')
    case 'agent-not-published':
      return failure('This agent has no published version yet. Publish it (or test the draft) first.')
    case 'nothing-to-publish': {
      const live = error.problem.published_version
      return failure(`Nothing to publish: the draft is the same as ${typeof live === 'number' ? `version ${live}` : 'the live version'}, which calls already run.`)
    }
    case 'draft-invalid':
      return failure(`The draft cannot be published yet: ${detail.replace(/^the draft cannot be published: /, '') || 'it would not run.'}`)
    case 'agent-unreadable':
      return failure('This agent is stored in a form the platform cannot read; the operator has to repair or archive it.')
    case 'invalid-combination':
      return failure(`That change does not fit the agent's other fields: ${stripPrefix(detail)}`)
    case 'conflict':
      if (typeof error.problem.current_version === 'number') {
        return failure('This agent was changed elsewhere while you were editing. Reload to see the latest version, then make your change again.', 'reload')
      }
      return failure(capitalize(detail) || 'That conflicts with something that already exists.')
    case 'store-unavailable':
      return failure('The platform database is unavailable right now. Try again shortly.', 'retry', wait)
    case 'livekit-unavailable':
      return failure('The call service (LiveKit) cannot be reached right now. Try again shortly.', 'retry', wait)
    case 'agent-workers-busy':
      return failure(WORKERS_BUSY, 'retry', wait)
    case 'no-agent-worker':
      return failure(NO_WORKER, 'retry', wait)
    case 'livekit-not-configured':
      return failure('Calls are not set up on this platform: LiveKit is not configured.')
    case 'livekit-refused':
      return failure(`The call service (LiveKit) refused to open the room: ${detail}`, 'retry')
    case 'not-reconciler-leader':
      return failure('Another backend replica runs the clean-up passes; it will run one within its interval.')
    case 'owner-required':
      return failure('Voxie builds agents for users, and the operator account is not one. Sign in as the user the agent is for, or create it with New agent on the Agents page.')
    case 'not-ready':
      return failure('The platform is not ready yet. Try again shortly.', 'retry', wait)
  }
  switch (error.status) {
    case 401:
      return failure('Your session has ended. Please sign in again.', 'sign-in')
    case 403:
      return failure('Your account does not have access to this.')
    case 404:
      return failure(capitalize(detail) || 'That was not found. It may have been archived or removed.')
    case 409:
      return failure(capitalize(detail) || 'That conflicts with the current state; reload and try again.', 'reload')
    case 413:
      return failure('That is too large for the platform to accept.')
    case 400:
    case 422:
      return failure(`Some values were not accepted: ${detail || 'the request was invalid.'}`)
    case 429:
      return failure('Too many requests right now. You can try again when the countdown ends.', 'retry', wait)
  }
  if (error.status >= 500) {
    const id = error.requestId ? ` (reference ${error.requestId})` : ''
    return failure(`Something went wrong on the platform${id}. Try again; if it keeps happening, tell the operator.`, 'retry', wait)
  }
  return failure(capitalize(detail) || `The platform answered ${error.status}.`)
}

/** The server's lowercase reason as a sentence: capitalised, with a full stop. */
export function sentence(text: string): string {
  const trimmed = text.trim()
  return (trimmed.charAt(0).toUpperCase() + trimmed.slice(1)).replace(/([^.!?])$/, '$1.')
}

// 503s describeApiError has a sentence of its own for.
const KNOWN_UNAVAILABLE = new Set(['store-unavailable', 'not-ready'])

/** `error` in the server's own words when its status is one of `own` and it says something
 * (a 503 only when describeApiError has no sentence for it, such as a feature the operator has
 * not configured, whose detail names the setting); otherwise describeApiError's sentence. */
export function describeInServerWords(error: unknown, own: readonly number[]): Failure {
  if (!(error instanceof ApiError)) return describeCallError(error)
  const unknownOutage = error.status !== 503 || !KNOWN_UNAVAILABLE.has(error.code)
  if (own.includes(error.status) && error.detail && unknownOutage) {
    return { message: sentence(error.detail), retryAfterS: null, action: null }
  }
  return describeApiError(error)
}

function capitalize(text: string): string {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text
}

function stripPrefix(detail: string): string {
  return detail.replace(/^the change conflicts with the agent's current fields: /, '')
}

/** `spawner.error` codes (shared/contracts/room_messages.py SpawnerErrorCode). */
const SPAWNER_FALLBACKS: Record<string, string> = {
  agent_not_found: 'This agent no longer exists, so the call could not start.',
  agent_archived: 'This agent was archived and can no longer be run.',
  agent_not_active: 'This agent is not active yet, so it cannot take calls.',
  agent_not_published: 'This agent has no published version yet; publish it to take calls.',
  version_not_found: 'The agent version this call asked for does not exist.',
  invalid_config: "This agent's configuration is invalid, so it could not be started. Edit it and try again.",
  store_unavailable: "The platform database was unavailable, so the agent could not load. Try again shortly.",
  no_model_configured:
    'No voice model is configured on this platform (OPENAI_API_KEY is not set), so the agent cannot talk. Restart the platform with OPENAI_API_KEY=… (for an OpenAI-compatible server, also OPENAI_BASE_URL=…, with any key such as EMPTY), then try again.',
  model_unavailable: "The agent's AI model stopped answering, so the call ended. Try again shortly.",
  internal: 'The agent failed to start because of an internal error. Try again; if it keeps happening, tell the operator.',
}

/** What the room was told on `spawner.error` or `platform.room_closed` (each `{code, message}`):
 * the message is written for people, so it is shown as is; the code's sentence stands in when it
 * is missing. */
export function describeRoomMessage(topic: 'spawner.error' | 'platform.room_closed', payload: string): string {
  const { code, message } = readRoomMessage(payload)
  if (message) return message
  if (topic === 'platform.room_closed') {
    if (code === 'closed_by_operator') return 'This call was ended by the platform operator.'
    if (code === 'agent_unavailable') return 'No agent could be started for this call. Please try again in a minute.'
    return 'The platform closed this call.'
  }
  return SPAWNER_FALLBACKS[code] ?? 'The agent could not be started for this call.'
}

function readRoomMessage(payload: string): { code: string; message: string } {
  try {
    const value: unknown = JSON.parse(payload)
    if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>
      return {
        code: typeof record.code === 'string' ? record.code : '',
        message: typeof record.message === 'string' ? record.message.trim() : '',
      }
    }
  } catch {
    // an unreadable message still ends the call; it is said in general terms
  }
  return { code: '', message: '' }
}

/** `spawner.error` codes that calling again meets unchanged, until someone changes the agent.
 * A missing model is not one: the platform restarted with a key, the same call works, so its
 * notice says how to fix it and offers to try again. */
const AGENT_REFUSALS = new Set([
  'agent_not_found',
  'agent_archived',
  'agent_not_active',
  'agent_not_published',
  'version_not_found',
  'invalid_config',
])

/** A room message as the failure that ends the call: "Try again" only where retrying can help. */
export function roomMessageFailure(topic: 'spawner.error' | 'platform.room_closed', payload: string): Failure {
  const hopeless = topic === 'spawner.error' && AGENT_REFUSALS.has(readRoomMessage(payload).code)
  return failure(describeRoomMessage(topic, payload), hopeless ? null : 'retry')
}

export function agentTimeoutMessage(seconds: number): string {
  return `The agent did not join the call within ${formatCountdown(seconds)}. The platform may be busy; try again in a minute.`
}

// What the API says with `agent-workers-busy` and `no-agent-worker` (shared/contracts/workers.py).
const WORKERS_BUSY = 'All agent workers are busy — try again in a moment.'
const NO_WORKER = 'No agent worker is running, so nothing can take this call. Start one (scripts/start runs both), then try again.'

/** Live workers of one kind, as `GET /readyz` counts them from their heartbeats. */
export interface WorkerCount {
  alive: number
  available: number
}

/** The agent did not join: the workers' own account (`GET /readyz` `workers`) when it explains
 * why — none of the room's kind running, or every one full — else the generic timeout. */
export function agentTimeoutFailure(seconds: number, roomName: string, workers: Record<string, WorkerCount> | null | undefined): Failure {
  const kind = roomName.startsWith('voxie-creation-') ? 'voxie' : 'spawner'
  const count = workers?.[kind]
  if (count !== undefined && count.alive === 0) return failure(NO_WORKER, 'retry')
  if (count !== undefined && count.available === 0) return failure(WORKERS_BUSY, 'retry')
  return failure(agentTimeoutMessage(seconds), 'retry')
}

/** Errors thrown while connecting or opening the microphone (livekit-client and getUserMedia). */
export function describeCallError(error: unknown): Failure {
  if (error instanceof ApiError) return describeApiError(error)
  const name = error instanceof Error || isNamed(error) ? (error as { name: string }).name : ''
  const text = error instanceof Error ? error.message : String(error)
  switch (name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return failure('Microphone access was denied. Allow the microphone for this site in your browser settings, then try again.', 'retry')
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return failure('No microphone was found. Connect one and try again.', 'retry')
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return failure('The microphone could not be started; another application may be using it.', 'retry')
    case 'ConnectionError':
      return failure(connectionSentence(error), 'retry')
    case 'TimeoutError':
      return failure('The platform did not answer in time. Check your connection and try again.', 'retry')
  }
  if (error instanceof TypeError && /fetch|network/i.test(text)) {
    return failure('The platform cannot be reached. Check your connection and try again.', 'retry')
  }
  return failure(`The call failed: ${text || 'an unknown error'}.`, 'retry')
}

function isNamed(value: unknown): boolean {
  return value !== null && typeof value === 'object' && typeof (value as { name?: unknown }).name === 'string'
}

// livekit-client's ConnectionErrorReason: NotAllowed 0, ServerUnreachable 1, InternalError 2,
// Cancelled 3, LeaveRequest 4, Timeout 5, WebSocket 6, ServiceNotFound 7.
function connectionSentence(error: unknown): string {
  const reason = (error as { reason?: unknown }).reason
  switch (reason) {
    case 0:
      return 'The call service (LiveKit) refused the connection: the join token was not accepted. Start the call again.'
    case 3:
      return 'Connecting to the call was cancelled.'
    case 4:
      return 'The call service (LiveKit) ended the connection.'
    default:
      return 'The call service (LiveKit) cannot be reached, so the call could not connect. Try again shortly.'
  }
}

// What browsers throw when a lazily loaded page's file cannot be fetched: Chromium, Firefox,
// Safari; and Vite's preload helper when the page's CSS cannot be.
const PAGE_DOWNLOAD = /dynamically imported module|importing a module script failed|unable to preload/i

/** An error thrown while showing a page (its code failed to download, or it failed to render). */
export function describePageError(error: unknown): Failure {
  const text = error instanceof Error ? error.message : String(error)
  if (PAGE_DOWNLOAD.test(text)) {
    return failure(
      'This page could not be downloaded: the connection may have dropped, or the dashboard was updated since this tab opened. Reload to get the current version.',
      'reload',
    )
  }
  return failure(`Something went wrong showing this page (${text || 'an unknown error'}). Reload to try again.`, 'reload')
}
