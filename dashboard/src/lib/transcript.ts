/**
 * The live transcript of a call, from LiveKit's `lk.transcription` text streams.
 *
 * What the agent worker sends (livekit-agents `room_io`):
 * - the agent's speech: ONE stream per segment (`lk.segment_id`), its chunks are deltas that
 *   append; the stream's closing trailer carries `lk.transcription_final: "true"`;
 * - the user's speech: a NEW stream for every update of a segment, each carrying the full text
 *   so far; the last one has `lk.transcription_final: "true"` in its header.
 *
 * One rule merges both: a segment's text is the text of its latest stream (a new stream
 * replaces, a chunk of the same stream appends). Typed messages (`lk.chat`) join as final user
 * lines. Entries keep the order their segments were first seen.
 */

export type Speaker = 'agent' | 'user'

export interface TranscriptEntry {
  segmentId: string
  speaker: Speaker
  text: string
  final: boolean
  /** Order of first appearance. */
  seq: number
  streamId: string
}

export interface Transcript {
  entries: TranscriptEntry[]
  nextSeq: number
}

export const emptyTranscript: Transcript = { entries: [], nextSeq: 0 }

export interface Chunk {
  segmentId: string
  streamId: string
  speaker: Speaker
  text: string
  final?: boolean
}

export const SEGMENT_ID = 'lk.segment_id'
export const TRANSCRIPTION_FINAL = 'lk.transcription_final'

/** The transcript after one chunk of one stream. Pure: returns a new object. */
export function applyChunk(state: Transcript, chunk: Chunk): Transcript {
  const index = state.entries.findIndex((e) => e.segmentId === chunk.segmentId)
  if (index === -1) {
    const entry: TranscriptEntry = {
      segmentId: chunk.segmentId,
      speaker: chunk.speaker,
      text: chunk.text,
      final: chunk.final ?? false,
      seq: state.nextSeq,
      streamId: chunk.streamId,
    }
    return { entries: [...state.entries, entry], nextSeq: state.nextSeq + 1 }
  }
  const current = state.entries[index] as TranscriptEntry
  const sameStream = current.streamId === chunk.streamId
  const updated: TranscriptEntry = {
    ...current,
    text: sameStream ? current.text + chunk.text : chunk.text,
    streamId: chunk.streamId,
    final: (sameStream && current.final) || (chunk.final ?? false),
  }
  const entries = state.entries.slice()
  entries[index] = updated
  return { ...state, entries }
}

/** A stream ended; `final` is what its attributes (header plus trailer) say. */
export function closeStream(state: Transcript, segmentId: string, streamId: string, final: boolean): Transcript {
  if (!final) return state
  const index = state.entries.findIndex((e) => e.segmentId === segmentId && e.streamId === streamId)
  if (index === -1) return state
  const entries = state.entries.slice()
  entries[index] = { ...(entries[index] as TranscriptEntry), final: true }
  return { ...state, entries }
}

/** A line the user typed (sent on `lk.chat`): shown at once, final. */
export function addTyped(state: Transcript, id: string, text: string): Transcript {
  return applyChunk(state, { segmentId: `typed-${id}`, streamId: `typed-${id}`, speaker: 'user', text, final: true })
}

/** Entries worth showing: whitespace-only segments (a breath, a cut stream) are left out. */
export function visibleEntries(state: Transcript): TranscriptEntry[] {
  return state.entries.filter((e) => e.text.trim() !== '')
}

export function isFinal(attributes: Record<string, string> | undefined): boolean {
  return attributes?.[TRANSCRIPTION_FINAL] === 'true'
}
