import { describe, expect, it } from 'vitest'
import { formatCountdown, parseRetryAfter, secondsLeft } from './retryAfter'

describe('Retry-After', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('30')).toBe(30)
    expect(parseRetryAfter(' 2.5 ')).toBe(3)
    expect(parseRetryAfter('0')).toBe(0)
  })

  it('reads an HTTP-date relative to now', () => {
    const now = new Date('2026-12-01T10:00:00Z')
    expect(parseRetryAfter('Tue, 01 Dec 2026 10:00:45 GMT', now)).toBe(45)
    expect(parseRetryAfter('Tue, 01 Dec 2026 09:00:00 GMT', now)).toBe(0)
  })

  it('gives null for a missing or unreadable header', () => {
    expect(parseRetryAfter(null)).toBeNull()
    expect(parseRetryAfter('')).toBeNull()
    expect(parseRetryAfter('soon')).toBeNull()
    expect(parseRetryAfter('-5')).toBeNull()
  })

  it('counts down and never below zero', () => {
    expect(secondsLeft(30, 1_000, 1_000)).toBe(30)
    expect(secondsLeft(30, 1_000, 11_500)).toBe(20)
    expect(secondsLeft(30, 1_000, 99_000)).toBe(0)
  })

  it('formats a countdown', () => {
    expect(formatCountdown(45)).toBe('45 s')
    expect(formatCountdown(60)).toBe('1 min')
    expect(formatCountdown(65)).toBe('1 min 5 s')
    expect(formatCountdown(-3)).toBe('0 s')
  })
})
