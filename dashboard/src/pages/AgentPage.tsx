import { useState, type FormEvent } from 'react'
import { Link, useLocation, useNavigate, useParams } from 'react-router-dom'
import { ConfirmDialog } from '../components/Confirm'
import { Field } from '../components/Field'
import { FailureNotice, Notice } from '../components/Notice'
import { StatusBadge } from '../components/StatusBadge'
import { toFailure, useLoad } from '../components/useApi'
import { useCatalog } from '../components/useCatalog'
import { api, query } from '../lib/api'
import type { Failure } from '../lib/describe'
import { summarizeTools } from '../lib/draft'
import { splitFieldErrors, type FieldErrors } from '../lib/fieldErrors'
import { formatDateTime } from '../lib/format'
import { ApiError } from '../lib/problem'
import { modelChoices, pipelineChoices, pipelineLabel, voiceChoices, type Choice } from '../lib/catalog'
import type { Agent, Catalog, Paged, CallSession } from '../lib/types'
import { DRAFT, liveFact, revisionLabel, savedSentence, testTarget, type VersionState } from '../lib/versions'
import { SessionsTable } from './CallsPage'
import { useTitle } from '../components/useTitle'
import { AnalyticsSection } from './agent/AnalyticsSection'
import { ToolSecretBindings, useAgentSecrets } from './agent/ToolSecrets'
import { VersionsSection } from './agent/VersionsSection'

export function AgentPage() {
  const { agentId = '' } = useParams()
  const navigate = useNavigate()
  // Just made on the New agent page: say what it is and what comes next.
  const created = (useLocation().state as { created?: boolean } | null)?.created === true
  const path = `/api/agents/${encodeURIComponent(agentId)}`
  const { data: agent, setData, failure, reload } = useLoad((signal) => api.get<Agent>(path, signal), [path])
  const [editing, setEditing] = useState(false)
  const [savedNote, setSavedNote] = useState<string | null>(null)
  const [archiving, setArchiving] = useState(false)
  const [archiveFailure, setArchiveFailure] = useState<Failure | null>(null)
  useTitle(agent?.name ?? 'Agent')

  if (failure) {
    return (
      <>
        <h1>Agent</h1>
        <FailureNotice failure={failure} onRetry={reload} />
        <p>
          <Link to="/agents">Back to your agents</Link>
        </p>
      </>
    )
  }
  if (!agent) return <p role="status">Loading the agent…</p>

  async function archive() {
    try {
      await api.delete(path)
      navigate('/agents')
    } catch (error) {
      setArchiveFailure(toFailure(error))
      setArchiving(false)
    }
  }

  return (
    <>
      <p className="crumbs">
        <Link to="/agents">Agents</Link> / {agent.name}
      </p>
      <div className="page-head">
        <h1>
          {agent.name} <StatusBadge status={agent.status} />
        </h1>
        <div className="button-row">
          <button
            type="button"
            className="button button-primary"
            onClick={() => navigate(`/agents/${agent.id}/test${query({ version: testTarget(agent) })}`, { state: { autostart: true, name: agent.name } })}
          >
            {testTarget(agent) === DRAFT ? 'Test draft' : 'Test agent'}
          </button>
          <Link className="button" to={`/agents/${agent.id}/voxie`}>
            Edit with Voxie
          </Link>
          {!editing && (
            <button type="button" className="button" onClick={() => { setEditing(true); setSavedNote(null) }}>
              Edit
            </button>
          )}
          <button type="button" className="button button-quiet" onClick={() => setArchiving(true)}>
            Archive
          </button>
        </div>
      </div>
      {created && !savedNote && (
        <Notice kind="success">
          {agent.status === 'active'
            ? `“${agent.name}” was created and is active: calls run version ${agent.published_version ?? 1}.`
            : `“${agent.name}” was created as a draft. Test the draft to hear it; when it is ready, set its status to active (Edit) so calls reach it.`}
        </Notice>
      )}
      {savedNote && <Notice kind="success">{savedNote}</Notice>}
      {archiveFailure && <FailureNotice failure={archiveFailure} />}
      {editing ? (
        <EditForm
          agent={agent}
          onSaved={(updated) => {
            setData(updated)
            setEditing(false)
            setSavedNote(savedSentence(updated.version, versionState(updated), agent.published_version))
          }}
          onCancel={() => setEditing(false)}
          onReload={() => { reload() }}
        />
      ) : (
        <ConfigView agent={agent} />
      )}
      <ActionsView agent={agent} onSaved={setData} />
      <VersionsSection agent={agent} onChanged={reload} />
      <AnalyticsSection agentId={agent.id} />
      <AgentCalls agentId={agent.id} />
      <ConfirmDialog
        open={archiving}
        title={`Archive “${agent.name}”?`}
        body="An archived agent can no longer take calls or be edited. Its calls stay in the history."
        confirmLabel="Archive"
        onConfirm={() => void archive()}
        onCancel={() => setArchiving(false)}
      />
    </>
  )
}

