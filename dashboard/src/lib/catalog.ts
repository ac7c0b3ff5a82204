/**
 * What an agent may choose from (`GET /api/catalog`, built from shared/catalog.py and the
 * AgentConfig contract), read once per page load and shared by every form that offers it:
 *
 *     {"voices": [{"name": "marin", "description": "warm, natural and clear; …"}, …],
 *      "models": ["gpt-realtime", …], "pipelines": ["realtime", "stt-llm-tts"],
 *      "tool_methods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
 *      "default_voice": "marin", "default_model": "gpt-realtime", "default_pipeline": "realtime"}
 */

import { api } from './api'
import type { Catalog, Pipeline } from './types'

let pending: Promise<Catalog> | null = null

/** The catalog, asked for once; a failed read is forgotten, so the next call (Retry) asks again. */
export function loadCatalog(): Promise<Catalog> {
  pending ??= api.get<Catalog>('/api/catalog').catch((error: unknown) => {
    pending = null
    throw error
  })
  return pending
}

export interface Choice {
  value: string
  label: string
}

/** `value` first when the list lacks it: a select shows what is stored, even a value the
 * platform no longer offers (saving it again is then the server's to refuse). */
function withCurrent(choices: Choice[], current: string | undefined): Choice[] {
  if (!current || choices.some((c) => c.value === current)) return choices
  return [{ value: current, label: `${current} (no longer offered)` }, ...choices]
}

/** "marin — warm, natural and clear; the most lifelike default". */
export function voiceChoices(catalog: Catalog, current?: string): Choice[] {
  return withCurrent(
    catalog.voices.map((v) => ({ value: v.name, label: v.description ? `${v.name} — ${v.description}` : v.name })),
    current,
  )
}

export function modelChoices(catalog: Catalog, current?: string): Choice[] {
  return withCurrent(
    catalog.models.map((m) => ({ value: m, label: m })),
    current,
  )
}

const PIPELINE_LABELS: Record<Pipeline, string> = {
  realtime: 'Realtime speech model',
  'stt-llm-tts': 'Speech-to-text, LLM, text-to-speech',
}

/** How an agent hears and speaks, in words. */
export function pipelineLabel(pipeline: string): string {
  return PIPELINE_LABELS[pipeline as Pipeline] ?? pipeline
}

export function pipelineChoices(catalog: Catalog, current?: string): Choice[] {
  return withCurrent(
    catalog.pipelines.map((p) => ({ value: p, label: pipelineLabel(p) })),
    current,
  )
}
