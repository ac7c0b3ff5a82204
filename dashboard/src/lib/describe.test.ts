import { describe, expect, it } from 'vitest'
import { agentTimeoutFailure, agentTimeoutMessage, describeApiError, describeCallError, describePageError, describeRoomMessage } from './describe'
import { ApiError, parseProblem } from './problem'

const problem = (status: number, code: string, detail: string, extra: Record<string, unknown> = {}) =>
  new ApiError(status, { type: `urn:voxie:problem:${code}`, title: 'x', status, detail, instance: '/api/x', request_id: 'req-1', ...extra })

describe('error mapping', () => {
  it('turns 429 into a sentence with the Retry-After as the countdown', () => {
    const capacity = describeApiError(new ApiError(429, parseProblem(JSON.stringify({ type: 'urn:voxie:problem:at-capacity', detail: 'all 2 agent places are taken' })), 30))
    expect(capacity.message).toMatch(/Every agent place/)
    expect(capacity.retryAfterS).toBe(30)
    expect(capacity.action).toBe('retry')
    expect(describeApiError(problem(429, 'rate-limited', 'at most 5')).message).toMatch(/faster than the platform allows/)
  })

  it('explains a stale version as changed elsewhere, with reload', () => {
    const stale = describeApiError(problem(409, 'conflict', 'agent is at version 4, not 3', { current_version: 4 }))
    expect(stale.message).toMatch(/changed elsewhere/)
    expect(stale.action).toBe('reload')
    expect(describeApiError(problem(409, 'conflict', "the slug 'x' is taken by another of your agents")).message).toBe(
      "The slug 'x' is taken by another of your agents",
    )
  })

  it('tells the operator that Voxie builds for users, not a bare "no access"', () => {
    const refused = describeApiError(problem(403, 'owner-required', 'Voxie builds agents for users'))
    expect(refused.message).toMatch(/Voxie builds agents for users/)
    expect(refused.message).toMatch(/New agent/)
  })

  it('says why an agent cannot run', () => {
    expect(describeApiError(problem(409, 'agent-archived', 'agent x is archived and cannot run')).message).toMatch(/archived/)
    expect(describeApiError(problem(409, 'agent-not-active', 'agent x is a draft')).message).toMatch(/still a draft/)
  })

  it('says why a publish was refused', () => {
    expect(describeApiError(problem(409, 'nothing-to-publish', 'nothing to publish: the draft is what version 2 runs', { published_version: 2 })).message).toBe(
      'Nothing to publish: the draft is the same as version 2, which calls already run.',
    )
    expect(describeApiError(problem(409, 'draft-invalid', 'the draft cannot be published: instructions: an active agent needs instructions')).message).toBe(
      'The draft cannot be published yet: instructions: an active agent needs instructions',
    )
    expect(describeApiError(problem(409, 'agent-not-published', 'agent x has no published version')).message).toMatch(/no published version/)
  })

  it('maps statuses without a known code', () => {
    expect(describeApiError(new ApiError(401, {})).action).toBe('sign-in')
    expect(describeApiError(new ApiError(404, { detail: 'no agent clarance; did you mean clarence?' })).message).toBe('No agent clarance; did you mean clarence?')
    expect(describeApiError(new ApiError(500, { request_id: 'abc' })).message).toMatch(/reference abc/)
    expect(describeApiError(problem(503, 'livekit-unavailable', 'x')).message).toMatch(/LiveKit/)
  })

  it('shows the room messages as the agents wrote them, with fallbacks per code', () => {
    expect(describeRoomMessage('spawner.error', '{"code": "agent_archived", "message": "This agent was archived and can no longer be run."}')).toBe(
      'This agent was archived and can no longer be run.',
    )
    expect(describeRoomMessage('spawner.error', '{"code": "no_model_configured", "message": ""}')).toMatch(/Restart the platform with OPENAI_API_KEY=… .*OPENAI_BASE_URL=…/)
    expect(describeRoomMessage('spawner.error', 'garbage')).toMatch(/could not be started/)
    expect(describeRoomMessage('platform.room_closed', '{"code": "closed_by_operator"}')).toMatch(/operator/)
  })

  it('maps microphone and LiveKit errors', () => {
    const denied = new DOMException('Permission denied', 'NotAllowedError')
    expect(describeCallError(denied).message).toMatch(/Microphone access was denied/)
    expect(describeCallError(new DOMException('x', 'NotFoundError')).message).toMatch(/No microphone/)
    const unreachable = Object.assign(new Error('could not establish signal connection'), { name: 'ConnectionError', reason: 1 })
    expect(describeCallError(unreachable).message).toMatch(/cannot be reached/)
    const refused = Object.assign(new Error('invalid token'), { name: 'ConnectionError', reason: 0 })
    expect(describeCallError(refused).message).toMatch(/join token was not accepted/)
    expect(describeCallError(new TypeError('Failed to fetch')).message).toMatch(/cannot be reached/)
    expect(describeCallError(problem(429, 'at-capacity', 'x')).retryAfterS).toBeNull()
  })

  it('says how long the agent was waited for', () => {
    expect(agentTimeoutMessage(45)).toMatch(/within 45 s/)
  })

  it('names busy or missing agent workers, at the spawn and when the agent never came', () => {
    const busy = describeApiError(new ApiError(503, parseProblem(JSON.stringify({ type: 'urn:voxie:problem:agent-workers-busy', detail: 'x' })), 3))
    expect(busy.message).toBe('All agent workers are busy — try again in a moment.')
    expect(busy.retryAfterS).toBe(3)
    expect(busy.action).toBe('retry')
    expect(describeApiError(problem(503, 'no-agent-worker', 'x')).message).toMatch(/^No agent worker is running/)
    const room = 'agent-5b1f9a4e-7c1d-4a53-9d0e-2f4b8c6d1e3a-abcd1234'
    const workers = { spawner: { alive: 1, available: 0 }, voxie: { alive: 0, available: 0 } }
    expect(agentTimeoutFailure(45, room, workers).message).toMatch(/^All agent workers are busy/)
    expect(agentTimeoutFailure(45, 'voxie-creation-abcd1234', workers).message).toMatch(/^No agent worker is running/)
    const healthy = { spawner: { alive: 1, available: 1 } }
    expect(agentTimeoutFailure(45, room, healthy).message).toBe(agentTimeoutMessage(45))
    expect(agentTimeoutFailure(45, room, null).message).toBe(agentTimeoutMessage(45))
  })

  it('tells a page whose code could not be downloaded from one that failed, both with reload', () => {
    for (const message of [
      'Failed to fetch dynamically imported module: http://127.0.0.1:8000/assets/CallsPage-x1.js',
      'error loading dynamically imported module: http://127.0.0.1:8000/assets/CallsPage-x1.js',
      'Importing a module script failed.',
      'Unable to preload CSS for /assets/CallsPage-x1.css',
    ]) {
      const failed = describePageError(new TypeError(message))
      expect(failed.message, message).toMatch(/could not be downloaded.*updated since this tab opened/)
      expect(failed.action).toBe('reload')
    }
    const broken = describePageError(new Error('x is undefined'))
    expect(broken.message).toBe('Something went wrong showing this page (x is undefined). Reload to try again.')
    expect(broken.action).toBe('reload')
    expect(describePageError('thrown text').message).toMatch(/\(thrown text\)/)
  })
})
