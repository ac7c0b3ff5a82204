/**
 * A recorded call's turns (`GET /api/sessions/{id}` → `turns`, shared/turns.py) as the call page
 * shows them: each spoken agent reply with what it began with, how long the caller waited for
 * it (the end of their turn, spoken or typed, to the agent's first audio) and the model's own time to first audio.
 *
 *     {"turn": 2, "item_id": "item_Cx81", "spoken_at": "2026-11-21T09:00:14.210Z",
 *      "latency_s": 0.742, "model_ttfa_s": 0.388, "interrupted": false}
 */

import { messageText } from './conversation'
import type { CallFigures, CallTurn } from './types'

export interface TurnRow {
  turn: number
  /** The reply's first words, from the transcript item it names; '' when not found. */
  said: string
  /** The caller's wait; 'Nothing from the caller before it' where none preceded (the greeting). */
  wait: string
  model: string
  interrupted: boolean
}

export interface WaitSummary {
  /** Replies whose wait was measured. */
  answered: number
  slowest: number | null
}

const SAID_LENGTH = 60

/** Seconds as a person reads a wait: milliseconds under a second, else seconds to 2 places. */
export function formatLatency(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return '—'
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`
  return `${seconds.toFixed(2)} s`
}

function shortened(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length <= SAID_LENGTH ? flat : `${flat.slice(0, SAID_LENGTH - 1).trimEnd()}…`
}

export function turnRows(turns: readonly CallTurn[], transcript: readonly Record<string, unknown>[]): TurnRow[] {
  const replies = new Map<string, string>()
  for (const item of transcript) {
    if (item.type === 'message' && typeof item.id === 'string') replies.set(item.id, messageText(item.content))
  }
  return turns.map((t) => ({
    turn: t.turn,
    said: shortened((t.item_id !== null && replies.get(t.item_id)) || ''),
    wait: t.latency_s === null ? 'Nothing from the caller before it' : formatLatency(t.latency_s),
    model: formatLatency(t.model_ttfa_s),
    interrupted: t.interrupted,
  }))
}

export function waitSummary(turns: readonly CallTurn[]): WaitSummary {
  const waits = turns.map((t) => t.latency_s).filter((w): w is number => w !== null)
  return { answered: waits.length, slowest: waits.length ? Math.max(...waits) : null }
}

/** A group's turn latency in the analytics: p50 / p95 of its measured turns, or '—'. */
export function responseText(group: CallFigures): string {
  if (group.turns === 0) return '—'
  return `${formatLatency(group.p50_turn_latency_s)} / ${formatLatency(group.p95_turn_latency_s)}`
}
