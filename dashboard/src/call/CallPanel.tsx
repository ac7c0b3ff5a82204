/**
 * What a call shows: the agent's state, its voice level, the live transcript, and the controls
 * (mute, end, typed input where the page wants it). LiveKit's React components read the room:
 * `useVoiceAssistant` (the agent's `lk.agent.state` and audio track), `BarVisualizer`,
 * `RoomAudioRenderer`, `StartAudio` and `useTrackToggle`.
 */

import {
  BarVisualizer,
  RoomAudioRenderer,
  RoomContext,
  StartAudio,
  useTrackToggle,
  useVoiceAssistant,
} from '@livekit/components-react'
import { Track } from 'livekit-client'
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react'
import { visibleEntries, type Transcript } from '../lib/transcript'
import type { CallPhase, CallRoom } from './useCallRoom'

const PHASE_TEXT: Record<CallPhase, string> = {
  idle: 'Not started',
  requesting: 'Starting the call…',
  connecting: 'Connecting…',
  'waiting-for-agent': 'Waiting for the agent to join…',
  live: 'Connected',
  ended: 'Call ended',
  failed: 'Call failed',
}

const AGENT_STATE_TEXT: Record<string, string> = {
  disconnected: 'Disconnected',
  connecting: 'Connecting',
  'pre-connect-buffering': 'Connecting',
  initializing: 'Getting ready',
  idle: 'Listening',
  listening: 'Listening',
  thinking: 'Thinking',
  speaking: 'Speaking',
  failed: 'Failed',
}

export function CallPanel({ call, agentName, children }: { call: CallRoom; agentName: string; children?: ReactNode }) {
  return (
    <RoomContext.Provider value={call.room}>
      <section className="call" aria-label="Call">
        <div className="call-head">
          <CallState phase={call.phase} />
          <LevelMeter active={call.phase === 'live'} />
        </div>
        <TranscriptView transcript={call.transcript} agentName={agentName} />
        {children}
        {(call.phase === 'live' || call.phase === 'waiting-for-agent') && (
          <div className="call-controls">
            <MuteButton />
            <button type="button" className="button button-danger" onClick={() => void call.end()}>
              End call
            </button>
            <StartAudio label="Allow audio playback" className="button" />
          </div>
        )}
        <RoomAudioRenderer />
      </section>
    </RoomContext.Provider>
  )
}

function CallState({ phase }: { phase: CallPhase }) {
  const { state } = useVoiceAssistant()
  const live = phase === 'live'
  const text = live ? (AGENT_STATE_TEXT[state] ?? state) : PHASE_TEXT[phase]
  const key = live ? state : phase
  return (
    <p className={`call-state state-${key}`} role="status" aria-live="polite" aria-label="Agent state" data-state={key}>
      <span className="dot" aria-hidden="true" />
      {text}
    </p>
  )
}

function LevelMeter({ active }: { active: boolean }) {
  const { state, audioTrack } = useVoiceAssistant()
  return (
    <div className="level" role="img" aria-label={active ? `Agent voice level (${AGENT_STATE_TEXT[state] ?? state})` : 'Agent voice level (no audio)'}>
      <BarVisualizer state={active ? state : undefined} track={audioTrack} barCount={7} options={{ minHeight: 12 }} />
    </div>
  )
}

function MuteButton() {
  const { enabled, toggle, pending } = useTrackToggle({ source: Track.Source.Microphone })
  return (
    <button type="button" className="button" aria-pressed={!enabled} onClick={() => void toggle()} disabled={pending}>
      {enabled ? 'Mute' : 'Unmute'}
    </button>
  )
}

export function TranscriptView({ transcript, agentName }: { transcript: Transcript; agentName: string }) {
  const entries = visibleEntries(transcript)
  const end = useRef<HTMLLIElement>(null)
  const lastText = entries[entries.length - 1]?.text
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: 'nearest' })
  }, [entries.length, lastText])
  return (
    <div className="transcript-wrap">
      <h2 className="section-title" id="transcript-title">
        Transcript
      </h2>
      <div className="transcript" role="log" aria-live="polite" aria-labelledby="transcript-title" tabIndex={0}>
      <ol className="transcript-lines">
        {entries.length === 0 && <li className="transcript-empty">Nothing said yet.</li>}
        {entries.map((entry) => (
          <li key={entry.segmentId} className={`line line-${entry.speaker}${entry.final ? '' : ' line-partial'}`}>
            <span className="line-who">{entry.speaker === 'user' ? 'You' : agentName}</span>
            <span className="line-text">{entry.text}</span>
          </li>
        ))}
        <li ref={end} aria-hidden="true" className="transcript-end" />
      </ol>
      </div>
    </div>
  )
}

/** The typed-input box: text on `lk.chat` (URLs, spellings). */
export function ChatBox({ call, label }: { call: CallRoom; label: string }) {
  const [text, setText] = useState('')
  const [error, setError] = useState<string | null>(null)
  const disabled = call.phase !== 'live'
  async function submit(event: FormEvent) {
    event.preventDefault()
    const value = text.trim()
    if (!value) return
    try {
      await call.sendText(value)
      setText('')
      setError(null)
    } catch {
      setError('The message could not be sent; the call may have ended.')
    }
  }
  return (
    <form className="chatbox" onSubmit={(e) => void submit(e)}>
      <label htmlFor="chat-input">{label}</label>
      <div className="chatbox-row">
        <input
          id="chat-input"
          type="text"
          value={text}
          onChange={(e) => setText(e.target.value)}
          disabled={disabled}
          autoComplete="off"
          placeholder={disabled ? 'Available during the call' : 'e.g. https://api.example.com/bookings'}
        />
        <button type="submit" className="button" disabled={disabled || !text.trim()}>
          Send
        </button>
      </div>
      {error && <p className="field-error">{error}</p>}
    </form>
  )
}
