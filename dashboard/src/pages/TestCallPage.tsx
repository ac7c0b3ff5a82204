import { useEffect, useRef, useState } from 'react'
import { Link, useLocation, useParams, useSearchParams } from 'react-router-dom'
import { useAuth } from '../auth'
import { CallPanel } from '../call/CallPanel'
import { useCallRoom } from '../call/useCallRoom'
import { callView } from '../lib/callView'
import { FailureNotice, Notice } from '../components/Notice'
import { useLoad } from '../components/useApi'
import { api, query } from '../lib/api'
import type { Agent, RunTarget, SpawnGrant } from '../lib/types'
import { DRAFT, parseTarget, runningLabel, testTarget } from '../lib/versions'
import { useTitle } from '../components/useTitle'

export function TestCallPage() {
  const { agentId = '' } = useParams()
  const location = useLocation()
  const state = (location.state ?? {}) as { autostart?: boolean; name?: string }
  const { config } = useAuth()
  const call = useCallRoom({ agentJoinTimeoutS: config.agent_join_timeout_s })
  // The name for the page; an archived agent answers 404 here, and the spawn says why.
  const { data: agent } = useLoad((signal) => api.get<Agent>(`/api/agents/${encodeURIComponent(agentId)}`, signal).catch(() => null), [agentId])
  const name = agent?.name ?? state.name ?? 'the agent'
  useTitle(`Test ${name}`)

  // `?version=3|draft` (the agent page's "Test this version"): what the spawn runs; none is the
  // published version. What runs is what the spawn answers.
  const [params, setParams] = useSearchParams()
  const asked = parseTarget(params.get('version'))
  const [running, setRunning] = useState<RunTarget | null>(null)
  const start = (target: RunTarget | null = asked) =>
    call.start(async () => {
      const grant = await api.post<SpawnGrant>(`/api/agents/${encodeURIComponent(agentId)}/spawn${query({ version: target })}`)
      setRunning(grant.version)
      return grant
    })
  // A plain call of an agent that takes none yet (a draft, or nothing published) was refused:
  // its draft can still be heard.
  const draftInstead = call.failure !== null && asked !== DRAFT && agent !== null && testTarget(agent) === DRAFT
  function testDraft() {
    setParams({ version: DRAFT }, { replace: true })
    void start(DRAFT)
  }
  const started = useRef(false)
  useEffect(() => {
    if (state.autostart && !started.current) {
      started.current = true
      void start()
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [])

  const view = callView(call.phase, call.failure, call.failedIn)
  return (
    <>
      <div className="page-head">
        <div>
          <p className="crumbs">
            <Link to="/agents">Agents</Link> / {agent ? <Link to={`/agents/${agent.id}`}>{agent.name}</Link> : name}
          </p>
          <h1>Test {name}</h1>
        </div>
        {view.start && (
          <button type="button" className="button button-primary" onClick={() => void start()}>
            {view.start === 'first' ? 'Start test call' : 'Call again'}
          </button>
        )}
      </div>
      {call.phase === 'idle' && <p className="lead">Talk to {name} as a caller would. The call is recorded in Calls.</p>}
      {running !== null && (
        <p className="running-version" role="status">
          {runningLabel(running)}
        </p>
      )}
      {call.failure && <FailureNotice failure={call.failure} onRetry={() => void start()} />}
      {draftInstead && (
        <div className="button-row">
          <button type="button" className="button button-primary" onClick={testDraft}>
            Test draft
          </button>
        </div>
      )}
      {call.phase === 'ended' && call.endedNote && (
        <Notice kind="info">
          {call.endedNote} <Link to={`/calls?agent=${agent?.id ?? agentId}`}>See it in Calls</Link>.
        </Notice>
      )}
      {view.panel && <CallPanel call={call} agentName={name} />}
    </>
  )
}
