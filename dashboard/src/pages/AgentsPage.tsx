import { useMemo, useState } from 'react'
import { Link, useNavigate } from 'react-router-dom'
import { useAuth } from '../auth'
import { ConfirmDialog } from '../components/Confirm'
import { FailureNotice, Notice } from '../components/Notice'
import { StatusBadge } from '../components/StatusBadge'
import { toFailure, useLoad } from '../components/useApi'
import { api, query } from '../lib/api'
import type { Failure } from '../lib/describe'
import { formatRelative } from '../lib/format'
import type { Agent, Paged } from '../lib/types'
import { useTitle } from '../components/useTitle'

export function AgentsPage() {
  useTitle('Agents')
  const [showArchived, setShowArchived] = useState(false)
  const { data, failure, loading, reload } = useLoad(
    (signal) => api.get<Paged<Agent>>(`/api/agents${query({ limit: 200, include_archived: showArchived || null })}`, signal),
    [showArchived],
  )
  const [search, setSearch] = useState('')
  const [archiving, setArchiving] = useState<Agent | null>(null)
  const [archiveFailure, setArchiveFailure] = useState<Failure | null>(null)
  const [archived, setArchived] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const navigate = useNavigate()
  // The operator sees every owner's agents, so the list says whose each one is.
  const { account } = useAuth()
  const operator = account?.operator === true

  const agents = useMemo(() => {
    const needle = search.trim().toLowerCase()
    const items = data?.items ?? []
    if (!needle) return items
    return items.filter((a) => [a.name, a.slug, a.voice, a.status, ...(operator ? [a.owner_id] : [])].some((v) => v.toLowerCase().includes(needle)))
  }, [data, search, operator])

  async function archive(agent: Agent) {
    setBusy(true)
    setArchiveFailure(null)
    try {
      await api.delete(`/api/agents/${agent.id}`)
      setArchived(agent.name)
      reload()
    } catch (error) {
      setArchiveFailure(toFailure(error))
    } finally {
      setBusy(false)
      setArchiving(null)
    }
  }

  // No agent in use: the invitation to create one, but archived agents stay one click away.
  const none = data !== null && data.items.length === 0 && !showArchived
  const archivedToggle = (
    <label className="check">
      <input type="checkbox" checked={showArchived} onChange={(e) => setShowArchived(e.target.checked)} />
      Show archived
    </label>
  )
  return (
    <>
      <div className="page-head">
        <h1>Agents</h1>
        <Link className="button button-primary" to="/voxie">
          Create with Voxie
        </Link>
      </div>
      {archived && <Notice kind="success">“{archived}” was archived. Its calls stay in the history.</Notice>}
      {archiveFailure && <FailureNotice failure={archiveFailure} />}
      {failure && <FailureNotice failure={{ ...failure, action: 'retry' }} onRetry={reload} />}
      {none ? (
        <section className="empty card">
          <h2>No agents yet</h2>
          <p>Describe the agent you want to Voxie out loud: its name, voice, greeting, what it should do. Voxie builds it while you talk.</p>
          <Link className="button button-primary" to="/voxie">
            Create your first agent
          </Link>
          <div className="toolbar">{archivedToggle}</div>
        </section>
      ) : (
        <>
          <div className="toolbar">
            <div className="field field-inline">
              <label htmlFor="agent-search">Search agents</label>
              <input id="agent-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder={operator ? 'Name, slug, voice, status or owner' : 'Name, slug, voice or status'} />
            </div>
            {archivedToggle}
          </div>
          {loading && !data && <p role="status">Loading agents…</p>}
          {data && agents.length === 0 && <p role="status">{search.trim() ? `No agent matches “${search}”.` : 'No agents, archived or not.'}</p>}
          {agents.length > 0 && (
            <table className="table table-cards">
              <caption className="visually-hidden">Your agents</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  {operator && <th scope="col">Owner</th>}
                  <th scope="col">Status</th>
                  <th scope="col">Voice</th>
                  <th scope="col">Last call</th>
                  <th scope="col">Calls (7 days)</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {agents.map((agent) => (
                  <tr key={agent.id}>
                    <th scope="row" data-label="Name">
                      {agent.status === 'archived' ? (
                        <span className="agent-name">{agent.name}</span>
                      ) : (
                        <Link className="agent-name" to={`/agents/${agent.id}`}>
                          {agent.name}
                        </Link>
                      )}
                      <span className="slug">{agent.slug}</span>
                    </th>
                    {operator && (
                      <td data-label="Owner">
                        {agent.owner_id === account?.ownerId ? 'You' : <code className="owner">{agent.owner_id}</code>}
                      </td>
                    )}
                    <td data-label="Status">
                      <StatusBadge status={agent.status} />
                      <LiveVersion agent={agent} />
                    </td>
                    <td data-label="Voice">{agent.voice}</td>
                    <td data-label="Last call">{formatRelative(agent.last_call_at ?? null)}</td>
                    <td data-label="Calls (7 days)">{agent.calls_7d ?? 0}</td>
                    <td className="row-actions">
                      <button
                        type="button"
                        className="button button-small button-primary"
                        onClick={() => navigate(`/agents/${agent.id}/test`, { state: { autostart: true, name: agent.name } })}
                      >
                        Test<span className="visually-hidden"> {agent.name}</span>
                      </button>
                      {agent.status !== 'archived' && (
                        <>
                          <Link className="button button-small" to={`/agents/${agent.id}/voxie`}>
                            Edit with Voxie<span className="visually-hidden"> {agent.name}</span>
                          </Link>
                          <button type="button" className="button button-small button-quiet" onClick={() => setArchiving(agent)}>
                            Archive<span className="visually-hidden"> {agent.name}</span>
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
      <ConfirmDialog
        open={archiving !== null}
        title={`Archive “${archiving?.name ?? ''}”?`}
        body="An archived agent can no longer take calls or be edited. Its calls stay in the history."
        confirmLabel="Archive"
        busy={busy}
        onConfirm={() => archiving && void archive(archiving)}
        onCancel={() => setArchiving(null)}
      />
    </>
  )
}

/** The live version and whether the draft waits to be published (issue 17). */
function LiveVersion({ agent }: { agent: Agent }) {
  return (
    <>
      {agent.published_version !== null && <span className="live-version"> v{agent.published_version} live</span>}
      {agent.has_unpublished_changes && agent.status !== 'archived' && <span className="badge badge-unpublished">Unpublished changes</span>}
    </>
  )
}
