/**
 * Event webhooks as the Developers page shows them (issue 24): an owner's endpoints, each told
 * of the events it subscribes to, signed with a secret shown once, and a delivery log.
 * `POST /api/webhooks {"url": "https://crm.example/hooks/voxie", "events": ["call.ended"]}`
 * answers with the endpoint and its `secret` once; `GET /api/webhooks/{id}/deliveries` pages its
 * deliveries newest first. The server's rules (public URLs, at most 20 endpoints) are the
 * server's: the page shows its sentences.
 */

import { describeInServerWords, type Failure } from './describe'
import { formatDateTime } from './format'
import type { EventType, Webhook, WebhookDelivery } from './types'

/** Every event an endpoint may subscribe to, with what it means, in the order offered. */
export const EVENT_TYPES: readonly { type: EventType; label: string }[] = [
  { type: 'call.started', label: 'A call started' },
  { type: 'call.ended', label: 'A call ended' },
]

/** The create form's fields, as the API's 422 details name them. */
export const WEBHOOK_FIELDS = ['url', 'events'] as const

/** The create form's obvious omissions, by field (empty: send it). */
export function webhookProblems(url: string, events: readonly EventType[]): { url?: string; events?: string } {
  const problems: { url?: string; events?: string } = {}
  const trimmed = url.trim()
  if (!trimmed) problems.url = 'Enter the URL your server receives events at, such as https://crm.example/hooks/voxie.'
  else if (!/^https?:\/\/[^/\s]+/i.test(trimmed)) problems.url = 'The URL starts with https:// (or http://) and a host name.'
  if (events.length === 0) problems.events = 'Choose at least one event to send.'
  return problems
}

/** An endpoint's state in a few words: on, off by its owner, or off because it kept failing. */
export function endpointState(webhook: Pick<Webhook, 'enabled' | 'disabled_reason'>): string {
  if (webhook.enabled) return 'Active'
  return webhook.disabled_reason ? `Disabled: ${webhook.disabled_reason}` : 'Paused'
}

/** A delivery's outcome in a few words: delivered with its status code, waiting for its next
 * try, or failed for good with why. */
export function deliveryOutcome(delivery: WebhookDelivery): string {
  const code = delivery.last_status_code ? `HTTP ${delivery.last_status_code}` : null
  const tries = delivery.attempts === 1 ? '1 attempt' : `${delivery.attempts} attempts`
  switch (delivery.status) {
    case 'delivered':
      return `Delivered (${[code, tries].filter(Boolean).join(', ')})`
    case 'failed':
      return `Failed: ${delivery.last_error ?? code ?? 'not retried'} (${tries})`
    default:
      if (delivery.attempts === 0) return 'Waiting to be sent'
      return `Retrying ${delivery.next_retry_at ? `at ${formatDateTime(delivery.next_retry_at)}` : 'soon'} (last: ${delivery.last_error ?? code ?? 'no answer'})`
  }
}

/** Whether "Resend" makes sense: not for a delivery still waiting for its turn. */
export function canResend(delivery: Pick<WebhookDelivery, 'status' | 'attempts'>): boolean {
  return delivery.status !== 'pending' || delivery.attempts > 0
}

/** A failure of the webhooks API as a sentence: the server's own words for a 409 (at most 20
 * endpoints), a 422 (an internal address) and an unconfigured server's 503. */
export function describeWebhooksError(error: unknown): Failure {
  return describeInServerWords(error, [409, 422, 503])
}
