import { useEffect, useState } from 'react'
import { Link } from 'react-router-dom'
import { useAuth } from '../auth'
import { ConfirmDialog } from '../components/Confirm'
import { FailureNotice, Notice } from '../components/Notice'
import { toFailure } from '../components/useApi'
import { api } from '../lib/api'
import type { Failure } from '../lib/describe'
import { formatDuration } from '../lib/format'
import { peopleLabel } from '../lib/people'
import { plural } from '../lib/plural'
import { formatCountdown } from '../lib/retryAfter'
import type { PassReport, RoomView, Stats } from '../lib/types'
import { useTitle } from '../components/useTitle'

const REFRESH_MS = 3000

interface Snapshot {
  rooms: RoomView[]
  stats: Stats
  at: number
}

export function OperationsPage() {
  useTitle('Operations')
  const { account } = useAuth()
  const [snapshot, setSnapshot] = useState<Snapshot | null>(null)
  const [failure, setFailure] = useState<Failure | null>(null)
  const [now, setNow] = useState(() => Date.now())
  const [closing, setClosing] = useState<RoomView | null>(null)
  const [note, setNote] = useState<string | null>(null)
  const [report, setReport] = useState<PassReport | null>(null)
  const [busy, setBusy] = useState(false)
  const [tick, setTick] = useState(0)

  useEffect(() => {
    let stopped = false
    async function load() {
      try {
        const [rooms, stats] = await Promise.all([api.get<{ items: RoomView[] }>('/api/rooms'), api.get<Stats>('/api/stats')])
        if (!stopped) {
          setSnapshot({ rooms: rooms.items, stats, at: Date.now() })
          setFailure(null)
        }
      } catch (error) {
        if (!stopped) setFailure(toFailure(error))
      }
    }
    void load()
    const timer = window.setInterval(() => void load(), REFRESH_MS)
    return () => {
      stopped = true
      window.clearInterval(timer)
    }
  }, [tick])

  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), 1000)
    return () => window.clearInterval(timer)
  }, [])

  async function closeRoom(room: RoomView) {
    setBusy(true)
    try {
      await api.post(`/api/rooms/${encodeURIComponent(room.name)}/close`)
      setNote(`Room ${room.name} was closed; the people in it were told why.`)
      setTick((t) => t + 1)
    } catch (error) {
      setFailure(toFailure(error))
    } finally {
      setBusy(false)
      setClosing(null)
    }
  }

  async function runGc() {
    setBusy(true)
    setReport(null)
    try {
      setReport(await api.post<PassReport>('/api/gc'))
      setTick((t) => t + 1)
    } catch (error) {
      setFailure(toFailure(error))
    } finally {
      setBusy(false)
    }
  }

  const capacity = snapshot?.stats.capacity
  const elapsedS = snapshot ? (now - snapshot.at) / 1000 : 0
  return (
    <>
      <div className="page-head">
        <h1>Operations</h1>
        <button type="button" className="button" disabled={busy} onClick={() => void runGc()}>
          Run GC pass
        </button>
      </div>
      {failure && <FailureNotice failure={failure} />}
      {note && <Notice kind="success">{note}</Notice>}
      {report && (
        <Notice kind="success">
          GC pass done: {plural(report.rooms, 'room')} and {plural(report.open_sessions, 'open session')} checked,{' '}
          {report.actions.length === 0 ? 'nothing to do.' : `${plural(report.actions.length, 'action')}:`}
          {report.actions.length > 0 && (
            <ul>
              {report.actions.map((a, i) => (
                <li key={i}>
                  {a.action} <code>{a.room}</code>: {a.detail}
                </li>
              ))}
            </ul>
          )}
        </Notice>
      )}
      <section className="stats" aria-label="Platform figures">
        <div className="stat card">
          <h2 className="stat-label" id="capacity-label">Capacity</h2>
          {capacity ? (
            <>
              <p className="stat-value">
                {capacity.agent_rooms} <span className="stat-of">of {capacity.max_total_agents}</span>
              </p>
              <meter aria-labelledby="capacity-label" min={0} max={capacity.max_total_agents} value={capacity.agent_rooms} high={capacity.max_total_agents * 0.8} />
              <p className="muted">agent places in use; {capacity.available} free</p>
            </>
          ) : (
            <p className="stat-value">—</p>
          )}
        </div>
        <div className="stat card">
          <h2 className="stat-label">Rooms</h2>
          <p className="stat-value">{snapshot ? snapshot.stats.rooms.agent + snapshot.stats.rooms.creation : '—'}</p>
          <p className="muted">{snapshot ? `${plural(snapshot.stats.rooms.agent, 'agent room')}, ${plural(snapshot.stats.rooms.creation, 'Voxie room')}` : ''}</p>
        </div>
        <div className="stat card">
          <h2 className="stat-label">People in calls</h2>
          <p className="stat-value">{snapshot?.stats.humans ?? '—'}</p>
          <p className="muted">{snapshot ? `${plural(snapshot.stats.agents_running, 'agent')} running` : ''}</p>
        </div>
      </section>
      <section aria-labelledby="rooms-title">
        <h2 id="rooms-title">Live rooms</h2>
        {snapshot && snapshot.rooms.length === 0 && <p className="muted">No live rooms right now.</p>}
        {snapshot && snapshot.rooms.length > 0 && (
          <table className="table table-cards">
            <thead>
              <tr>
                <th scope="col">Room</th>
                <th scope="col">Kind</th>
                <th scope="col">Agent</th>
                <th scope="col">Humans</th>
                <th scope="col">State</th>
                <th scope="col">Age</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {snapshot.rooms.map((room) => {
                const grace = room.grace_remaining_s == null ? null : Math.max(0, room.grace_remaining_s - elapsedS)
                return (
                  <tr key={room.name} data-room={room.name}>
                    <th scope="row" data-label="Room"><code className="room-name">{room.name}</code></th>
                    <td data-label="Kind">{room.kind === 'creation' ? 'Voxie' : 'Agent'}</td>
                    <td data-label="Agent">
                      {room.agent_id ? <Link to={`/calls?agent=${room.agent_id}`}>{room.agent_name ?? room.agent_id.slice(0, 8)}</Link> : 'Voxie'}
                      {!room.agent_present && <span className="muted"> (not joined yet)</span>}
                    </td>
                    <td data-label="Humans">{room.humans.length === 0 ? <span className="muted">none</span> : peopleLabel(room.humans, account)}</td>
                    <td data-label="State">
                      <span className={`badge badge-state-${room.state}`}>{room.state}</span>
                      {grace != null && <span className="grace"> closes in {formatCountdown(grace)}</span>}
                    </td>
                    <td data-label="Age">{formatDuration(room.age_s + elapsedS)}</td>
                    <td className="row-actions">
                      <button type="button" className="button button-small button-danger" onClick={() => setClosing(room)}>
                        Close<span className="visually-hidden"> room {room.name}</span>
                      </button>
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        )}
      </section>
      <ConfirmDialog
        open={closing !== null}
        title="Close this room?"
        body={`Everyone in ${closing?.name ?? ''} is disconnected and told the operator ended the call.`}
        confirmLabel="Close room"
        busy={busy}
        onConfirm={() => closing && void closeRoom(closing)}
        onCancel={() => setClosing(null)}
      />
    </>
  )
}