function ConfigView({ agent }: { agent: Agent }) {
  return (
    <section className="card" aria-labelledby="config-title">
      <h2 id="config-title">Configuration</h2>
      <dl className="facts">
        <div><dt>Slug</dt><dd><code>{agent.slug}</code></dd></div>
        <div><dt>Voice</dt><dd>{agent.voice}</dd></div>
        <div><dt>Model</dt><dd>{agent.model}</dd></div>
        <div><dt>Language</dt><dd>{agent.language}</dd></div>
        <div><dt>Pipeline</dt><dd>{pipelineLabel(agent.pipeline)}</dd></div>
        <div><dt>Call summaries</dt><dd>{agent.summarize ? 'On' : 'Off'}</dd></div>
        <div><dt>Live version</dt><dd>{liveFact(versionState(agent))}</dd></div>
        <div><dt>Draft</dt><dd>{revisionLabel(agent.version)}, saved {formatDateTime(agent.updated_at)}</dd></div>
      </dl>
      <h3>Greeting</h3>
      <p className="prewrap">{agent.greeting || <span className="muted">No greeting: the agent waits for the caller.</span>}</p>
      <h3>Instructions</h3>
      <p className="prewrap instructions">{agent.instructions || <span className="muted">No instructions yet.</span>}</p>
    </section>
  )
}

