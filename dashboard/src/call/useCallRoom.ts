/**
 * One call in a LiveKit room, for the test call and Voxie pages: ask the API for a room and a
 * token, connect, open the microphone, wait for the agent, and collect what the room says
 * (`lk.transcription`, `spawner.error`, `platform.room_closed`, plus the page's own topics such
 * as `voxie.draft`). Every way it can fail ends in `failure`, a sentence for the person.
 */

import { Room, RoomEvent, type RemoteParticipant } from 'livekit-client'
import { useCallback, useEffect, useRef, useState } from 'react'
import { api, request } from '../lib/api'
import { agentTimeoutFailure, describeCallError, roomMessageFailure, type Failure, type WorkerCount } from '../lib/describe'
import { isAgent } from '../lib/participants'
import type { RoomGrant } from '../lib/types'
import {
  addTyped,
  applyChunk,
  closeStream,
  emptyTranscript,
  isFinal,
  SEGMENT_ID,
  type Transcript,
} from '../lib/transcript'

export type { Phase as CallPhase } from '../lib/callView'
import type { Phase as CallPhase } from '../lib/callView'

const SPAWNER_ERROR = 'spawner.error'
const ROOM_CLOSED = 'platform.room_closed'
const TRANSCRIPTION = 'lk.transcription'
const CHAT = 'lk.chat'
// The platform re-dispatches an agent that does not start within AGENT_STARTUP_TIMEOUT_S (30 s
// by default) before it gives up and says so on `platform.room_closed`; the page waits a little
// longer than one round so it can tell the person before they give up themselves.
export const DEFAULT_AGENT_JOIN_TIMEOUT_S = 45

export interface CallOptions {
  /** Topics the page reads besides the call's own, as text streams: payload per message. */
  topics?: Record<string, (payload: string) => void>
  agentJoinTimeoutS?: number
}

export interface CallRoom {
  room: Room
  phase: CallPhase
  failure: Failure | null
  /** The phase the call was in when it failed: `requesting` means it was refused before a room. */
  failedIn: CallPhase | null
  transcript: Transcript
  /** Why the call ended when nobody failed (the person hung up, the agent ended it). */
  endedNote: string | null
  start: (grant: () => Promise<RoomGrant>) => Promise<void>
  end: () => Promise<void>
  sendText: (text: string) => Promise<void>
}

