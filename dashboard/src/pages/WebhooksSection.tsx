import { useState, type FormEvent } from 'react'
import { ConfirmDialog } from '../components/Confirm'
import { Field } from '../components/Field'
import { ShownOnce } from '../components/ShownOnce'
import { FailureNotice, Notice } from '../components/Notice'
import { useLoad } from '../components/useApi'
import { api } from '../lib/api'
import type { Failure } from '../lib/describe'
import { splitFieldErrors } from '../lib/fieldErrors'
import { formatDateTime } from '../lib/format'
import { ApiError } from '../lib/problem'
import type { EventType, Webhook, WebhookCreate, WebhookCreated, WebhookDelivery, WebhookDeliveryPage, WebhookList } from '../lib/types'
import { canResend, deliveryOutcome, describeWebhooksError, endpointState, EVENT_TYPES, WEBHOOK_FIELDS, webhookProblems } from '../lib/webhooks'

/** The Developers page's webhooks (issue 24): the owner's endpoints, adding one (its signing
 * secret shown once), pausing or deleting one, and an endpoint's recent deliveries, each of
 * which may be sent again. */
export function WebhooksSection() {
  const { data, failure, loading, reload } = useLoad((signal) => api.get<WebhookList>('/api/webhooks', signal), [], describeWebhooksError)
  const [created, setCreated] = useState<WebhookCreated | null>(null)
  const [shown, setShown] = useState<string | null>(null)
  const [deleting, setDeleting] = useState<Webhook | null>(null)
  const [actionFailure, setActionFailure] = useState<Failure | null>(null)
  const [busy, setBusy] = useState(false)

  async function act(run: () => Promise<unknown>) {
    setBusy(true)
    setActionFailure(null)
    try {
      await run()
    } catch (error) {
      setActionFailure(describeWebhooksError(error))
    } finally {
      setBusy(false)
      reload()
    }
  }

  const hooks = data?.items ?? []
  return (
    <>
      {created && <NewSecret created={created} onDone={() => setCreated(null)} />}
      {actionFailure && <FailureNotice failure={actionFailure} />}
      <section className="card" aria-labelledby="webhooks-title">
        <h2 id="webhooks-title">Webhooks</h2>
        <p className="muted">
          Your server is told when a call starts or ends: each event is POSTed as JSON, signed in the <code>Voxie-Signature</code> header, and retried for 24 hours until
          your server answers 2xx. The same event always has the same <code>id</code>.
        </p>
        {failure && <FailureNotice failure={failure} onRetry={reload} />}
        {loading && !data && <p role="status">Loading webhooks…</p>}
        {data && hooks.length === 0 && <p className="muted">No webhooks yet. Add one below.</p>}
        {hooks.length > 0 && (
          <table className="table table-cards webhooks-table">
            <caption className="visually-hidden">Your webhook endpoints, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {hooks.map((hook) => (
                <tr key={hook.id} data-webhook={hook.url}>
                  <th scope="row" data-label="URL" className="wrap-anywhere">
                    <code>{hook.url}</code>
                  </th>
                  <td data-label="Events">{hook.events.join(', ')}</td>
                  <td data-label="State">{endpointState(hook)}</td>
                  <td className="row-actions">
                    <button type="button" className="button button-small button-quiet" onClick={() => setShown(shown === hook.id ? null : hook.id)}>
                      {shown === hook.id ? 'Hide deliveries' : 'Deliveries'}
                    </button>
                    <button
                      type="button"
                      className="button button-small button-quiet"
                      disabled={busy}
                      onClick={() => void act(() => api.patch(`/api/webhooks/${encodeURIComponent(hook.id)}`, { enabled: !hook.enabled }))}
                    >
                      {hook.enabled ? 'Pause' : 'Enable'}
                    </button>
                    <button type="button" className="button button-small button-quiet" onClick={() => setDeleting(hook)}>
                      Delete<span className="visually-hidden"> {hook.url}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {shown && <Deliveries webhookId={shown} />}
      <AddForm
        onCreated={(hook) => {
          setCreated(hook)
          reload()
        }}
      />
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete the webhook to ${deleting?.url ?? ''}?`}
        body="Nothing more is sent to it, and its delivery log is deleted with it."
        confirmLabel="Delete"
        busy={busy}
        onConfirm={() => {
          const hook = deleting
          setDeleting(null)
          if (hook) {
            if (shown === hook.id) setShown(null)
            void act(() => api.delete(`/api/webhooks/${encodeURIComponent(hook.id)}`))
          }
        }}
        onCancel={() => setDeleting(null)}
      />
    </>
  )
}

/** The signing secret just made, the one time it is shown. */
function NewSecret({ created, onDone }: { created: WebhookCreated; onDone: () => void }) {
  return (
    <ShownOnce
      id="new-secret"
      title={`The signing secret of ${created.url}`}
      intro="Copy it now into your server's configuration: this is the only time it is shown. Your server checks each event's signature with it."
      label="Signing secret"
      value={created.secret}
      what="secret"
      onDone={onDone}
    />
  )
}

/** An endpoint's most recent deliveries, newest first; each tried one may be sent again. */
function Deliveries({ webhookId }: { webhookId: string }) {
  const path = `/api/webhooks/${encodeURIComponent(webhookId)}/deliveries`
  const { data, failure, loading, reload } = useLoad(
    (signal) => api.get<WebhookDeliveryPage>(`${path}?limit=20`, signal),
    [path],
    describeWebhooksError,
  )
  const [resent, setResent] = useState<string | null>(null)
  const [resendFailure, setResendFailure] = useState<Failure | null>(null)

  async function resend(delivery: WebhookDelivery) {
    setResendFailure(null)
    try {
      await api.post(`${path}/${encodeURIComponent(delivery.id)}/resend`, {})
      setResent(delivery.event_id)
    } catch (error) {
      setResendFailure(describeWebhooksError(error))
    } finally {
      reload()
    }
  }

  const items = data?.items ?? []
  return (
    <section className="card" aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Recent deliveries</h2>
      {failure && <FailureNotice failure={failure} onRetry={reload} />}
      {resendFailure && <FailureNotice failure={resendFailure} />}
      {resent && <Notice kind="success">Event {resent} will be sent again in a moment, with the same id.</Notice>}
      {loading && !data && <p role="status">Loading deliveries…</p>}
      {data && items.length === 0 && <p className="muted">Nothing sent yet: events appear here when calls start or end.</p>}
      {items.length > 0 && (
        <table className="table table-cards">
          <caption className="visually-hidden">Deliveries, newest first ({data?.total ?? 0} in all)</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Event</th>
              <th scope="col">Outcome</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((delivery) => (
              <tr key={delivery.id} data-delivery={delivery.status}>
                <td data-label="When">{formatDateTime(delivery.created_at)}</td>
                <th scope="row" data-label="Event">
                  {delivery.event_type} <code className="muted wrap-anywhere">{delivery.event_id}</code>
                </th>
                <td data-label="Outcome">{deliveryOutcome(delivery)}</td>
                <td className="row-actions">
                  {canResend(delivery) && (
                    <button type="button" className="button button-small button-quiet" onClick={() => void resend(delivery)}>
                      Resend<span className="visually-hidden"> {delivery.event_id}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}

type Errors = { url?: string; events?: string; general: string[] }

function AddForm({ onCreated }: { onCreated: (hook: WebhookCreated) => void }) {
  const [url, setUrl] = useState('')
  const [events, setEvents] = useState<EventType[]>(EVENT_TYPES.map((e) => e.type))
  const [errors, setErrors] = useState<Errors>({ general: [] })
  const [failure, setFailure] = useState<Failure | null>(null)
  const [busy, setBusy] = useState(false)

  function toggle(type: EventType, on: boolean) {
    setEvents((current) => (on ? EVENT_TYPES.map((e) => e.type).filter((t) => t === type || current.includes(t)) : current.filter((t) => t !== type)))
  }

  async function submit(event: FormEvent) {
    event.preventDefault()
    setFailure(null)
    const problems = webhookProblems(url, events)
    if (problems.url || problems.events) {
      setErrors({ ...problems, general: [] })
      return
    }
    setErrors({ general: [] })
    setBusy(true)
    const body: WebhookCreate = { url: url.trim(), events }
    try {
      const created = await api.post<WebhookCreated>('/api/webhooks', body)
      setUrl('')
      onCreated(created)
    } catch (error) {
      if (error instanceof ApiError && (error.status === 422 || error.status === 400)) {
        const split = splitFieldErrors(error.detail, WEBHOOK_FIELDS)
        setErrors({ url: split.fields.url, events: split.fields.events, general: split.general })
      } else {
        setFailure(describeWebhooksError(error))
      }
    } finally {
      setBusy(false)
    }
  }

  return (
    <section className="card" aria-labelledby="webhook-add-title">
      <h2 id="webhook-add-title">Add a webhook</h2>
      {failure && <FailureNotice failure={failure} />}
      {errors.general.length > 0 && (
        <div className="notice notice-error" role="alert">
          {errors.general.map((g) => <p key={g}>{g}</p>)}
        </div>
      )}
      <form className="form form-grid" onSubmit={(e) => void submit(e)} noValidate autoComplete="off">
        <Field id="webhook-url" label="URL" error={errors.url} hint="A public https:// address of your server.">
          {(props) => <input {...props} type="text" inputMode="url" value={url} spellCheck={false} onChange={(e) => setUrl(e.target.value)} />}
        </Field>
        <fieldset className="subrows wide">
          <legend>Events</legend>
          {EVENT_TYPES.map(({ type, label }) => (
            <label key={type} className="check">
              <input type="checkbox" checked={events.includes(type)} onChange={(e) => toggle(type, e.target.checked)} />
              {label} <code>{type}</code>
            </label>
          ))}
          {errors.events && (
            <p className="field-error" role="alert">
              {errors.events}
            </p>
          )}
        </fieldset>
        <div className="button-row wide">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? 'Adding…' : 'Add webhook'}
          </button>
        </div>
      </form>
    </section>
  )
}
