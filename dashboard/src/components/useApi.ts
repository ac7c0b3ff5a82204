import { useCallback, useEffect, useState } from 'react'
import { ApiError } from '../lib/problem'
import { describeApiError, describeCallError, type Failure } from '../lib/describe'

export function toFailure(error: unknown): Failure {
  return error instanceof ApiError ? describeApiError(error) : describeCallError(error)
}

/** Loads `fetcher`'s data on mount and whenever `deps` change; `reload` loads again. A failure is
 * said by `describe` (a page whose API has failures of its own says them its way). */
export function useLoad<T>(fetcher: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[], describe: (error: unknown) => Failure = toFailure) {
  const [data, setData] = useState<T | null>(null)
  const [failure, setFailure] = useState<Failure | null>(null)
  const [loading, setLoading] = useState(true)
  const [tick, setTick] = useState(0)
  useEffect(() => {
    const controller = new AbortController()
    setLoading(true)
    fetcher(controller.signal)
      .then((value) => {
        setData(value)
        setFailure(null)
      })
      .catch((error: unknown) => {
        if (!controller.signal.aborted) setFailure(describe(error))
      })
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false)
      })
    return () => controller.abort()
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick])
  const reload = useCallback(() => setTick((t) => t + 1), [])
  return { data, setData, failure, loading, reload }
}
