import { useMemo, useRef, useState } from 'react'
import { Link, useParams } from 'react-router-dom'
import { useAuth } from '../auth'
import { CallPanel, ChatBox } from '../call/CallPanel'
import { useCallRoom } from '../call/useCallRoom'
import { callView } from '../lib/callView'
import { FailureNotice, Notice } from '../components/Notice'
import { useLoad } from '../components/useApi'
import { api } from '../lib/api'
import { changedFields, parseAgentSaved, parseDraft, summarizeTools, type AgentSaved, type Draft, type DraftField } from '../lib/draft'
import type { Agent, RoomGrant } from '../lib/types'
import { parseAgentVersion, type AgentVersionMessage } from '../lib/versions'
import { VersionBadges } from '../components/VersionBadges'
import { useTitle } from '../components/useTitle'

export function VoxiePage() {
  const { agentId } = useParams()
  const { config } = useAuth()
  const [draft, setDraft] = useState<Draft | null>(null)
  const [changed, setChanged] = useState<DraftField[]>([])
  const [saved, setSaved] = useState<AgentSaved | null>(null)
  const [live, setLive] = useState<AgentVersionMessage | null>(null)
  const draftRef = useRef<Draft | null>(null)
  const topics = useMemo(
    () => ({
      'voxie.draft': (payload: string) => {
        const next = parseDraft(payload)
        if (!next) return
        setChanged(changedFields(draftRef.current, next))
        draftRef.current = next
        setDraft(next)
      },
      'voxie.agent_saved': (payload: string) => {
        const value = parseAgentSaved(payload)
        if (value) setSaved(value)
      },
      'voxie.agent_version': (payload: string) => {
        const value = parseAgentVersion(payload)
        if (value) setLive(value)
      },
    }),
    [],
  )
  const call = useCallRoom({ topics, agentJoinTimeoutS: config.agent_join_timeout_s })
  const { data: editing } = useLoad(
    (signal) => (agentId ? api.get<Agent>(`/api/agents/${encodeURIComponent(agentId)}`, signal) : Promise.resolve(null)),
    [agentId],
  )

  function start() {
    draftRef.current = null
    setDraft(null)
    setChanged([])
    setSaved(null)
    setLive(null)
    return call.start(() => api.post<RoomGrant>('/api/voxie/sessions', agentId ? { agent_id: agentId } : {}))
  }

  const title = agentId ? `Edit ${editing?.name ?? 'agent'} with Voxie` : 'Create an agent with Voxie'
  useTitle(title)
  const view = callView(call.phase, call.failure, call.failedIn)
  return (
    <>
      <div className="page-head">
        <h1>{title}</h1>
        {view.start && (
          <button type="button" className="button button-primary" onClick={() => void start()}>
            {view.start === 'first' ? 'Start talking to Voxie' : 'Talk to Voxie again'}
          </button>
        )}
      </div>
      {call.phase === 'idle' && (
        <p className="lead">
          Voxie asks what your agent should do and fills in the draft as you talk. Type web addresses and spellings in the box; say “save it” when the draft looks right.
        </p>
      )}
      {call.failure && <FailureNotice failure={call.failure} onRetry={() => void start()} />}
      {saved && (
        <Notice kind="success">
          <p className="saved-line">
            <strong>Saved.</strong> “{saved.name}” is ready.
          </p>
          <div className="button-row">
            <Link className="button button-primary" to={`/agents/${saved.agentId}/test`} state={{ autostart: true, name: saved.name }} onClick={() => void call.end()}>
              Test it now
            </Link>
            <Link className="button" to={`/agents/${saved.agentId}`}>
              Open agent page
            </Link>
          </div>
        </Notice>
      )}
      <div className="split">
        <CallPanel call={call} agentName="Voxie">
          <ChatBox call={call} label="Type to Voxie" />
        </CallPanel>
        <DraftCard draft={draft} changed={changed} editing={editing ?? null} live={live} />
      </div>
    </>
  )
}

const CARD_FIELDS: { key: DraftField; label: string }[] = [
  { key: 'name', label: 'Name' },
  { key: 'voice', label: 'Voice' },
  { key: 'greeting', label: 'Greeting' },
  { key: 'tools', label: 'Actions' },
  { key: 'instructions', label: 'Instructions' },
]

/** Which version calls run and whether the saved draft waits to be published. */
function VersionLine({ live }: { live: AgentVersionMessage }) {
  return <VersionBadges state={live} role="status" />
}

function DraftCard({ draft, changed, editing, live }: { draft: Draft | null; changed: DraftField[]; editing: Agent | null; live: AgentVersionMessage | null }) {
  const fields: Partial<Record<DraftField, unknown>> = draft?.fields ?? (editing ? { ...editing } : {})
  const missing = new Set(draft?.missing ?? [])
  return (
    <section className="card draft" aria-labelledby="draft-title">
      <div className="draft-head">
        <h2 id="draft-title">Draft</h2>
        {draft && <span className={`badge badge-${draft.status}`}>{draft.status === 'active' ? 'Active' : 'Draft'}</span>}
      </div>
      {live ? (
        <VersionLine live={live} />
      ) : (
        editing && <VersionLine live={{ agentId: editing.id, publishedVersion: editing.published_version, hasUnpublishedChanges: editing.has_unpublished_changes }} />
      )}
      {!draft && !editing && <p className="muted">The draft fills in here as you talk to Voxie.</p>}
      <dl className="draft-fields" aria-live="polite">
        {CARD_FIELDS.map(({ key, label }) => {
          const isChanged = changed.includes(key)
          return (
            <div key={key} className={`draft-field${isChanged ? ' changed' : ''}`} data-field={key} data-changed={isChanged ? 'true' : undefined}>
              <dt>
                {label}
                {isChanged && <span className="changed-badge">Just updated</span>}
              </dt>
              <dd>
                <FieldValue field={key} value={fields[key]} missing={missing.has(key)} slug={typeof fields.slug === 'string' ? fields.slug : null} />
              </dd>
            </div>
          )
        })}
      </dl>
    </section>
  )
}

function FieldValue({ field, value, missing, slug }: { field: DraftField; value: unknown; missing: boolean; slug: string | null }) {
  if (field === 'tools') {
    const tools = summarizeTools(value)
    if (tools.length === 0) return <span className="muted">None yet</span>
    return (
      <ul className="tool-list">
        {tools.map((tool) => (
          <li key={tool.name}>
            <code>{tool.name}</code>
            {tool.url && (
              <span className="tool-url">
                {tool.method} {tool.url}
              </span>
            )}
            {tool.kind === 'builtin' && <span className="muted"> built in</span>}
          </li>
        ))}
      </ul>
    )
  }
  if (typeof value !== 'string' || value === '') return <span className="muted">{missing ? 'Still needed' : 'Not set yet'}</span>
  if (field === 'name' && slug) {
    return (
      <>
        {value} <span className="slug">{slug}</span>
      </>
    )
  }
  return <span className={field === 'instructions' ? 'prewrap clamp' : undefined}>{value}</span>
}
