import { describe, expect, it } from 'vitest'
import { changedFields, parseAgentSaved, parseDraft, summarizeTools } from './draft'

const first = parseDraft(JSON.stringify({ agent_id: null, version: null, status: 'draft', fields: { name: 'Clarence', slug: 'clarence' }, missing: ['voice', 'greeting', 'instructions'] }))

describe('draft diffing', () => {
  it('parses a voxie.draft message', () => {
    expect(first).toEqual({ agentId: null, version: null, status: 'draft', fields: { name: 'Clarence', slug: 'clarence' }, missing: ['voice', 'greeting', 'instructions'] })
  })

  it('reports every filled field of the first draft as changed', () => {
    expect(changedFields(null, first!)).toEqual(['name', 'slug'])
  })

  it('reports only the field that changed', () => {
    const next = parseDraft(JSON.stringify({ fields: { name: 'Clarence', slug: 'clarence', voice: 'marin' }, missing: [] }))!
    expect(changedFields(first, next)).toEqual(['voice'])
  })

  it('compares tools by value, not by key order', () => {
    const a = parseDraft(JSON.stringify({ fields: { tools: [{ type: 'http', name: 'book', url: 'https://x.test' }] }, missing: [] }))!
    const b = parseDraft(JSON.stringify({ fields: { tools: [{ url: 'https://x.test', name: 'book', type: 'http' }] }, missing: [] }))!
    expect(changedFields(a, b)).toEqual([])
    const c = parseDraft(JSON.stringify({ fields: { tools: [{ url: 'https://y.test', name: 'book', type: 'http' }] }, missing: [] }))!
    expect(changedFields(b, c)).toEqual(['tools'])
  })

  it('treats absent and empty as the same', () => {
    const a = parseDraft(JSON.stringify({ fields: { greeting: '' }, missing: [] }))!
    const b = parseDraft(JSON.stringify({ fields: {}, missing: [] }))!
    expect(changedFields(a, b)).toEqual([])
  })

  it('refuses payloads that are not drafts', () => {
    expect(parseDraft('not json')).toBeNull()
    expect(parseDraft('{"fields": []}')).toBeNull()
    expect(parseAgentSaved('{"agent_id": "a", "slug": "s"}')).toBeNull()
    expect(parseAgentSaved('{"agent_id": "a", "slug": "s", "name": "N"}')).toEqual({ agentId: 'a', slug: 's', name: 'N' })
  })

  it('lists tools with their URL and parameters', () => {
    const tools = summarizeTools([
      { type: 'http', name: 'book', description: 'Book', method: 'POST', url: 'https://x.test/b', headers: { Authorization: { secret: 'CLINIC_TOKEN' }, 'X-Site': 'a' }, parameters: { type: 'object', properties: { start: {}, note: {} }, required: ['start'] } },
      { type: 'builtin', name: 'end_call' },
    ])
    expect(tools).toEqual([
      { name: 'book', kind: 'http', method: 'POST', url: 'https://x.test/b', description: 'Book', parameters: ['start (required)', 'note'], headers: ['Authorization (secret CLINIC_TOKEN)', 'X-Site'] },
      { name: 'end_call', kind: 'builtin', method: null, url: null, description: '', parameters: [], headers: [] },
    ])
  })
})
