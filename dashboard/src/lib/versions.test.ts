import { describe, expect, it } from 'vitest'
import { actorLabel, diffRows, fieldText, liveLabel, parseAgentVersion, parseTarget, runningLabel, targetLabel } from './versions'

describe('versions', () => {
  it('names who published as the viewer sees it', () => {
    const user = { ownerId: '9b1d2c3e-0000-4000-8000-00000000a11c', operator: false }
    const operator = { ownerId: '00000000-0000-0000-0000-000000000000', operator: true }
    expect(actorLabel(`user:${user.ownerId}`, user)).toBe('you')
    expect(actorLabel(`user:${user.ownerId}`, operator)).toBe('the owner')
    expect(actorLabel('operator', operator)).toBe('you')
    expect(actorLabel('operator', user)).toBe('the operator')
    expect(actorLabel('platform', user)).toBe('the platform')
    expect(actorLabel('user:someone-else', null)).toBe('the owner')
  })

  it('labels targets and reads ?version= strictly', () => {
    expect(targetLabel(3)).toBe('v3')
    expect(targetLabel('draft')).toBe('Draft')
    expect(parseTarget('draft')).toBe('draft')
    expect(parseTarget('12')).toBe(12)
    expect(parseTarget('0')).toBeNull()
    expect(parseTarget('1.5')).toBeNull()
    expect(parseTarget('latest')).toBeNull()
    expect(parseTarget(null)).toBeNull()
    expect(runningLabel(2)).toBe('Running version 2')
    expect(runningLabel('draft')).toMatch(/draft/)
    expect(liveLabel(null)).toBe('Not published yet')
    expect(liveLabel(4)).toBe('Live version v4')
  })

  it('renders the diff field by field in the API order', () => {
    const rows = diffRows({
      agent_id: 'a',
      a: 1,
      b: 'draft',
      changes: [
        { field: 'greeting', a: 'Hi.', b: '' },
        { field: 'summarize', a: false, b: true },
        {
          field: 'tools',
          a: [],
          b: [{ type: 'http', name: 'book', method: 'POST', url: 'https://x.test/book' }, { type: 'builtin', name: 'end_call' }],
        },
      ],
    })
    expect(rows).toEqual([
      { field: 'greeting', label: 'Greeting', before: 'Hi.', after: '(empty)' },
      { field: 'summarize', label: 'Call summaries', before: 'Off', after: 'On' },
      { field: 'tools', label: 'Actions', before: '(none)', after: 'book (POST https://x.test/book), end_call' },
    ])
    expect(fieldText('unknown', { a: 1 })).toBe('{"a":1}')
  })

  it('reads voxie.agent_version and refuses anything else', () => {
    expect(parseAgentVersion('{"agent_id": "a", "published_version": 3, "has_unpublished_changes": true}')).toEqual({
      agentId: 'a',
      publishedVersion: 3,
      hasUnpublishedChanges: true,
    })
    expect(parseAgentVersion('{"agent_id": "a", "published_version": null, "has_unpublished_changes": false}')?.publishedVersion).toBeNull()
    expect(parseAgentVersion('{"agent_id": "a", "published_version": 0, "has_unpublished_changes": true}')).toBeNull()
    expect(parseAgentVersion('{"agent_id": "a", "published_version": 2}')).toBeNull()
    expect(parseAgentVersion('not json')).toBeNull()
    expect(parseAgentVersion('[1]')).toBeNull()
  })
})
