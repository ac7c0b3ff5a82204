import { useEffect, useState } from 'react'
import { formatCountdown, secondsLeft } from '../lib/retryAfter'

/** Seconds left of `totalS` counted from when the component mounted (or `totalS` changed). */
export function useCountdown(totalS: number | null): number {
  const [started, setStarted] = useState(() => Date.now())
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const begin = Date.now()
    setStarted(begin)
    setNow(begin)
    if (totalS == null || totalS <= 0) return
    const timer = window.setInterval(() => {
      const at = Date.now()
      setNow(at)
      if (secondsLeft(totalS, begin, at) === 0) window.clearInterval(timer)
    }, 250)
    return () => window.clearInterval(timer)
  }, [totalS])
  return totalS == null ? 0 : secondsLeft(totalS, started, now)
}

export function CountdownText({ seconds }: { seconds: number }) {
  return <span className="countdown">{formatCountdown(seconds)}</span>
}
