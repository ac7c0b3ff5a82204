/**
 * Call analytics as the agent page shows them (shared/contracts/analytics.py): each group's
 * label, its figures as text, and the bar chart's scale and bars (calls per group, stacked by
 * outcome). The table beside the chart is its accessible fallback.
 */

import { formatDuration } from './format'
import type { CallAnalytics, CallFigures, GroupBy } from './types'

/** A group's name: "v3", "Draft" (calls that ran the draft or predate versions), or the day. */
export function groupLabel(group: CallFigures, groupBy: GroupBy): string {
  if (groupBy === 'day') return group.day ?? group.key ?? '—'
  return group.version === null ? 'Draft' : `v${group.version}`
}

/** The smallest 1, 2 or 5 × 10^k at or above `value` (at least 1): the axis' top. */
export function niceCeiling(value: number): number {
  if (!Number.isFinite(value) || value <= 1) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power
  }
  return 10 * power
}

/** Whole-number ticks from 0 to `top` (a niceCeiling), at most `most` + 1 of them. */
export function ticks(top: number, most = 4): number[] {
  const step = Math.max(1, niceCeiling(top / most))
  const out: number[] = []
  for (let t = 0; t <= top; t += step) out.push(t)
  return out
}

export const OUTCOMES = ['completed', 'errored', 'abandoned', 'other'] as const
export type Outcome = (typeof OUTCOMES)[number]

export interface Segment {
  outcome: Outcome
  count: number
  y: number
  height: number
}

export interface Bar {
  label: string
  /** Whether the axis shows this bar's label: with many bars only every few, so none overlap. */
  showLabel: boolean
  calls: number
  x: number
  width: number
  segments: Segment[]
}

export interface ChartLayout {
  top: number
  ticks: { value: number; y: number }[]
  bars: Bar[]
}

// The axis labels' font (11 px, styles.css .chart-label): about this wide per character, in
// the chart's own units, plus a gap between neighbours.
const LABEL_CHAR_WIDTH = 6.5
const LABEL_GAP = 8

/** Show every `n`th label so that labels of `chars` characters in slots `slot` wide do not
 * overlap: 1 when each fits its slot. */
export function labelEvery(chars: number, slot: number): number {
  if (slot <= 0) return 1
  return Math.max(1, Math.ceil((chars * LABEL_CHAR_WIDTH + LABEL_GAP) / slot))
}

/** Bars for `groups` in a `width` × `height` plot: one per group, its outcomes stacked from the
 * bottom (other = calls still active or ended otherwise), scaled to a nice top; 90 days of
 * daily bars label only every few days. */
export function chartLayout(groups: CallFigures[], groupBy: GroupBy, width: number, height: number): ChartLayout {
  const top = niceCeiling(Math.max(0, ...groups.map((g) => g.calls)))
  const scale = (n: number) => (n / top) * height
  const slot = groups.length > 0 ? width / groups.length : width
  const barWidth = Math.max(2, Math.min(48, slot * 0.6))
  const labels = groups.map((group) => groupLabel(group, groupBy))
  const every = labelEvery(Math.max(0, ...labels.map((l) => l.length)), slot)
  const bars = groups.map((group, i) => {
    const counts: Record<Outcome, number> = {
      completed: group.completed,
      errored: group.errored,
      abandoned: group.abandoned,
      other: Math.max(0, group.calls - group.completed - group.errored - group.abandoned),
    }
    let base = height
    const segments: Segment[] = []
    for (const outcome of OUTCOMES) {
      const count = counts[outcome]
      if (count === 0) continue
      const h = scale(count)
      base -= h
      segments.push({ outcome, count, y: base, height: h })
    }
    const label = labels[i] ?? ''
    return { label, showLabel: i % every === 0, calls: group.calls, x: i * slot + (slot - barWidth) / 2, width: barWidth, segments }
  })
  return { top, ticks: ticks(top).map((value) => ({ value, y: height - scale(value) })), bars }
}

/** Tokens of every model, summed: "12,400 in / 3,100 out". */
export function tokensText(group: CallFigures): string {
  if (group.tokens.length === 0) return '—'
  const input = group.tokens.reduce((sum, t) => sum + t.input_tokens, 0)
  const output = group.tokens.reduce((sum, t) => sum + t.output_tokens, 0)
  return `${input.toLocaleString('en-US')} in / ${output.toLocaleString('en-US')} out`
}

/** The cost in US dollars, or why there is none. */
export function costText(group: CallFigures, priced: boolean): string {
  if (group.cost_usd !== null) return `$${group.cost_usd.toFixed(2)}`
  return priced ? 'not priced' : '—'
}

export function durationText(seconds: number | null): string {
  return seconds === null ? '—' : formatDuration(seconds)
}

const DAY_MS = 86_400_000

/** The windows the agent page offers, in days (the API takes up to a year). */
export const WINDOWS = [7, 30, 90] as const
export type WindowDays = (typeof WINDOWS)[number]
export const DEFAULT_WINDOW: WindowDays = 30

/** A chosen window (a `<select>`'s value) if it is one the page offers, else the default. */
export function parseWindow(value: string | null | undefined): WindowDays {
  const days = Number(value)
  return WINDOWS.find((w) => w === days) ?? DEFAULT_WINDOW
}

/** The `days` days up to `now`, as the API's `from` / `to`. */
export function lastDays(days: number, now: Date = new Date()): { from: string; to: string } {
  const from = new Date(now.getTime() - days * DAY_MS)
  return { from: from.toISOString(), to: now.toISOString() }
}

/** The API's query for the last `days` days grouped by `groupBy`. */
export function analyticsQuery(days: WindowDays, groupBy: GroupBy, now: Date = new Date()): { from: string; to: string; group_by: GroupBy } {
  return { ...lastDays(days, now), group_by: groupBy }
}

/** The window an answer covers, in whole days, from its own `from` / `to`: what the figures on
 * screen are of, even while the next window loads. */
export function answeredDays(analytics: Pick<CallAnalytics, 'from' | 'to'>): number {
  return Math.round((Date.parse(analytics.to) - Date.parse(analytics.from)) / DAY_MS)
}
