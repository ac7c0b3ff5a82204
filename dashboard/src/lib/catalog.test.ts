import { afterEach, describe, expect, it, vi } from 'vitest'
import { loadCatalog, modelChoices, pipelineChoices, pipelineLabel, voiceChoices } from './catalog'
import type { Catalog } from './types'

const CATALOG: Catalog = {
  voices: [
    { name: 'marin', description: 'warm, natural and clear' },
    { name: 'cedar', description: 'calm, grounded and reassuring' },
  ],
  models: ['gpt-realtime', 'gpt-realtime-2'],
  pipelines: ['realtime', 'stt-llm-tts'],
  tool_methods: ['GET', 'POST'],
  default_voice: 'marin',
  default_model: 'gpt-realtime',
  default_pipeline: 'realtime',
}

describe('the catalog as choices', () => {
  it('labels voices with their character and pipelines in words', () => {
    expect(voiceChoices(CATALOG)).toEqual([
      { value: 'marin', label: 'marin — warm, natural and clear' },
      { value: 'cedar', label: 'cedar — calm, grounded and reassuring' },
    ])
    expect(pipelineChoices(CATALOG).map((c) => c.label)).toEqual(['Realtime speech model', 'Speech-to-text, LLM, text-to-speech'])
    expect(pipelineLabel('something-new')).toBe('something-new')
  })

  it('keeps a stored value the platform no longer offers, first', () => {
    expect(modelChoices(CATALOG, 'gpt-old')[0]).toEqual({ value: 'gpt-old', label: 'gpt-old (no longer offered)' })
    expect(modelChoices(CATALOG, 'gpt-realtime-2')).toHaveLength(2)
  })
})

describe('loading the catalog', () => {
  afterEach(() => vi.unstubAllGlobals())

  it('asks once, and again after a failure', async () => {
    const answers = [new Response('{"title": "down"}', { status: 503 }), new Response(JSON.stringify(CATALOG), { status: 200 })]
    const fetch = vi.fn(async () => answers.shift() ?? new Response('{}', { status: 500 }))
    vi.stubGlobal('fetch', fetch)
    await expect(loadCatalog()).rejects.toThrow()
    expect(await loadCatalog()).toEqual(CATALOG)
    expect(await loadCatalog()).toEqual(CATALOG)
    expect(fetch).toHaveBeenCalledTimes(2)
  })
})
