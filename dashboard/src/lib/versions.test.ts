import { describe, expect, it } from 'vitest'
import {
  defaultComparison,
  diffRows,
  fieldText,
  liveFact,
  liveLabel,
  parseAgentVersion,
  parseTarget,
  revisionLabel,
  runningLabel,
  savedSentence,
  targetLabel,
  testTarget,
  versionBadges,
} from './versions'

describe('versions', () => {

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

  it('calls the draft counter a revision and published ones versions', () => {
    expect(revisionLabel(2)).toBe('Revision 2')
    expect(savedSentence(2, { publishedVersion: null, hasUnpublishedChanges: true })).toBe('Changes saved as revision 2 of the draft.')
    expect(savedSentence(3, { publishedVersion: 1, hasUnpublishedChanges: true })).toBe(
      'Changes saved as revision 3 of the draft. Calls run version 1 until you publish the draft.',
    )
    // Activated: the save published the first version.
    expect(savedSentence(2, { publishedVersion: 1, hasUnpublishedChanges: false }, null)).toBe(
      'Changes saved as revision 2 of the draft, and published as version 1: calls run it.',
    )
    // Saved back to what is published: nothing waits.
    expect(savedSentence(4, { publishedVersion: 1, hasUnpublishedChanges: false })).toBe('Changes saved as revision 4 of the draft.')
    expect(liveFact({ publishedVersion: null, hasUnpublishedChanges: true })).toBe('Not published yet')
    expect(liveFact({ publishedVersion: 2, hasUnpublishedChanges: true })).toBe('v2 (the draft has unpublished changes)')
    expect(liveFact({ publishedVersion: 2, hasUnpublishedChanges: false })).toBe('v2')
  })

  it('shows a never-published agent as that alone, not as live nor as changed', () => {
    expect(versionBadges({ publishedVersion: null, hasUnpublishedChanges: true })).toEqual([{ label: 'Not published yet', tone: 'none' }])
    expect(versionBadges({ publishedVersion: 1, hasUnpublishedChanges: true })).toEqual([
      { label: 'Live version v1', tone: 'live' },
      { label: 'Unpublished changes', tone: 'unpublished' },
    ])
    expect(versionBadges({ publishedVersion: 3, hasUnpublishedChanges: false })).toEqual([{ label: 'Live version v3', tone: 'live' }])
  })

  it('tests the draft of an agent that takes no plain call yet', () => {
    expect(testTarget({ status: 'draft', published_version: null })).toBe('draft')
    expect(testTarget({ status: 'draft', published_version: 2 })).toBe('draft') // set back to draft
    expect(testTarget({ status: 'active', published_version: null })).toBe('draft')
    expect(testTarget({ status: 'active', published_version: 1 })).toBeNull()
    expect(testTarget({ status: 'archived', published_version: 1 })).toBeNull()
  })

  it('compares what calls run with the draft by default', () => {
    expect(defaultComparison(1, 1)).toEqual({ a: 1, b: 'draft' })
    expect(defaultComparison(1, 3)).toEqual({ a: 1, b: 'draft' }) // rolled back: live is not the newest
    expect(defaultComparison(null, 2)).toEqual({ a: 2, b: 'draft' })
  })
})
