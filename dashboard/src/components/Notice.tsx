import type { ReactNode } from 'react'
import type { Failure } from '../lib/describe'
import { CountdownText, useCountdown } from './Countdown'

/** A failure as a sentence, its Retry-After as a countdown, and what can be done about it. */
export function FailureNotice({ failure, onRetry, retryLabel = 'Try again' }: { failure: Failure; onRetry?: () => void; retryLabel?: string }) {
  const left = useCountdown(failure.retryAfterS)
  const canRetry = failure.action === 'retry' && onRetry
  return (
    <div className="notice notice-error" role="alert">
      <p>{failure.message}</p>
      {failure.retryAfterS != null && left > 0 && (
        <p className="notice-wait" data-testid="retry-countdown">
          Try again in <CountdownText seconds={left} />.
        </p>
      )}
      {canRetry && (
        <button type="button" className="button" onClick={onRetry} disabled={left > 0}>
          {retryLabel}
        </button>
      )}
      {failure.action === 'reload' && (
        <button type="button" className="button" onClick={() => window.location.reload()}>
          Reload
        </button>
      )}
    </div>
  )
}

export function Notice({ kind = 'info', children }: { kind?: 'info' | 'success' | 'error'; children: ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  )
}
