import { Component, Suspense, lazy, type ComponentType, type ReactNode } from 'react'
import { describePageError, type Failure } from '../lib/describe'
import { FailureNotice } from './Notice'

/** The app's loading state: while the configuration loads, and while a page's code downloads. */
export function Loading() {
  return (
    <p className="splash" role="status">
      Loading…
    </p>
  )
}

/** A page's module, downloaded the first time it is shown (its own chunk of the build): the
 * call pages carry livekit-client, which no other page should pay for. */
export function lazyPage<K extends string>(load: () => Promise<Record<K, ComponentType>>, name: K) {
  return lazy(async () => ({ default: (await load())[name] }))
}

interface BoundaryState {
  path: string
  failure: Failure | null
}

/**
 * The routed pages: "Loading…" while a page's code downloads, and a sentence with "Reload" when
 * it cannot be downloaded (offline, or a deployment replaced the files this tab's index.html
 * names) or the page fails to render — never a blank app. Leaving the page (`path` changes)
 * clears the failure.
 */
export class PageBoundary extends Component<{ path: string; children: ReactNode }, BoundaryState> {
  state: BoundaryState = { path: this.props.path, failure: null }

  static getDerivedStateFromProps(props: { path: string }, state: BoundaryState): Partial<BoundaryState> | null {
    return props.path === state.path ? null : { path: props.path, failure: null }
  }

  static getDerivedStateFromError(error: unknown): Partial<BoundaryState> {
    return { failure: describePageError(error) }
  }

  render() {
    if (this.state.failure) return <FailureNotice failure={this.state.failure} />
    return <Suspense fallback={<Loading />}>{this.props.children}</Suspense>
  }
}
