import { useRef, useState, type FormEvent } from 'react'
import { ConfirmDialog } from '../components/Confirm'
import { Field } from '../components/Field'
import { FailureNotice, Notice } from '../components/Notice'
import { useLoad } from '../components/useApi'
import { useTitle } from '../components/useTitle'
import { api } from '../lib/api'
import type { Failure } from '../lib/describe'
import { splitFieldErrors } from '../lib/fieldErrors'
import { formatDateTime } from '../lib/format'
import { ApiError } from '../lib/problem'
import { SECRET_FIELDS, createConflict, describeSecretsError, emptyFields, nameHosts, parseHosts, type SecretField } from '../lib/secrets'
import type { Secret, SecretCreate, SecretList } from '../lib/types'

/** The caller's tool secrets (issue 21): values an agent's HTTP actions send in a header, each
 * only to the hosts named with it. A value goes to the server once and is never shown again. */
export function SecretsPage() {
  useTitle('Secrets')
  const { data, failure, loading, reload } = useLoad((signal) => api.get<SecretList>('/api/secrets', signal), [], describeSecretsError)
  const [saved, setSaved] = useState<string | null>(null)
  const [deleting, setDeleting] = useState<Secret | null>(null)
  const [deleted, setDeleted] = useState<string | null>(null)
  const [deleteFailure, setDeleteFailure] = useState<Failure | null>(null)
  const [busy, setBusy] = useState(false)

  async function remove(secret: Secret) {
    setBusy(true)
    setDeleteFailure(null)
    setSaved(null)
    try {
      await api.delete(`/api/secrets/${encodeURIComponent(secret.name)}`)
      setDeleted(secret.name)
    } catch (error) {
      setDeleteFailure(describeSecretsError(error))
    } finally {
      setBusy(false)
      setDeleting(null)
      reload()
    }
  }

  const secrets = data?.items ?? []
  return (
    <>
      <div className="page-head">
        <h1>Secrets</h1>
      </div>
      <p className="lead">
        API keys and tokens your agents’ actions send in a header. Each secret is sent only to the hosts you name with it, and its value is never shown
        again once saved.
      </p>
      {saved && <Notice kind="success">Secret {saved} was saved. Its value is not shown again.</Notice>}
      {deleted && <Notice kind="success">Secret {deleted} was deleted. Actions that send it fail until one of that name is created again.</Notice>}
      {deleteFailure && <FailureNotice failure={deleteFailure} />}
      <section className="card" aria-labelledby="secrets-list-title">
        <h2 id="secrets-list-title">Your secrets</h2>
        {failure && <FailureNotice failure={failure} onRetry={reload} />}
        {loading && !data && <p role="status">Loading secrets…</p>}
        {data && secrets.length === 0 && <p className="muted">No secrets yet. Add one below, then name it in an action’s header.</p>}
        {secrets.length > 0 && (
          <table className="table table-cards secrets-table">
            <caption className="visually-hidden">Your secrets, by name</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Hosts</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {secrets.map((secret) => (
                <tr key={secret.name} data-secret={secret.name}>
                  <th scope="row" data-label="Name">
                    <code>{secret.name}</code>
                  </th>
                  <td data-label="Hosts">
                    <ul className="host-list">
                      {secret.hosts.map((host) => (
                        <li key={host}>
                          <code>{host}</code>
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td data-label="Created">{formatDateTime(secret.created_at)}</td>
                  <td data-label="Last used">{secret.last_used_at ? formatDateTime(secret.last_used_at) : 'never'}</td>
                  <td className="row-actions">
                    {secret.source === 'environment' ? (
                      <span className="muted">from the server’s environment</span>
                    ) : (
                      <button type="button" className="button button-small button-quiet" onClick={() => setDeleting(secret)}>
                        Delete<span className="visually-hidden"> {secret.name}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <CreateForm
        onCreated={(created) => {
          setSaved(created.name)
          setDeleted(null)
          reload()
        }}
      />
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete secret ${deleting?.name ?? ''}?`}
        body="Actions that send it will fail until a secret of this name is created again. Its value cannot be recovered."
        confirmLabel="Delete"
        busy={busy}
        onConfirm={() => deleting && void remove(deleting)}
        onCancel={() => setDeleting(null)}
      />
    </>
  )
}

type Errors = { fields: Partial<Record<SecretField, string>>; general: string[] }
const NO_ERRORS: Errors = { fields: {}, general: [] }

function CreateForm({ onCreated }: { onCreated: (secret: Secret) => void }) {
  const [name, setName] = useState('')
  const [hosts, setHosts] = useState('')
  // The value stays in its input only (never in React state) and is read once, on submit.
  const valueInput = useRef<HTMLInputElement>(null)
  const [errors, setErrors] = useState<Errors>(NO_ERRORS)
  const [failure, setFailure] = useState<Failure | null>(null)
  const [busy, setBusy] = useState(false)

  async function submit(event: FormEvent) {
    event.preventDefault()
    const input = valueInput.current
    if (!input) return
    const body: SecretCreate = { name: name.trim(), value: input.value, hosts: parseHosts(hosts) }
    setFailure(null)
    const missing = emptyFields(body)
    if (Object.keys(missing).length > 0) {
      setErrors({ fields: missing, general: [] })
      return
    }
    setErrors(NO_ERRORS)
    setBusy(true)
    try {
      const created = await api.post<Secret>('/api/secrets', body)
      input.value = ''
      setName('')
      setHosts('')
      onCreated(created)
    } catch (error) {
      if (error instanceof ApiError && (error.status === 422 || error.status === 400)) {
        const split = splitFieldErrors(error.detail, SECRET_FIELDS)
        const hostsReason = split.fields.hosts
        setErrors(hostsReason ? { ...split, fields: { ...split.fields, hosts: nameHosts(hostsReason, body.hosts) } } : split)
        if (Object.keys(split.fields).length === 0) setFailure(describeSecretsError(error))
      } else if (error instanceof ApiError && error.status === 409) {
        const { field, message } = createConflict(error.detail, body.name)
        setErrors(field ? { fields: { [field]: message }, general: [] } : { fields: {}, general: [message] })
      } else {
        setFailure(describeSecretsError(error))
      }
    } finally {
      setBusy(false)
    }
  }

  return (
    <section className="card" aria-labelledby="secret-create-title">
      <h2 id="secret-create-title">Add a secret</h2>
      {failure && <FailureNotice failure={failure} />}
      {errors.general.length > 0 && (
        <div className="notice notice-error" role="alert">
          {errors.general.map((g) => <p key={g}>{g}</p>)}
        </div>
      )}
      <form className="form form-grid" onSubmit={(e) => void submit(e)} noValidate autoComplete="off">
        <Field id="secret-name" label="Name" error={errors.fields.name} hint="Capital letters, digits and underscores, starting with a letter: CLINIC_API_TOKEN.">
          {(props) => <input {...props} type="text" value={name} spellCheck={false} autoCapitalize="characters" onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field id="secret-value" label="Value" error={errors.fields.value} hint="Sent as the header’s value, exactly as typed (include “Bearer ” if the API wants it).">
          {(props) => <input {...props} ref={valueInput} type="password" autoComplete="off" spellCheck={false} />}
        </Field>
        <Field
          id="secret-hosts"
          label="Hosts it may be sent to"
          error={errors.fields.hosts}
          hint="One per line: a host name such as api.clinic.example, or *.clinic.example for every host under clinic.example."
          wide
        >
          {(props) => <textarea {...props} rows={3} value={hosts} spellCheck={false} onChange={(e) => setHosts(e.target.value)} />}
        </Field>
        <div className="button-row wide">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? 'Saving…' : 'Add secret'}
          </button>
        </div>
      </form>
    </section>
  )
}
