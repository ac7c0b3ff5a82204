import { useEffect, useRef, useState } from 'react'
import { Link, useParams, useSearchParams } from 'react-router-dom'
import { AgentPicker } from '../components/AgentPicker'
import { FailureNotice } from '../components/Notice'
import { StatusBadge } from '../components/StatusBadge'
import { toFailure, useLoad } from '../components/useApi'
import { sessionAgentName } from '../lib/agentPicker'
import { api, query } from '../lib/api'
import { toConversation } from '../lib/conversation'
import { plural } from '../lib/plural'
import { formatLatency, turnRows, waitSummary } from '../lib/turns'
import type { Failure } from '../lib/describe'
import { formatCallLength, formatDateTime, formatDuration, formatEndReason, formatNumber } from '../lib/format'
import { appendPage, firstPage, hasMore, showing, type Paging } from '../lib/paging'
import type { CallSession, CallTurn, Paged, SessionDetail } from '../lib/types'
import { useTitle } from '../components/useTitle'

const KINDS: Record<string, string> = { test: 'Test call', live: 'Live call', creation: 'Voxie session' }
const PAGE_SIZE = 50

interface MoreState {
  base: Paging<CallSession> | null
  loading: boolean
  failure: Failure | null
}
const IDLE: MoreState = { base: null, loading: false, failure: null }

function sessionsPage(agentId: string, kind: string, offset: number, signal: AbortSignal) {
  const params = query({ agent_id: agentId || null, kind: kind || null, limit: PAGE_SIZE, offset: offset || null })
  return api.get<Paged<CallSession>>(`/api/sessions${params}`, signal)
}