export function useCallRoom(options: CallOptions = {}): CallRoom {
  const [room] = useState(() => new Room({ adaptiveStream: true, dynacast: true }))
  const [phase, setPhase] = useState<CallPhase>('idle')
  const [failure, setFailure] = useState<Failure | null>(null)
  const [failedIn, setFailedIn] = useState<CallPhase | null>(null)
  const [transcript, setTranscript] = useState<Transcript>(emptyTranscript)
  const [endedNote, setEndedNote] = useState<string | null>(null)
  const phaseRef = useRef<CallPhase>('idle')
  const agentTimer = useRef<number | undefined>(undefined)
  const topicsRef = useRef(options.topics)
  topicsRef.current = options.topics
  const joinTimeoutS = options.agentJoinTimeoutS ?? DEFAULT_AGENT_JOIN_TIMEOUT_S

  const move = useCallback((next: CallPhase) => {
    phaseRef.current = next
    setPhase(next)
  }, [])

  const fail = useCallback(
    (why: Failure) => {
      window.clearTimeout(agentTimer.current)
      if (phaseRef.current === 'failed') return // the first reason is the real one
      setFailure(why)
      setFailedIn(phaseRef.current)
      move('failed')
      void room.disconnect()
    },
    [room, move],
  )

  // Handlers live as long as the page: a Room keeps them across connections.
  useEffect(() => {
    const agentArrived = () => {
      window.clearTimeout(agentTimer.current)
      if (phaseRef.current === 'waiting-for-agent') move('live')
    }
    const onParticipant = (participant: RemoteParticipant) => {
      if (isAgent(participant)) agentArrived()
    }
    const onParticipantLeft = (participant: RemoteParticipant) => {
      if (isAgent(participant) && phaseRef.current === 'live') {
        setEndedNote('The agent left the call.')
        move('ended')
        void room.disconnect()
      }
    }
    const onData = (payload: Uint8Array, _participant?: RemoteParticipant, _kind?: unknown, topic?: string) => {
      if (topic !== SPAWNER_ERROR && topic !== ROOM_CLOSED) return
      const text = new TextDecoder().decode(payload)
      fail(roomMessageFailure(topic, text))
    }
    const onDisconnected = () => {
      window.clearTimeout(agentTimer.current)
      if (phaseRef.current !== 'failed' && phaseRef.current !== 'idle') {
        if (phaseRef.current !== 'ended') setEndedNote('The call has ended.')
        move('ended')
      }
    }
    room.on(RoomEvent.ParticipantConnected, onParticipant)
    room.on(RoomEvent.ParticipantDisconnected, onParticipantLeft)
    room.on(RoomEvent.DataReceived, onData)
    room.on(RoomEvent.Disconnected, onDisconnected)

    room.registerTextStreamHandler(TRANSCRIPTION, (reader, { identity }) => {
      const info = reader.info
      const segmentId = info.attributes?.[SEGMENT_ID] ?? info.id
      const speaker = identity === room.localParticipant.identity ? 'user' : 'agent'
      setTranscript((t) => applyChunk(t, { segmentId, streamId: info.id, speaker, text: '', final: isFinal(info.attributes) }))
      void (async () => {
        try {
          for await (const chunk of reader) {
            setTranscript((t) => applyChunk(t, { segmentId, streamId: info.id, speaker, text: chunk }))
          }
          // The trailer's attributes are merged into info.attributes when the stream closes.
          setTranscript((t) => closeStream(t, segmentId, info.id, isFinal(reader.info.attributes)))
        } catch {
          // a stream cut by a disconnect: what arrived stays
        }
      })()
    })
    room.registerTextStreamHandler(SPAWNER_ERROR, (reader) => {
      void reader.readAll().then((text) => fail(roomMessageFailure(SPAWNER_ERROR, text)))
    })
    const pageTopics = Object.keys(options.topics ?? {})
    for (const topic of pageTopics) {
      room.registerTextStreamHandler(topic, (reader) => {
        void reader.readAll().then((text) => topicsRef.current?.[topic]?.(text))
      })
    }
    return () => {
      room.off(RoomEvent.ParticipantConnected, onParticipant)
      room.off(RoomEvent.ParticipantDisconnected, onParticipantLeft)
      room.off(RoomEvent.DataReceived, onData)
      room.off(RoomEvent.Disconnected, onDisconnected)
      for (const topic of [TRANSCRIPTION, SPAWNER_ERROR, ...pageTopics]) room.unregisterTextStreamHandler(topic)
    }
    // Topics are fixed per page; their callbacks are read through the ref.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [room, fail, move])

  // Leaving the page ends the call.
  useEffect(
    () => () => {
      window.clearTimeout(agentTimer.current)
      void room.disconnect()
    },
    [room],
  )

  const start = useCallback(
    async (grant: () => Promise<RoomGrant>) => {
      setFailure(null)
      setFailedIn(null)
      setEndedNote(null)
      setTranscript(emptyTranscript)
      move('requesting')
      try {
        const { livekit_url: url, token } = await grant()
        move('connecting')
        await room.connect(url, token)
        await room.localParticipant.setMicrophoneEnabled(true)
        if ([...room.remoteParticipants.values()].some(isAgent)) {
          move('live')
        } else {
          move('waiting-for-agent')
          agentTimer.current = window.setTimeout(() => {
            void whyNoAgent(room.name, joinTimeoutS).then((why) => {
              // The agent may have come while the backend was asked.
              if (![...room.remoteParticipants.values()].some(isAgent)) fail(why)
            })
          }, joinTimeoutS * 1000)
        }
      } catch (error) {
        fail(describeCallError(error))
      }
    },
    [room, move, fail, joinTimeoutS],
  )

  const end = useCallback(async () => {
    window.clearTimeout(agentTimer.current)
    setEndedNote('You ended the call.')
    move('ended')
    // Hung up, not dropped: the platform closes the room (the agent records `user_hangup`,
    // whatever the call, and the Calls page shows it ending at once). Asked while still in the
    // room, which is what lets the caller end it; a failure still leaves the call.
    const name = room.name
    if (name) {
      try {
        await api.post(`/api/rooms/${encodeURIComponent(name)}/end`)
      } catch {
        // the room may be gone already; leaving it below is what remains to do
      }
    }
    await room.disconnect()
  }, [room, move])

  const sendText = useCallback(
    async (text: string) => {
      const info = await room.localParticipant.sendText(text, { topic: CHAT })
      setTranscript((t) => addTyped(t, info.id, text))
    },
    [room],
  )

  return { room, phase, failure, failedIn, transcript, endedNote, start, end, sendText }
}

/** Asks the backend's readiness (public, no sign-in) how the workers stand, to name the cause
 * of an agent that never came; without an answer, the generic timeout. */
async function whyNoAgent(roomName: string, waitedS: number): Promise<Failure> {
  try {
    const ready = await request<{ workers?: Record<string, WorkerCount> | null }>('/readyz', { anonymous: true })
    return agentTimeoutFailure(waitedS, roomName, ready.workers)
  } catch {
    return agentTimeoutFailure(waitedS, roomName, null)
  }
}
