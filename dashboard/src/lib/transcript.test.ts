import { describe, expect, it } from 'vitest'
import { addTyped, applyChunk, closeStream, emptyTranscript, isFinal, visibleEntries, type Transcript } from './transcript'

function texts(t: Transcript) {
  return t.entries.map((e) => [e.speaker, e.text, e.final])
}

describe('transcript merging by segment', () => {
  it('appends the agent deltas of one stream to its segment', () => {
    let t = applyChunk(emptyTranscript, { segmentId: 'SG_1', streamId: 's1', speaker: 'agent', text: '' })
    t = applyChunk(t, { segmentId: 'SG_1', streamId: 's1', speaker: 'agent', text: 'Hi, this ' })
    t = applyChunk(t, { segmentId: 'SG_1', streamId: 's1', speaker: 'agent', text: 'is Clarence.' })
    expect(texts(t)).toEqual([['agent', 'Hi, this is Clarence.', false]])
    t = closeStream(t, 'SG_1', 's1', true)
    expect(texts(t)).toEqual([['agent', 'Hi, this is Clarence.', true]])
  })

  it('replaces a user segment with each full-text update, in a new stream each time', () => {
    let t = applyChunk(emptyTranscript, { segmentId: 'SG_u', streamId: 'a', speaker: 'user', text: 'I would' })
    t = applyChunk(t, { segmentId: 'SG_u', streamId: 'b', speaker: 'user', text: 'I would like to' })
    t = applyChunk(t, { segmentId: 'SG_u', streamId: 'c', speaker: 'user', text: 'I would like to book.', final: true })
    expect(texts(t)).toEqual([['user', 'I would like to book.', true]])
  })

  it('keeps segments in the order they were first seen while older ones still grow', () => {
    let t = applyChunk(emptyTranscript, { segmentId: 'A', streamId: 'a1', speaker: 'agent', text: 'Hello' })
    t = applyChunk(t, { segmentId: 'U', streamId: 'u1', speaker: 'user', text: 'hi' })
    t = applyChunk(t, { segmentId: 'A', streamId: 'a1', speaker: 'agent', text: ' there' })
    expect(texts(t)).toEqual([
      ['agent', 'Hello there', false],
      ['user', 'hi', false],
    ])
  })

  it('does not mark a segment final when a stream closes without the final flag', () => {
    let t = applyChunk(emptyTranscript, { segmentId: 'A', streamId: 'a1', speaker: 'agent', text: 'Hel' })
    t = closeStream(t, 'A', 'a1', false)
    expect(t.entries[0]?.final).toBe(false)
  })

  it('ignores the close of a stream a newer one replaced', () => {
    let t = applyChunk(emptyTranscript, { segmentId: 'U', streamId: 'old', speaker: 'user', text: 'a' })
    t = applyChunk(t, { segmentId: 'U', streamId: 'new', speaker: 'user', text: 'ab' })
    t = closeStream(t, 'U', 'old', true)
    expect(t.entries[0]?.final).toBe(false)
  })

  it('adds typed lines as final user entries and hides empty segments', () => {
    let t = applyChunk(emptyTranscript, { segmentId: 'A', streamId: 'a', speaker: 'agent', text: '  ' })
    t = addTyped(t, 'x1', 'https://example.com')
    expect(visibleEntries(t).map((e) => [e.speaker, e.text, e.final])).toEqual([['user', 'https://example.com', true]])
  })

  it('reads the final flag from the attributes', () => {
    expect(isFinal({ 'lk.transcription_final': 'true' })).toBe(true)
    expect(isFinal({ 'lk.transcription_final': 'false' })).toBe(false)
    expect(isFinal(undefined)).toBe(false)
  })
})
