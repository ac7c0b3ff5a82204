import { useState, type FormEvent } from 'react'
import { useNavigate } from 'react-router-dom'
import { ConfirmDialog } from '../../components/Confirm'
import { FailureNotice, Notice } from '../../components/Notice'
import { toFailure, useLoad } from '../../components/useApi'
import { api, query } from '../../lib/api'
import type { Failure } from '../../lib/describe'
import { formatDateTime } from '../../lib/format'
import type { Agent, AgentVersion, Paged, RunTarget, VersionDiff } from '../../lib/types'
import { useAuth } from '../../auth'
import { personLabel } from '../../lib/people'
import { DRAFT, defaultComparison, diffRows, targetLabel } from '../../lib/versions'
import { VersionBadges } from '../../components/VersionBadges'

/** The agent's versions: which one is live, publishing the draft with a note, rolling back,
 * testing any version or the draft, and a field-by-field diff between any two. */
export function VersionsSection({ agent, onChanged }: { agent: Agent; onChanged: () => void }) {
  const base = `/api/agents/${agent.id}`
  const navigate = useNavigate()
  const { account } = useAuth()
  const { data, failure, reload } = useLoad(
    (signal) => api.get<Paged<AgentVersion>>(`${base}/versions${query({ limit: 50 })}`, signal),
    [base, agent.published_version, agent.version],
  )
  const [note, setNote] = useState('')
  const [busy, setBusy] = useState(false)
  const [done, setDone] = useState<string | null>(null)
  const [actionFailure, setActionFailure] = useState<Failure | null>(null)
  const [rollingBack, setRollingBack] = useState<number | null>(null)

  /** One change of what calls run: its sentence when done, the agent and list reloaded. */
  async function change(action: () => Promise<string>) {
    setBusy(true)
    setDone(null)
    setActionFailure(null)
    try {
      setDone(await action())
      onChanged()
      reload()
    } catch (error) {
      setActionFailure(toFailure(error))
    } finally {
      setBusy(false)
      setRollingBack(null)
    }
  }

  function publish(event: FormEvent) {
    event.preventDefault()
    void change(async () => {
      const published = await api.post<AgentVersion>(`${base}/versions`, { note })
      setNote('')
      return `Published version ${published.version}: calls run it from now.`
    })
  }

  function rollback(version: number) {
    void change(async () => {
      await api.post<Agent>(`${base}/rollback`, { version })
      return `Rolled back: calls run version ${version} from the next call on.`
    })
  }

  const test = (target: RunTarget) =>
    navigate(`/agents/${agent.id}/test${query({ version: target })}`, { state: { autostart: true, name: agent.name } })
  const versions = data?.items ?? []

  return (
    <section className="card" aria-labelledby="versions-title">
      <div className="section-head">
        <h2 id="versions-title">Versions</h2>
        <VersionBadges state={{ publishedVersion: agent.published_version, hasUnpublishedChanges: agent.has_unpublished_changes }} />
      </div>
      {done && <Notice kind="success">{done}</Notice>}
      {actionFailure && <FailureNotice failure={actionFailure} />}
      <form className="publish-form" onSubmit={publish}>
        <div className="field">
          <label htmlFor="publish-note">Note for this version</label>
          <input id="publish-note" type="text" maxLength={500} value={note} onChange={(e) => setNote(e.target.value)} placeholder="What changed, e.g. friendlier greeting" />
        </div>
        <div className="button-row">
          <button type="submit" className="button button-primary" disabled={busy}>
            Publish draft
          </button>
          <button type="button" className="button" onClick={() => test(DRAFT)}>
            Test draft
          </button>
        </div>
      </form>
      {failure && <FailureNotice failure={failure} onRetry={reload} />}
      {data && versions.length === 0 && <p className="muted">Nothing published yet. Publish the draft to make version 1.</p>}
      {versions.length > 0 && (
        <table className="table table-cards">
          <caption className="visually-hidden">Published versions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Published</th>
              <th scope="col">Note</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => {
              const live = v.version === agent.published_version
              return (
                <tr key={v.version} data-version={v.version} data-live={live ? 'true' : undefined}>
                  <th scope="row" data-label="Version">
                    v{v.version} {live && <span className="badge badge-active">Live</span>}
                  </th>
                  <td data-label="Published">
                    {formatDateTime(v.published_at)} by {personLabel(v.published_by, account)}
                  </td>
                  <td data-label="Note">{v.note || <span className="muted">No note</span>}</td>
                  <td className="row-actions">
                    <button type="button" className="button button-small" onClick={() => test(v.version)}>
                      Test this version<span className="visually-hidden"> (v{v.version})</span>
                    </button>
                    {!live && (
                      <button type="button" className="button button-small button-quiet" disabled={busy} onClick={() => setRollingBack(v.version)}>
                        Roll back to v{v.version}
                      </button>
                    )}
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
      {/* Keyed by what is live: a publish or rollback compares the new live version with the draft. */}
      {versions.length > 0 && <DiffView key={agent.published_version ?? 0} base={base} versions={versions} agent={agent} />}
      <ConfirmDialog
        open={rollingBack !== null}
        title={`Roll back to v${rollingBack ?? ''}?`}
        body={`The next call runs version ${rollingBack ?? ''} instead of version ${agent.published_version ?? ''}. Calls already running are not changed, and neither is the draft.`}
        confirmLabel={`Roll back to v${rollingBack ?? ''}`}
        busy={busy}
        onConfirm={() => rollingBack !== null && rollback(rollingBack)}
        onCancel={() => setRollingBack(null)}
      />
    </section>
  )
}

function parseChoice(value: string): RunTarget {
  return value === DRAFT ? DRAFT : Number(value)
}

function DiffView({ base, versions, agent }: { base: string; versions: AgentVersion[]; agent: Agent }) {
  // What calls run against the draft, until the person picks others.
  const initial = defaultComparison(agent.published_version, versions[0]?.version ?? 1)
  const [a, setA] = useState<RunTarget>(initial.a)
  const [b, setB] = useState<RunTarget>(initial.b)
  const { data, failure } = useLoad(
    (signal) => api.get<VersionDiff>(`${base}/versions/${a}/diff/${b}`, signal),
    [base, a, b, agent.version, agent.published_version],
  )
  const choices: RunTarget[] = [DRAFT, ...versions.map((v) => v.version)]
  const rows = data ? diffRows(data) : []
  const select = (id: string, label: string, value: RunTarget, set: (t: RunTarget) => void) => (
    <div className="field field-inline">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={String(value)} onChange={(e) => set(parseChoice(e.target.value))}>
        {choices.map((c) => (
          <option key={String(c)} value={String(c)}>
            {targetLabel(c)}
          </option>
        ))}
      </select>
    </div>
  )
  return (
    <div className="diff">
      <h3 id="diff-title">Compare versions</h3>
      <div className="toolbar">
        {select('diff-a', 'Compare', a, setA)}
        {select('diff-b', 'with', b, setB)}
      </div>
      {failure && <FailureNotice failure={failure} />}
      {data && rows.length === 0 && (
        <p role="status">
          {targetLabel(a)} and {targetLabel(b)} run the same configuration.
        </p>
      )}
      {rows.length > 0 && (
        <table className="table diff-table">
          <caption className="visually-hidden">
            Fields that differ between {targetLabel(a)} and {targetLabel(b)}
          </caption>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">{targetLabel(a)}</th>
              <th scope="col">{targetLabel(b)}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.field} data-field={row.field}>
                <th scope="row">{row.label}</th>
                <td className="prewrap diff-before">{row.before}</td>
                <td className="prewrap diff-after">{row.after}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}
