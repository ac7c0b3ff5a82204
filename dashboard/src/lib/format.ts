/** Display helpers shared by the pages. */

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return '—'
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  const rest = s % 60
  if (m < 60) return `${m} min ${rest.toString().padStart(2, '0')} s`
  return `${Math.floor(m / 60)} h ${(m % 60).toString().padStart(2, '0')} min`
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return '—'
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

export function formatRelative(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return 'never'
  const then = new Date(iso).getTime()
  if (Number.isNaN(then)) return '—'
  const s = Math.round((now.getTime() - then) / 1000)
  if (s < 60) return 'just now'
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  const days = Math.floor(s / 86400)
  return days === 1 ? 'yesterday' : `${days} days ago`
}

const END_REASONS: Record<string, string> = {
  grace_expired: 'Caller left',
  user_hangup: 'Caller hung up',
  end_call: 'Agent ended the call',
  max_duration: 'Reached the time limit',
  error: 'Error',
  shutdown: 'Platform shut down',
  room_closed: 'Room closed',
  lost: 'Lost',
}

export function formatEndReason(reason: string | null | undefined): string {
  if (!reason) return '—'
  return END_REASONS[reason] ?? reason
}

/**
 * A call's length as the lists show it: "Ending…" for a call that began to end (the caller hung
 * up; the worker is still writing the summary), "In progress" for one still running, else its
 * duration.
 */
export function formatCallLength(session: {
  status: string
  duration_s: number | null
  ending_at?: string | null | undefined
}): string {
  if (session.status !== 'active') return formatDuration(session.duration_s)
  return session.ending_at ? 'Ending…' : 'In progress'
}

export function formatNumber(value: number): string {
  return value.toLocaleString()
}
