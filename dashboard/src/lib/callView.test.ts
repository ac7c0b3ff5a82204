import { describe, expect, it } from 'vitest'
import { callView } from './callView'
import { describeApiError, roomMessageFailure, type Failure } from './describe'
import { ApiError, parseProblem } from './problem'

const refusal = (status: number, code: string, retryAfterS: number | null = null): Failure =>
  describeApiError(new ApiError(status, parseProblem(JSON.stringify({ type: `urn:voxie:problem:${code}`, detail: 'x' })), retryAfterS))

describe('callView', () => {
  it('shows only the refusal for a call refused before it had a room', () => {
    const archived = refusal(409, 'agent-archived')
    expect(callView('failed', archived, 'requesting')).toEqual({ panel: false, start: null })
    expect(archived.action).toBeNull() // no "Try again" either: the agent stays archived
    const full = refusal(429, 'at-capacity', 30)
    expect(callView('failed', full, 'requesting')).toEqual({ panel: false, start: null })
    expect(full.action).toBe('retry') // the notice's "Try again" after the countdown
  })

  it('keeps the panel (and what was said) for a call that failed once it had a room', () => {
    const failure: Failure = { message: 'gone', retryAfterS: null, action: 'retry' }
    expect(callView('failed', failure, 'live')).toEqual({ panel: true, start: null })
    expect(callView('failed', failure, 'waiting-for-agent').panel).toBe(true)
  })

  it('offers the first call, then calling again after one ended', () => {
    expect(callView('idle', null, null)).toEqual({ panel: true, start: 'first' })
    expect(callView('ended', null, null)).toEqual({ panel: true, start: 'again' })
    expect(callView('live', null, null).start).toBeNull()
  })
})

describe('roomMessageFailure', () => {
  it('offers no retry when the agent is the reason', () => {
    const hopeless = ['agent_archived', 'agent_not_found', 'agent_not_active', 'agent_not_published', 'version_not_found', 'invalid_config']
    for (const code of hopeless) {
      expect(roomMessageFailure('spawner.error', JSON.stringify({ code, message: '' })).action).toBeNull()
    }
  })

  it('says how to fix a missing model, and offers to try again once it is', () => {
    const told = roomMessageFailure('spawner.error', JSON.stringify({ code: 'no_model_configured', message: 'No voice model. Restart the platform with OPENAI_API_KEY=…' }))
    expect(told).toMatchObject({ action: 'retry', message: expect.stringMatching(/OPENAI_API_KEY=…/) as unknown })
  })

  it('offers a retry for a passing trouble', () => {
    expect(roomMessageFailure('spawner.error', '{"code": "store_unavailable", "message": ""}').action).toBe('retry')
    expect(roomMessageFailure('spawner.error', 'garbage').action).toBe('retry')
    expect(roomMessageFailure('platform.room_closed', '{"code": "agent_unavailable"}')).toMatchObject({
      action: 'retry',
      message: expect.stringMatching(/No agent could be started/) as unknown,
    })
  })
})
