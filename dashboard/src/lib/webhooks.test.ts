import { describe, expect, it } from 'vitest'
import { ApiError } from './problem'
import type { WebhookDelivery } from './types'
import { canResend, deliveryOutcome, describeWebhooksError, endpointState, webhookProblems } from './webhooks'

function delivery(values: Partial<WebhookDelivery>): WebhookDelivery {
  return {
    id: 'd1',
    event_id: 'e1',
    event_type: 'call.ended',
    status: 'pending',
    attempts: 0,
    next_retry_at: null,
    last_status_code: null,
    last_error: null,
    created_at: '2026-12-07T12:00:00Z',
    ...values,
  }
}

describe('the add form', () => {
  it('asks for a URL and at least one event', () => {
    expect(webhookProblems('', [])).toEqual({
      url: expect.stringContaining('Enter the URL'),
      events: 'Choose at least one event to send.',
    })
    expect(webhookProblems('crm.example/hooks', ['call.ended']).url).toContain('https://')
    expect(webhookProblems(' https://crm.example/hooks ', ['call.ended'])).toEqual({})
  })
})

describe('an endpoint', () => {
  it('says whether it is on, and why the platform turned it off', () => {
    expect(endpointState({ enabled: true, disabled_reason: null })).toBe('Active')
    expect(endpointState({ enabled: false, disabled_reason: null })).toBe('Paused')
    expect(endpointState({ enabled: false, disabled_reason: 'every delivery failed for 24 hours' })).toBe(
      'Disabled: every delivery failed for 24 hours',
    )
  })
})

describe('a delivery', () => {
  it('says how it went', () => {
    expect(deliveryOutcome(delivery({}))).toBe('Waiting to be sent')
    expect(deliveryOutcome(delivery({ status: 'delivered', attempts: 2, last_status_code: 200 }))).toBe('Delivered (HTTP 200, 2 attempts)')
    expect(deliveryOutcome(delivery({ status: 'failed', attempts: 1, last_status_code: 400, last_error: 'HTTP 400: bad' }))).toBe(
      'Failed: HTTP 400: bad (1 attempt)',
    )
    const retrying = deliveryOutcome(delivery({ attempts: 1, last_status_code: 500, last_error: 'HTTP 500', next_retry_at: '2026-12-07T12:05:00Z' }))
    expect(retrying).toMatch(/^Retrying at .+ \(last: HTTP 500\)$/)
  })

  it('may be resent once it was tried', () => {
    expect(canResend(delivery({}))).toBe(false)
    expect(canResend(delivery({ attempts: 1 }))).toBe(true)
    expect(canResend(delivery({ status: 'failed', attempts: 1 }))).toBe(true)
  })
})

describe('a failure of the webhooks API', () => {
  it("is told in the server's words for the rules it enforces", () => {
    const refused = new ApiError(422, { type: 'urn:voxie:problem:invalid-body', detail: "url: the host '10.0.0.7' is an internal address" })
    expect(describeWebhooksError(refused).message).toContain('internal address')
  })
})
