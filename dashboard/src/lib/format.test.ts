import { describe, expect, it } from 'vitest'
import { formatCallLength, formatEndReason } from './format'

describe('format', () => {
  it('shows a call that began to end as ending, before its end is recorded', () => {
    expect(formatCallLength({ status: 'active', duration_s: null, ending_at: null })).toBe('In progress')
    expect(formatCallLength({ status: 'active', duration_s: null })).toBe('In progress')
    expect(formatCallLength({ status: 'active', duration_s: null, ending_at: '2026-12-07T21:00:00Z' })).toBe('Ending…')
    expect(formatCallLength({ status: 'ended', duration_s: 75, ending_at: '2026-12-07T21:00:00Z' })).toBe('1 min 15 s')
  })

  it('names the End call button’s end one way', () => {
    expect(formatEndReason('user_hangup')).toBe('Caller hung up')
  })
})
