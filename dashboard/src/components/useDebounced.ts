import { useEffect, useState } from 'react'

/** `value` once it has stayed unchanged for `delayMs`: a search box sends one request per pause
 * in typing, not one per key. */
export function useDebounced<T>(value: T, delayMs: number): T {
  const [settled, setSettled] = useState(value)
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delayMs)
    return () => clearTimeout(timer)
  }, [value, delayMs])
  return settled
}
