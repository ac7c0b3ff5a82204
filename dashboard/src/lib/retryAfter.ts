/**
 * Retry-After (RFC 9110 §10.2.3): either delay-seconds or an HTTP-date. The API sends seconds
 * with its 429 and 503 answers; a proxy in between may rewrite it as a date.
 */

/** Whole seconds to wait, or null when the header is missing or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: Date = new Date()): number | null {
  if (value == null) return null
  const text = value.trim()
  if (text === '') return null
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text))
  // An HTTP-date names its weekday and month; Date.parse alone would read "-5" as a year.
  if (!/[A-Za-z]/.test(text)) return null
  const at = Date.parse(text)
  if (Number.isNaN(at)) return null
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000))
}

/** Seconds left of a wait of `totalS` that started at `startedAtMs`, never below zero. */
export function secondsLeft(totalS: number, startedAtMs: number, nowMs: number): number {
  return Math.max(0, Math.ceil(totalS - (nowMs - startedAtMs) / 1000))
}

/** "45 s", "1 min 5 s": a countdown a person reads at a glance. */
export function formatCountdown(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  const rest = s % 60
  return rest === 0 ? `${m} min` : `${m} min ${rest} s`
}
