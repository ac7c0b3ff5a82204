import { useEffect, useRef, useState } from 'react'
import { Link, useNavigate } from 'react-router-dom'
import { useAuth } from '../auth'
import { ConfirmDialog } from '../components/Confirm'
import { FailureNotice, Notice } from '../components/Notice'
import { StatusBadge } from '../components/StatusBadge'
import { toFailure, useLoad } from '../components/useApi'
import { useDebounced } from '../components/useDebounced'
import { SEARCH_DELAY_MS, SEARCH_MAX_LENGTH } from '../lib/agentPicker'
import { api, query } from '../lib/api'
import type { Failure } from '../lib/describe'
import { formatRelative } from '../lib/format'
import { appendPage, firstPage, hasMore, showing, type Paging } from '../lib/paging'
import type { Agent, AgentListItem, Paged } from '../lib/types'
import { useTitle } from '../components/useTitle'
import { DRAFT, testTarget } from '../lib/versions'

const PAGE_SIZE = 50

/** A list as the API answered it, and what it was asked: an answer to an earlier search must
 * not be taken for one to the current (a cleared search still showing "no match", say). */
interface Listing {
  search: string
  archived: boolean
  list: Paging<AgentListItem>
}

function agentsPath(search: string, archived: boolean, offset: number): string {
  return `/api/agents${query({ limit: PAGE_SIZE, offset: offset || null, include_archived: archived || null, q: search })}`
}

export function AgentsPage() {
  useTitle('Agents')
  const [showArchived, setShowArchived] = useState(false)
  const [search, setSearch] = useState('')
  // The database searches (every owner's agents, for the operator, not only a first page).
  const searched = useDebounced(search.trim(), SEARCH_DELAY_MS)
  const { data, setData, failure, loading, reload } = useLoad<Listing>(
    async (signal) => ({ search: searched, archived: showArchived, list: firstPage(await api.get<Paged<AgentListItem>>(agentsPath(searched, showArchived, 0), signal)) }),
    [showArchived, searched],
  )
  const [loadingMore, setLoadingMore] = useState(false)
  const [moreFailure, setMoreFailure] = useState<Failure | null>(null)
  const moreRequest = useRef<AbortController | null>(null)
  // A new search (or leaving the page) drops the next page still on its way for the old one.
  useEffect(() => () => moreRequest.current?.abort(), [showArchived, searched])
  const [archiving, setArchiving] = useState<Agent | null>(null)
  const [archiveFailure, setArchiveFailure] = useState<Failure | null>(null)
  const [archived, setArchived] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const navigate = useNavigate()
  // The operator sees every owner's agents, so the list says whose each one is.
  const { account } = useAuth()
  const operator = account?.operator === true

  async function loadMore(shown: Listing) {
    moreRequest.current?.abort()
    const controller = new AbortController()
    moreRequest.current = controller
    setLoadingMore(true)
    setMoreFailure(null)
    try {
      const next = await api.get<Paged<AgentListItem>>(agentsPath(shown.search, shown.archived, shown.list.nextOffset), controller.signal)
      // Appended only to the list it continues: a reload meanwhile replaced that list.
      setData((current) => (current === shown ? { ...shown, list: appendPage(shown.list, next) } : current))
    } catch (error) {
      if (!controller.signal.aborted) setMoreFailure(toFailure(error))
    } finally {
      if (moreRequest.current === controller) {
        moreRequest.current = null
        setLoadingMore(false)
      }
    }
  }

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

  const agents = data?.list.items ?? []
  const total = data?.list.total ?? 0
  // No agent in use: the invitation to create one, but archived agents stay one click away.
  // Not when a search finds nothing: that is "no match", with the search box still there.
  const none = data !== null && total === 0 && data.search === '' && !data.archived
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
        <div className="button-row">
          <Link className="button" to="/agents/new">
            New agent
          </Link>
          <Link className="button button-primary" to="/voxie">
            Create with Voxie
          </Link>
        </div>
      </div>
      {archived && <Notice kind="success">“{archived}” was archived. Its calls stay in the history.</Notice>}
      {archiveFailure && <FailureNotice failure={archiveFailure} />}
      {failure && <FailureNotice failure={{ ...failure, action: 'retry' }} onRetry={reload} />}
      {none ? (
        <section className="empty card">
          <h2>No agents yet</h2>
          <p>
            Describe the agent you want to Voxie out loud: its name, voice, greeting, what it should do. Voxie builds it while you talk. Prefer typing? Fill in
            the same things in a form.
          </p>
          <div className="button-row button-row-center">
            <Link className="button button-primary" to="/voxie">
              Create your first agent
            </Link>
            <Link className="button" to="/agents/new">
              Fill in a form instead
            </Link>
          </div>
          <div className="toolbar">{archivedToggle}</div>
        </section>
      ) : (
        <>
          <div className="toolbar">
            <div className="field field-inline">
              <label htmlFor="agent-search">Search agents</label>
              <input
                id="agent-search"
                type="search"
                value={search}
                maxLength={SEARCH_MAX_LENGTH}
                onChange={(e) => setSearch(e.target.value)}
                placeholder={operator ? 'Name, slug, voice or owner id' : 'Name, slug or voice'}
              />
            </div>
            {archivedToggle}
          </div>
          {loading && !data && <p role="status">Loading agents…</p>}
          {data && (
            <p role="status" className="list-count">
              {loading ? (searched === data.search ? 'Loading…' : 'Searching…') : listed(data)}
            </p>
          )}
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
                    <td data-label="Last call">{formatRelative(agent.last_call_at)}</td>
                    <td data-label="Calls (7 days)">{agent.calls_7d}</td>
                    <td className="row-actions">
                      <button
                        type="button"
                        className="button button-small button-primary"
                        onClick={() => navigate(`/agents/${agent.id}/test${query({ version: testTarget(agent) })}`, { state: { autostart: true, name: agent.name } })}
                      >
                        {testTarget(agent) === DRAFT ? 'Test draft' : 'Test'}
                        <span className="visually-hidden"> {agent.name}</span>
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
          {moreFailure && <FailureNotice failure={{ ...moreFailure, action: 'retry' }} onRetry={() => data && void loadMore(data)} />}
          {data && hasMore(data.list) && (
            <div className="list-more">
              <button type="button" className="button" disabled={loadingMore || loading} onClick={() => void loadMore(data)}>
                {loadingMore ? 'Loading…' : 'Load more'}
              </button>
            </div>
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

/** What the list shows, in words: how many of how many, or why nothing. */
function listed({ search, list }: Listing): string {
  if (list.items.length === 0) return search ? `No agent matches “${search}”.` : 'No agents, archived or not.'
  return search ? `${showing(list, 'agent')} matching “${search}”` : showing(list, 'agent')
}

/** The live version and whether the draft waits to be published (issue 17). A never-published
 * agent shows its status alone: all of it is unpublished, and nothing is live. */
function LiveVersion({ agent }: { agent: Agent }) {
  if (agent.published_version === null) return null
  return (
    <>
      <span className="live-version"> v{agent.published_version} live</span>
      {agent.has_unpublished_changes && agent.status !== 'archived' && <span className="badge badge-unpublished">Unpublished changes</span>}
    </>
  )
}
