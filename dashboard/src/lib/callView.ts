/**
 * What a call page shows around its call, from the call's phase and failure: the call panel
 * (state, voice level, transcript) only once there is, or was, a call to show; and the page's
 * own start button only when nothing failed (a failure's notice offers "Try again" itself, and
 * only where retrying can help).
 */

import type { Failure } from './describe'

export type Phase = 'idle' | 'requesting' | 'connecting' | 'waiting-for-agent' | 'live' | 'ended' | 'failed'

export interface CallView {
  /** The call panel: false for a call refused before it had a room (nothing to show in it). */
  panel: boolean
  /** The page's start button: `first` before any call, `again` after one ended; else none. */
  start: 'first' | 'again' | null
}

export function callView(phase: Phase, failure: Failure | null, failedIn: Phase | null): CallView {
  const refused = phase === 'failed' && (failedIn === 'requesting' || failedIn === 'idle')
  const start = failure !== null ? null : phase === 'idle' ? 'first' : phase === 'ended' ? 'again' : null
  return { panel: !refused, start }
}
