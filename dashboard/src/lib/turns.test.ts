import { describe, expect, it } from 'vitest'
import { formatLatency, responseText, turnRows, waitSummary } from './turns'
import type { CallFigures, CallTurn } from './types'

function turn(overrides: Partial<CallTurn>): CallTurn {
  return { turn: 1, item_id: null, spoken_at: '2026-11-21T09:00:14.210Z', latency_s: null, model_ttfa_s: null, interrupted: false, ...overrides }
}

const TRANSCRIPT = [
  { type: 'message', id: 'item_hi', role: 'assistant', content: ['Hi, this is Clarence from Coherence Dental. How can I help you today with your teeth?'] },
  { type: 'message', id: 'item_ask', role: 'user', content: ['When are you open?'] },
  { type: 'message', id: 'item_hours', role: 'assistant', content: ['We are open', 'from nine to five.'] },
]

describe('turn latency', () => {
  it('shows a wait under a second in milliseconds and longer ones in seconds', () => {
    expect(formatLatency(0.6352)).toBe('635 ms')
    expect(formatLatency(0.0004)).toBe('0 ms')
    expect(formatLatency(1.2349)).toBe('1.23 s')
    expect(formatLatency(null)).toBe('—')
    expect(formatLatency(-0.1)).toBe('—')
  })

  it('names each turn by its reply and says why a wait is missing', () => {
    const rows = turnRows(
      [
        turn({ turn: 1, item_id: 'item_hi', model_ttfa_s: 0.054 }),
        turn({ turn: 2, item_id: 'item_hours', latency_s: 0.635, model_ttfa_s: 0.614, interrupted: true }),
        turn({ turn: 3, item_id: 'item_gone', latency_s: 2 }),
      ],
      TRANSCRIPT,
    )
    expect(rows).toEqual([
      { turn: 1, said: 'Hi, this is Clarence from Coherence Dental. How can I help…', wait: 'Nothing from the caller before it', model: '54 ms', interrupted: false },
      { turn: 2, said: 'We are open from nine to five.', wait: '635 ms', model: '614 ms', interrupted: true },
      { turn: 3, said: '', wait: '2.00 s', model: '—', interrupted: false },
    ])
  })

  it('sums up the measured waits only', () => {
    expect(waitSummary([turn({ latency_s: 0.4 }), turn({}), turn({ latency_s: 1.5 })])).toEqual({ answered: 2, slowest: 1.5 })
    expect(waitSummary([turn({})])).toEqual({ answered: 0, slowest: null })
  })

  it('gives a group its turn latency percentiles, or a dash without measured turns', () => {
    const group = { turns: 12, p50_turn_latency_s: 0.74, p95_turn_latency_s: 1.31 } as CallFigures
    expect(responseText(group)).toBe('740 ms / 1.31 s')
    expect(responseText({ ...group, turns: 0, p50_turn_latency_s: null, p95_turn_latency_s: null })).toBe('—')
  })
})
