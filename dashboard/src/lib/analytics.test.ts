import { describe, expect, it } from 'vitest'
import { analyticsQuery, answeredDays, chartLayout, costText, groupLabel, labelEvery, niceCeiling, parseWindow, ticks, tokensText } from './analytics'
import type { CallFigures } from './types'

function figures(overrides: Partial<CallFigures>): CallFigures {
  return {
    key: '1', version: 1, day: null, calls: 0, completed: 0, errored: 0, abandoned: 0, active: 0, grace_expiries: 0,
    median_duration_s: null, p90_duration_s: null, tool_calls: 0, tool_errors: 0, tool_error_rate: null,
    turns: 0, p50_turn_latency_s: null, p95_turn_latency_s: null, tokens: [], cost_usd: null,
    ...overrides,
  }
}

describe('analytics', () => {
  it('rounds the axis up to 1, 2 or 5 times a power of ten', () => {
    expect(niceCeiling(0)).toBe(1)
    expect(niceCeiling(3)).toBe(5)
    expect(niceCeiling(7)).toBe(10)
    expect(niceCeiling(120)).toBe(200)
    expect(niceCeiling(200)).toBe(200)
    expect(ticks(10)).toEqual([0, 5, 10])
    expect(ticks(200)).toEqual([0, 50, 100, 150, 200])
    expect(ticks(1)).toEqual([0, 1])
  })

  it('stacks each group’s outcomes from the bottom, scaled to the top', () => {
    const layout = chartLayout(
      [figures({ calls: 10, completed: 6, errored: 1, abandoned: 2, active: 1 }), figures({ key: 'draft', version: null, calls: 5, completed: 5 })],
      'version',
      200,
      100,
    )
    expect(layout.top).toBe(10)
    expect(layout.ticks).toEqual([{ value: 0, y: 100 }, { value: 5, y: 50 }, { value: 10, y: 0 }])
    const [first, second] = layout.bars
    if (!first || !second) throw new Error('two bars expected')
    expect(first.label).toBe('v1')
    expect(first.segments.map((s) => [s.outcome, s.count, s.y, s.height])).toEqual([
      ['completed', 6, 40, 60],
      ['errored', 1, 30, 10],
      ['abandoned', 2, 10, 20],
      ['other', 1, 0, 10],
    ])
    expect(second.label).toBe('Draft')
    expect(second.segments).toEqual([{ outcome: 'completed', count: 5, y: 50, height: 50 }])
    expect(second.x).toBeGreaterThan(first.x + first.width)
    expect(chartLayout([], 'day', 200, 100).bars).toEqual([])
  })

  it('labels days and writes tokens and cost', () => {
    expect(groupLabel(figures({ key: '2026-11-30', version: null, day: '2026-11-30' }), 'day')).toBe('2026-11-30')
    const tokens = [
      { model: 'a', input_tokens: 1200, output_tokens: 300, input_audio_tokens: 0, output_audio_tokens: 0, audio_seconds: 0, cost_usd: null },
      { model: 'b', input_tokens: 800, output_tokens: 0, input_audio_tokens: 0, output_audio_tokens: 0, audio_seconds: 0, cost_usd: null },
    ]
    expect(tokensText(figures({ tokens }))).toBe('2,000 in / 300 out')
    expect(tokensText(figures({}))).toBe('—')
    expect(costText(figures({ cost_usd: 22.7 }), true)).toBe('$22.70')
    expect(costText(figures({}), true)).toBe('not priced')
    expect(costText(figures({}), false)).toBe('—')
  })

  it('offers 7, 30 and 90 days, 30 unless one of them is chosen', () => {
    expect(parseWindow('7')).toBe(7)
    expect(parseWindow('90')).toBe(90)
    for (const other of ['31', '', 'abc', null, undefined, '365', '-7']) expect(parseWindow(other)).toBe(30)
  })

  it('asks the API for the chosen window up to now, with the grouping', () => {
    const now = new Date('2026-12-01T12:00:00Z')
    expect(analyticsQuery(7, 'day', now)).toEqual({ from: '2026-11-24T12:00:00.000Z', to: '2026-12-01T12:00:00.000Z', group_by: 'day' })
    expect(analyticsQuery(90, 'version', now)).toEqual({ from: '2026-09-02T12:00:00.000Z', to: '2026-12-01T12:00:00.000Z', group_by: 'version' })
  })

  it('names the window of the figures shown from the answer itself', () => {
    expect(answeredDays({ from: '2026-11-24T12:00:00Z', to: '2026-12-01T12:00:00Z' })).toBe(7)
    // The API answers with microseconds and a +00:00 zone.
    expect(answeredDays({ from: '2026-09-02T12:00:00.123456+00:00', to: '2026-12-01T12:00:00.123456+00:00' })).toBe(90)
  })

  it('labels every few bars when the labels would overlap', () => {
    expect(labelEvery(3, 100)).toBe(1) // "v12" in a wide slot
    expect(labelEvery(10, 5.9)).toBe(13) // a date in each of 90 daily slots: every 13th
    expect(labelEvery(10, 0)).toBe(1)
    const days = Array.from({ length: 90 }, (_, i) => {
      const day = new Date(Date.UTC(2026, 8, 3 + i)).toISOString().slice(0, 10)
      return figures({ key: day, version: null, day, calls: 1, completed: 1 })
    })
    const bars = chartLayout(days, 'day', 528, 100).bars
    const shown = bars.filter((b) => b.showLabel)
    expect(shown[0]?.label).toBe('2026-09-03')
    expect(shown.length).toBe(Math.ceil(90 / labelEvery(10, 528 / 90)))
    // Shown labels are at least a label's width apart.
    for (let i = 1; i < shown.length; i++) {
      const [a, b] = [shown[i - 1], shown[i]]
      if (!a || !b) throw new Error('bars expected')
      expect(b.x - a.x).toBeGreaterThanOrEqual(10 * 6.5 + 8)
    }
    expect(chartLayout(days.slice(0, 5), 'day', 528, 100).bars.every((b) => b.showLabel)).toBe(true)
  })
})