export function CallsPage() {
  useTitle('Calls')
  const [params, setParams] = useSearchParams()
  const agentId = params.get('agent') ?? ''
  const kind = params.get('kind') ?? ''
  // The API filters (agent and kind) and pages; a filter change or a refresh starts again.
  const { data, setData, failure, loading, reload } = useLoad(
    async (signal) => firstPage(await sessionsPage(agentId, kind, 0, signal)),
    [agentId, kind],
  )
  // "Load more" continues the list it was pressed under; once that list is replaced (a filter, a
  // refresh) or extended, the request is over and its state no longer shown.
  const [more, setMore] = useState<MoreState>(IDLE)
  const moreRequest = useRef<AbortController | null>(null)
  useEffect(() => () => moreRequest.current?.abort(), [data])
  const moreOfThis = data !== null && more.base === data ? more : IDLE
  const loadMore = (base: Paging<CallSession>) => {
    const controller = new AbortController()
    moreRequest.current = controller
    setMore({ base, loading: true, failure: null })
    sessionsPage(agentId, kind, base.nextOffset, controller.signal)
      .then((page) => setData((current) => (current === base ? appendPage(base, page) : current)))
      .catch((error: unknown) => {
        if (!controller.signal.aborted) setMore({ base, loading: false, failure: toFailure(error) })
      })
  }
  const sessions = data?.items ?? []
  const setFilter = (key: string, value: string) => {
    const next = new URLSearchParams(params)
    if (value) next.set(key, value)
    else next.delete(key)
    setParams(next, { replace: true })
  }
  return (
    <>
      <div className="page-head">
        <h1>Calls</h1>
        <button type="button" className="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <div className="toolbar">
        <div className="field field-inline">
          <label htmlFor="filter-agent">Agent</label>
          <AgentPicker id="filter-agent" agentId={agentId} onChange={(id) => setFilter('agent', id)} />
        </div>
        <div className="field field-inline">
          <label htmlFor="filter-kind">Kind</label>
          <select id="filter-kind" value={kind} onChange={(e) => setFilter('kind', e.target.value)}>
            <option value="">All kinds</option>
            {Object.entries(KINDS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
      </div>
      {failure && <FailureNotice failure={{ ...failure, action: 'retry' }} onRetry={reload} />}
      {loading && !data && <p role="status">Loading calls…</p>}
      {data && sessions.length === 0 && (
        <section className="empty card">
          <h2>No calls {agentId || kind ? 'match these filters' : 'yet'}</h2>
          <p>Test an agent from the Agents page; each call shows up here with its transcript.</p>
        </section>
      )}
      {data && sessions.length > 0 && (
        <>
          <p className="muted list-count" role="status">
            {showing(data, 'call')}
          </p>
          <SessionsTable sessions={sessions} showAgent />
          {moreOfThis.failure && <FailureNotice failure={{ ...moreOfThis.failure, action: 'retry' }} onRetry={() => loadMore(data)} />}
          {hasMore(data) && !loading && !moreOfThis.failure && (
            <div className="list-more">
              <button type="button" className="button" onClick={() => loadMore(data)} disabled={moreOfThis.loading}>
                {moreOfThis.loading ? 'Loading more…' : 'Load more'}
              </button>
            </div>
          )}
        </>
      )}
    </>
  )
}

export function SessionsTable({ sessions, showAgent }: { sessions: CallSession[]; showAgent: boolean }) {
  return (
    <table className="table table-cards">
      <caption className="visually-hidden">Calls, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Started</th>
          {showAgent && <th scope="col">Agent</th>}
          <th scope="col">Kind</th>
          <th scope="col">Duration</th>
          <th scope="col">End</th>
          <th scope="col"><span className="visually-hidden">Details</span></th>
        </tr>
      </thead>
      <tbody>
        {sessions.map((s) => {
          const agent = sessionAgentName(s, 'Agent')
          return (
            <tr key={s.id}>
              <th scope="row" data-label="Started">{formatDateTime(s.started_at)}</th>
              {showAgent && <td data-label="Agent">{agent}</td>}
              <td data-label="Kind">{KINDS[s.kind] ?? s.kind}</td>
              <td data-label="Duration">{formatCallLength(s)}</td>
              <td data-label="End">{s.status === 'failed' ? <StatusBadge status="failed" /> : formatEndReason(s.end_reason)}</td>
              <td className="row-actions">
                <Link className="button button-small" to={`/calls/${s.id}`}>
                  View<span className="visually-hidden"> call of {formatDateTime(s.started_at)}{showAgent ? ` with ${agent}` : ''}</span>
                </Link>
              </td>
            </tr>
          )
        })}
      </tbody>
    </table>
  )
}

export function CallDetailPage() {
  const { sessionId = '' } = useParams()
  useTitle('Call')
  const { data, failure, reload } = useLoad((signal) => api.get<SessionDetail>(`/api/sessions/${encodeURIComponent(sessionId)}`, signal), [sessionId])
  if (failure) {
    return (
      <>
        <h1>Call</h1>
        <FailureNotice failure={failure} onRetry={reload} />
      </>
    )
  }
  if (!data) return <p role="status">Loading the call…</p>
  const { session, summary, usage } = data
  const agent = sessionAgentName(session, 'the agent')
  const conversation = toConversation(data.transcript)
  return (
    <>
      <p className="crumbs">
        <Link to="/calls">Calls</Link> / {formatDateTime(session.started_at)}
      </p>
      <h1>{session.kind === 'creation' ? 'Voxie session' : `${KINDS[session.kind] ?? 'Call'} with ${agent}`}</h1>
      <section className="card" aria-labelledby="call-facts">
        <h2 id="call-facts" className="visually-hidden">Details</h2>
        <dl className="facts">
          <div><dt>Started</dt><dd>{formatDateTime(session.started_at)}</dd></div>
          <div><dt>Duration</dt><dd>{formatCallLength(session)}</dd></div>
          <div><dt>End reason</dt><dd>{formatEndReason(session.end_reason)}</dd></div>
          <div><dt>Status</dt><dd><StatusBadge status={session.status} /></dd></div>
          {session.error && <div><dt>Error</dt><dd>{session.error}</dd></div>}
        </dl>
      </section>
      <section className="card" aria-labelledby="summary-title">
        <h2 id="summary-title">Summary</h2>
        <p className="prewrap">{summary || <span className="muted">No summary for this call.</span>}</p>
      </section>
      <TurnLatency turns={data.turns} transcript={data.transcript} />
      <section className="card" aria-labelledby="conversation-title">
        <h2 id="conversation-title">Transcript</h2>
        {conversation.length === 0 ? (
          <p className="muted">Nothing was recorded for this call.</p>
        ) : (
          <ol className="conversation">
            {conversation.map((entry, i) =>
              entry.kind === 'message' ? (
                <li key={i} className={`line line-${entry.role === 'user' ? 'user' : 'agent'}`}>
                  <span className="line-who">{entry.role === 'user' ? 'Caller' : agent}</span>
                  <span className="line-text">
                    {entry.text}
                    {entry.interrupted && <span className="muted"> (interrupted)</span>}
                  </span>
                </li>
              ) : (
                <li key={i} className={`tool-call${entry.isError ? ' tool-error' : ''}`}>
                  <span className="line-who">Action</span>
                  <div>
                    <code>{entry.name}</code>
                    {entry.arguments && <pre className="tool-args">{entry.arguments}</pre>}
                    {entry.output !== null && (
                      <p className="tool-output">
                        {entry.isError ? 'Failed: ' : 'Result: '}
                        {entry.output}
                      </p>
                    )}
                  </div>
                </li>
              ),
            )}
          </ol>
        )}
      </section>
      <section className="card" aria-labelledby="usage-title">
        <h2 id="usage-title">Tokens</h2>
        {usage.length === 0 ? (
          <p className="muted">No model usage was recorded.</p>
        ) : (
          // Six columns do not fit a phone: there each model's figures stack as labelled lines.
          <table className="table table-cards">
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Input</th>
                <th scope="col">Output</th>
                <th scope="col">Audio in</th>
                <th scope="col">Audio out</th>
                <th scope="col">Audio time</th>
              </tr>
            </thead>
            <tbody>
              {usage.map((u) => (
                <tr key={u.model}>
                  <th scope="row" data-label="Model">{u.model}</th>
                  <td data-label="Input">{formatNumber(u.input_tokens)}</td>
                  <td data-label="Output">{formatNumber(u.output_tokens)}</td>
                  <td data-label="Audio in">{formatNumber(u.input_audio_tokens)}</td>
                  <td data-label="Audio out">{formatNumber(u.output_audio_tokens)}</td>
                  <td data-label="Audio time">{formatDuration(u.audio_seconds)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  )
}

/** Each spoken reply's latency: what the caller waited, and the model's part of it. */
function TurnLatency({ turns, transcript }: { turns: CallTurn[]; transcript: Record<string, unknown>[] }) {
  const rows = turnRows(turns, transcript)
  const { answered, slowest } = waitSummary(turns)
  return (
    <section className="card" aria-labelledby="turns-title">
      <h2 id="turns-title">Response times</h2>
      {rows.length === 0 ? (
        <p className="muted">No agent reply was recorded for this call.</p>
      ) : (
        <>
          <p className="muted">
            {answered === 0
              ? 'No reply answered the caller.'
              : `${plural(answered, 'answer')} to the caller; the slowest came after ${formatLatency(slowest)}.`}{' '}
            The wait runs from the end of the caller’s turn (spoken or typed) to the agent’s first audio.
          </p>
          <table className="table table-cards">
            <thead>
              <tr>
                <th scope="col">Turn</th>
                <th scope="col">Agent said</th>
                <th scope="col">Caller waited</th>
                <th scope="col">Model’s first audio</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.turn}>
                  <th scope="row" data-label="Turn">{row.turn}</th>
                  <td data-label="Agent said">
                    {row.said || <span className="muted">—</span>}
                    {row.interrupted && <span className="muted"> (interrupted)</span>}
                  </td>
                  <td data-label="Caller waited">{row.wait}</td>
                  <td data-label="Model’s first audio">{row.model}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  )
}