function ActionsView({ agent, onSaved }: { agent: Agent; onSaved: (agent: Agent) => void }) {
  const tools = summarizeTools(agent.tools)
  const { secrets, failure, reload, foreign } = useAgentSecrets(agent)
  const [switched, setSwitched] = useState<string | null>(null)
  return (
    <section className="card" aria-labelledby="actions-title">
      <h2 id="actions-title">Actions</h2>
      {switched && <Notice kind="success">{switched}</Notice>}
      {failure && (
        <FailureNotice failure={{ ...failure, message: `The secrets these actions send could not be checked. ${failure.message}` }} onRetry={reload} />
      )}
      {tools.length === 0 ? (
        <p className="muted">This agent calls no HTTP actions.</p>
      ) : (
        <ul className="actions">
          {tools.map((tool) => (
            <li key={tool.name} className="action" data-tool={tool.name}>
              <p className="action-head">
                <code>{tool.name}</code>
                {tool.kind === 'builtin' ? <span className="muted">built in</span> : (
                  <span className="tool-url"><span className="method">{tool.method}</span> {tool.url}</span>
                )}
              </p>
              {tool.description && <p>{tool.description}</p>}
              {tool.parameters.length > 0 && <p className="muted">Parameters: {tool.parameters.join(', ')}</p>}
              {tool.headers.length > 0 && <p className="muted">Headers: {tool.headers.join(', ')}</p>}
              {secrets && (
                <ToolSecretBindings
                  agent={agent}
                  tool={tool.name}
                  secrets={secrets}
                  foreign={foreign}
                  onSaved={(updated, sentence) => { onSaved(updated); setSwitched(sentence) }}
                />
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

const EDITABLE = ['name', 'slug', 'status', 'voice', 'model', 'language', 'pipeline', 'summarize', 'greeting', 'instructions'] as const
type Editable = (typeof EDITABLE)[number]
type FormValues = Record<Editable, string | boolean>

function EditForm({ agent, onSaved, onCancel, onReload }: { agent: Agent; onSaved: (agent: Agent) => void; onCancel: () => void; onReload: () => void }) {
  const initial: FormValues = Object.fromEntries(EDITABLE.map((k) => [k, agent[k]])) as FormValues
  const [values, setValues] = useState<FormValues>(initial)
  const [errors, setErrors] = useState<FieldErrors>({ fields: {}, general: [] })
  const [failure, setFailure] = useState<Failure | null>(null)
  const [stale, setStale] = useState(false)
  const [busy, setBusy] = useState(false)
  const catalog = useCatalog()

  const set = (key: Editable, value: string | boolean) => setValues((v) => ({ ...v, [key]: value }))

  async function submit(event: FormEvent) {
    event.preventDefault()
    const changes = Object.fromEntries(EDITABLE.filter((k) => values[k] !== initial[k]).map((k) => [k, values[k]]))
    if (Object.keys(changes).length === 0) {
      onCancel()
      return
    }
    setBusy(true)
    setFailure(null)
    setErrors({ fields: {}, general: [] })
    try {
      const updated = await api.patch<Agent>(`/api/agents/${agent.id}`, { ...changes, version: agent.version })
      onSaved(updated)
    } catch (error) {
      if (error instanceof ApiError && (error.status === 422 || error.status === 400)) {
        const split = splitFieldErrors(error.detail, EDITABLE)
        setErrors(split)
        if (Object.keys(split.fields).length === 0) setFailure(toFailure(error))
      } else if (error instanceof ApiError && error.code === 'conflict' && typeof error.problem.current_version === 'number') {
        setStale(true)
      } else if (error instanceof ApiError && error.code === 'conflict' && /slug/i.test(error.detail)) {
        setErrors({ fields: { slug: error.detail }, general: [] })
      } else {
        setFailure(toFailure(error))
      }
    } finally {
      setBusy(false)
    }
  }

  const text = (key: Editable, label: string, extra: { hint?: string } = {}) => (
    <Field id={`edit-${key}`} label={label} error={errors.fields[key]} hint={extra.hint}>
      {(props) => <input {...props} type="text" value={String(values[key])} onChange={(e) => set(key, e.target.value)} />}
    </Field>
  )
  // Voice, model and pipeline: the API's own lists (the stored value stays selectable). Until
  // the catalog is read, the stored value is the only choice.
  const choice = (key: 'voice' | 'model' | 'pipeline', label: string, choices: (catalog: Catalog, current: string) => Choice[]) => {
    const current = String(values[key])
    const options = catalog.data ? choices(catalog.data, current) : [{ value: current, label: key === 'pipeline' ? pipelineLabel(current) : current }]
    return (
      <Field id={`edit-${key}`} label={label} error={errors.fields[key]}>
        {(props) => (
          <select {...props} value={current} onChange={(e) => set(key, e.target.value)}>
            {options.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        )}
      </Field>
    )
  }

  return (
    <section className="card" aria-labelledby="edit-title">
      <h2 id="edit-title">Edit configuration</h2>
      {stale && (
        <div className="notice notice-error" role="alert">
          <p>This agent was changed elsewhere while you were editing. Reload to get the latest version, then make your change again.</p>
          <button type="button" className="button" onClick={onReload}>
            Reload
          </button>
        </div>
      )}
      {failure && <FailureNotice failure={failure} />}
      {catalog.failure && (
        <FailureNotice
          failure={{ ...catalog.failure, message: `The voices and models to choose from could not be read. ${catalog.failure.message}`, action: 'retry' }}
          onRetry={catalog.reload}
        />
      )}
      {errors.general.length > 0 && (
        <div className="notice notice-error" role="alert">
          {errors.general.map((g) => <p key={g}>{g}</p>)}
        </div>
      )}
      <form className="form form-grid" onSubmit={(e) => void submit(e)} noValidate>
        {text('name', 'Name')}
        {text('slug', 'Slug', { hint: 'Lowercase letters, digits and hyphens.' })}
        <Field id="edit-status" label="Status" error={errors.fields.status}>
          {(props) => (
            <select {...props} value={String(values.status)} onChange={(e) => set('status', e.target.value)}>
              <option value="draft">Draft</option>
              <option value="active">Active</option>
            </select>
          )}
        </Field>
        {choice('voice', 'Voice', voiceChoices)}
        {choice('model', 'Model', modelChoices)}
        {text('language', 'Language', { hint: 'A language code such as en or pt-BR.' })}
        {choice('pipeline', 'Pipeline', pipelineChoices)}
        <div className="field field-check">
          <label className="check">
            <input type="checkbox" checked={Boolean(values.summarize)} onChange={(e) => set('summarize', e.target.checked)} />
            Summarize each call
          </label>
          {errors.fields.summarize && <p className="field-error">{errors.fields.summarize}</p>}
        </div>
        <Field id="edit-greeting" label="Greeting" error={errors.fields.greeting} wide>
          {(props) => <textarea {...props} rows={2} value={String(values.greeting)} onChange={(e) => set('greeting', e.target.value)} />}
        </Field>
        <Field id="edit-instructions" label="Instructions" error={errors.fields.instructions} wide>
          {(props) => <textarea {...props} rows={8} value={String(values.instructions)} onChange={(e) => set('instructions', e.target.value)} />}
        </Field>
        <div className="button-row wide">
          <button type="submit" className="button button-primary" disabled={busy || stale}>
            Save changes
          </button>
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  )
}

function AgentCalls({ agentId }: { agentId: string }) {
  const { data, failure } = useLoad((signal) => api.get<Paged<CallSession>>(`/api/sessions${query({ agent_id: agentId, limit: 10 })}`, signal), [agentId])
  return (
    <section className="card" aria-labelledby="agent-calls-title">
      <div className="section-head">
        <h2 id="agent-calls-title">Calls</h2>
        <Link to={`/calls?agent=${agentId}`}>All calls of this agent</Link>
      </div>
      {failure && <FailureNotice failure={failure} />}
      {data && data.items.length === 0 && <p className="muted">No calls yet. Test the agent to make the first one.</p>}
      {data && data.items.length > 0 && <SessionsTable sessions={data.items} showAgent={false} />}
    </section>
  )
}

function versionState(agent: Agent): VersionState {
  return { publishedVersion: agent.published_version, hasUnpublishedChanges: agent.has_unpublished_changes }
}
