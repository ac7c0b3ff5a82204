import { useState, type FormEvent } from 'react'
import { ConfirmDialog } from '../components/Confirm'
import { Field } from '../components/Field'
import { ShownOnce } from '../components/ShownOnce'
import { FailureNotice, Notice } from '../components/Notice'
import { useLoad } from '../components/useApi'
import { useTitle } from '../components/useTitle'
import { curlExample, describeKeysError, KEY_FIELDS, keyLabel, lastUsed, nameMissing } from '../lib/apiKeys'
import { api } from '../lib/api'
import type { Failure } from '../lib/describe'
import { splitFieldErrors } from '../lib/fieldErrors'
import { formatDateTime } from '../lib/format'
import { ApiError } from '../lib/problem'
import type { ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyList } from '../lib/types'
import { WebhooksSection } from './WebhooksSection'

/** What an owner's own servers use to call the API (issue 24): API keys, created here and shown
 * once, listed by prefix and last use, revoked at once; and the webhooks that tell them of calls. */
export function DevelopersPage() {
  useTitle('Developers')
  const { data, failure, loading, reload } = useLoad((signal) => api.get<ApiKeyList>('/api/keys', signal), [], describeKeysError)
  // The new key lives only here, until the owner closes its panel; it is never fetched again.
  const [created, setCreated] = useState<ApiKeyCreated | null>(null)
  const [revoking, setRevoking] = useState<ApiKey | null>(null)
  const [revoked, setRevoked] = useState<string | null>(null)
  const [revokeFailure, setRevokeFailure] = useState<Failure | null>(null)
  const [busy, setBusy] = useState(false)

  async function revoke(key: ApiKey) {
    setBusy(true)
    setRevokeFailure(null)
    try {
      await api.delete(`/api/keys/${encodeURIComponent(key.id)}`)
      setRevoked(key.name)
      if (created?.id === key.id) setCreated(null)
    } catch (error) {
      setRevokeFailure(describeKeysError(error))
    } finally {
      setBusy(false)
      setRevoking(null)
      reload()
    }
  }

  const keys = data?.items ?? []
  return (
    <>
      <div className="page-head">
        <h1>Developers</h1>
      </div>
      <p className="lead">
        Your own servers can use the API as you: create agents, start calls and read their outcomes. Each request carries a key in its header,{' '}
        <code>Authorization: Bearer vx_live_…</code>, and no key can create or revoke keys: that happens here, signed in.
      </p>
      {created && <NewKey created={created} onDone={() => setCreated(null)} />}
      {revoked && <Notice kind="success">API key {revoked} was revoked. Requests made with it are refused from now on.</Notice>}
      {revokeFailure && <FailureNotice failure={revokeFailure} />}
      <section className="card" aria-labelledby="keys-list-title">
        <h2 id="keys-list-title">API keys</h2>
        {failure && <FailureNotice failure={failure} onRetry={reload} />}
        {loading && !data && <p role="status">Loading API keys…</p>}
        {data && keys.length === 0 && <p className="muted">No API keys yet. Create one below for each system that calls the API.</p>}
        {keys.length > 0 && (
          <table className="table table-cards keys-table">
            <caption className="visually-hidden">Your API keys, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((key) => (
                <tr key={key.id} data-key={key.name}>
                  <th scope="row" data-label="Name">
                    {key.name}
                  </th>
                  <td data-label="Key">
                    <code>{keyLabel(key)}</code>
                  </td>
                  <td data-label="Created">{formatDateTime(key.created_at)}</td>
                  <td data-label="Last used" title={key.last_used_at ? formatDateTime(key.last_used_at) : undefined}>
                    {lastUsed(key)}
                  </td>
                  <td className="row-actions">
                    <button type="button" className="button button-small button-quiet" onClick={() => setRevoking(key)}>
                      Revoke<span className="visually-hidden"> {key.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <CreateForm
        onCreated={(key) => {
          setCreated(key)
          setRevoked(null)
          reload()
        }}
      />
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke API key ${revoking?.name ?? ''}?`}
        body="Every request made with it is refused from now on, and it cannot be restored. Systems that use it need a new key."
        confirmLabel="Revoke"
        busy={busy}
        onConfirm={() => revoking && void revoke(revoking)}
        onCancel={() => setRevoking(null)}
      />
      <WebhooksSection />
    </>
  )
}

/** The key just created, the one time it exists outside the caller's systems. */
function NewKey({ created, onDone }: { created: ApiKeyCreated; onDone: () => void }) {
  return (
    <ShownOnce
      id="new-key"
      title={`Your new API key ${created.name}`}
      intro="Copy it now and keep it somewhere safe: this is the only time it is shown. If it is lost, revoke it and create another."
      label={`API key ${created.name}`}
      value={created.key}
      what="key"
      onDone={onDone}
    >
      <p className="muted">Try it:</p>
      <pre className="code-block">{curlExample(created.key, window.location.origin)}</pre>
    </ShownOnce>
  )
}

type Errors = { name?: string; general: string[] }

function CreateForm({ onCreated }: { onCreated: (key: ApiKeyCreated) => void }) {
  const [name, setName] = useState('')
  const [errors, setErrors] = useState<Errors>({ general: [] })
  const [failure, setFailure] = useState<Failure | null>(null)
  const [busy, setBusy] = useState(false)

  async function submit(event: FormEvent) {
    event.preventDefault()
    setFailure(null)
    const missing = nameMissing(name)
    if (missing) {
      setErrors({ name: missing, general: [] })
      return
    }
    setErrors({ general: [] })
    setBusy(true)
    const body: ApiKeyCreate = { name: name.trim() }
    try {
      const created = await api.post<ApiKeyCreated>('/api/keys', body)
      setName('')
      onCreated(created)
    } catch (error) {
      if (error instanceof ApiError && (error.status === 422 || error.status === 400)) {
        const split = splitFieldErrors(error.detail, KEY_FIELDS)
        setErrors({ name: split.fields.name, general: split.general })
      } else {
        setFailure(describeKeysError(error))
      }
    } finally {
      setBusy(false)
    }
  }

  return (
    <section className="card" aria-labelledby="key-create-title">
      <h2 id="key-create-title">Create an API key</h2>
      {failure && <FailureNotice failure={failure} />}
      {errors.general.length > 0 && (
        <div className="notice notice-error" role="alert">
          {errors.general.map((g) => <p key={g}>{g}</p>)}
        </div>
      )}
      <form className="form form-grid" onSubmit={(e) => void submit(e)} noValidate autoComplete="off">
        <Field id="key-name" label="Name" error={errors.name} hint="What uses the key, such as crm-sync: letters, digits, spaces, dots, underscores and hyphens.">
          {(props) => <input {...props} type="text" value={name} maxLength={64} spellCheck={false} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <div className="button-row wide">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create key'}
          </button>
        </div>
      </form>
    </section>
  )
}
