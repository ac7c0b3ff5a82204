import { useEffect, useRef, useState, type FormEvent } from 'react'
import { Link, useNavigate } from 'react-router-dom'
import { Field } from '../components/Field'
import { FailureNotice } from '../components/Notice'
import { toFailure, useLoad } from '../components/useApi'
import { useCatalog } from '../components/useCatalog'
import { useTitle } from '../components/useTitle'
import {
  INPUT_TYPES,
  agentBody,
  createConflict,
  emptyAction,
  emptyHeader,
  emptyInput,
  hasErrors,
  localProblems,
  noErrors,
  serverErrors,
  type ActionErrors,
  type ActionForm,
  type ActionHeader,
  type ActionInput,
  type AgentForm,
  type AgentFormErrors,
  type InputType,
} from '../lib/agentForm'
import { api } from '../lib/api'
import { modelChoices, pipelineChoices, voiceChoices } from '../lib/catalog'
import type { Failure } from '../lib/describe'
import { ApiError } from '../lib/problem'
import { describeSecretsError } from '../lib/secrets'
import { slugFrom } from '../lib/slug'
import type { Agent, Catalog, HttpMethod, Pipeline, Secret, SecretList } from '../lib/types'

// The form's rows carry a key of their own: a row removed from the middle must not hand its
// neighbour's typing to React's reused inputs.
interface InputRow extends ActionInput {
  key: number
}
interface HeaderRow extends ActionHeader {
  key: number
}
interface ActionRow extends Omit<ActionForm, 'inputs' | 'headers'> {
  key: number
  inputs: InputRow[]
  headers: HeaderRow[]
}
interface FormState extends Omit<AgentForm, 'actions'> {
  actions: ActionRow[]
}

let nextKey = 1
const keyed = <T,>(row: T): T & { key: number } => ({ ...row, key: nextKey++ })

const FALLBACK_METHODS: HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']

/** An agent filled in by hand (issue 22): everything Voxie would ask, as a form — for when no
 * voice model is configured yet, or typing is simply quicker. */
export function NewAgentPage() {
  useTitle('New agent')
  const navigate = useNavigate()
  const catalog = useCatalog()
  const secrets = useLoad((signal) => api.get<SecretList>('/api/secrets', signal), [], describeSecretsError)
  const [form, setForm] = useState<FormState>({
    name: '',
    slug: '',
    greeting: '',
    instructions: '',
    voice: '',
    model: '',
    pipeline: 'realtime',
    activate: false,
    actions: [],
  })
  // The slug follows the name until it is edited by hand (emptied, it follows again).
  const [slugEdited, setSlugEdited] = useState(false)
  const [errors, setErrors] = useState<AgentFormErrors>(noErrors())
  const [failure, setFailure] = useState<Failure | null>(null)
  const [busy, setBusy] = useState(false)
  const formRef = useRef<HTMLFormElement>(null)

  // The catalog's defaults, once it is read (the selects show them; nothing is sent without).
  const loaded = catalog.data
  useEffect(() => {
    if (loaded) setForm((f) => ({ ...f, voice: f.voice || loaded.default_voice, model: f.model || loaded.default_model, pipeline: f.pipeline || loaded.default_pipeline }))
  }, [loaded])

  // After a refusal, the first field it names takes the focus (and scrolls into view).
  useEffect(() => {
    if (hasErrors(errors)) formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus()
  }, [errors])

  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => setForm((f) => ({ ...f, [key]: value }))
  const setAction = (index: number, change: (action: ActionRow) => ActionRow) =>
    setForm((f) => ({ ...f, actions: f.actions.map((a, i) => (i === index ? change(a) : a)) }))

  function setName(name: string) {
    setForm((f) => ({ ...f, name, slug: slugEdited ? f.slug : (slugFrom(name) ?? '') }))
  }

  function setSlug(slug: string) {
    setSlugEdited(slug !== '')
    setForm((f) => ({ ...f, slug: slug === '' ? (slugFrom(f.name) ?? '') : slug }))
  }

  async function submit(event: FormEvent) {
    event.preventDefault()
    setFailure(null)
    const local = localProblems(form)
    if (hasErrors(local)) {
      setErrors(local)
      return
    }
    setErrors(noErrors())
    setBusy(true)
    try {
      const created = await api.post<Agent>('/api/agents', agentBody(form))
      navigate(`/agents/${created.id}`, { state: { created: true } })
    } catch (error) {
      if (error instanceof ApiError && (error.status === 422 || error.status === 400)) {
        const found = serverErrors(error.detail, form)
        setErrors(found)
        if (!hasErrors(found)) setFailure(toFailure(error))
      } else if (error instanceof ApiError && error.status === 409) {
        setErrors(createConflict(error.detail))
      } else {
        setFailure(toFailure(error))
      }
      setBusy(false)
    }
  }

  const refused = hasErrors(errors)
  return (
    <>
      <p className="crumbs">
        <Link to="/agents">Agents</Link> / New agent
      </p>
      <div className="page-head">
        <h1>New agent</h1>
      </div>
      <p className="lead">
        Fill in your agent here, or <Link to="/voxie">describe it to Voxie</Link> out loud instead. It starts as a draft you can test before anyone calls it.
      </p>
      {catalog.failure && (
        <FailureNotice
          failure={{ ...catalog.failure, message: `The voices and models to choose from could not be read. ${catalog.failure.message}`, action: 'retry' }}
          onRetry={catalog.reload}
        />
      )}
      {failure && <FailureNotice failure={failure} />}
      {refused && (
        <div className="notice notice-error" role="alert">
          <p>The agent was not created: {errors.general.length > 0 ? 'see below.' : 'fix the fields marked below.'}</p>
          {errors.general.map((g) => (
            <p key={g}>{g}</p>
          ))}
        </div>
      )}
      <form ref={formRef} className="form form-cards" onSubmit={(e) => void submit(e)} noValidate aria-label="New agent">
        <section className="card" aria-labelledby="new-agent-about">
          <h2 id="new-agent-about">The agent</h2>
          <div className="form-grid">
            <Field id="new-name" label="Name" error={errors.fields.name} hint="What callers and your agents list know it by.">
              {(props) => <input {...props} type="text" value={form.name} maxLength={80} onChange={(e) => setName(e.target.value)} />}
            </Field>
            <Field id="new-slug" label="Slug" error={errors.fields.slug} hint="Its name in addresses: lowercase letters, digits and hyphens. Made from the name until you change it.">
              {(props) => <input {...props} type="text" value={form.slug} spellCheck={false} onChange={(e) => setSlug(e.target.value)} />}
            </Field>
            <CatalogSelect id="new-voice" label="Voice" value={form.voice} error={errors.fields.voice} catalog={loaded} choices={(c) => voiceChoices(c, form.voice)} onChange={(v) => set('voice', v)} />
            <CatalogSelect
              id="new-model"
              label="Model"
              value={form.model}
              error={errors.fields.model}
              hint={form.pipeline === 'stt-llm-tts' ? 'The realtime model; this pipeline uses its own speech and text models.' : 'The realtime speech model the agent talks with.'}
              catalog={loaded}
              choices={(c) => modelChoices(c, form.model)}
              onChange={(v) => set('model', v)}
            />
            <CatalogSelect
              id="new-pipeline"
              label="Pipeline"
              value={form.pipeline}
              error={errors.fields.pipeline}
              catalog={loaded}
              choices={(c) => pipelineChoices(c, form.pipeline)}
              onChange={(v) => set('pipeline', v as Pipeline)}
            />
            <Field id="new-greeting" label="Greeting" error={errors.fields.greeting} hint="The first thing it says. Leave it empty to let the caller speak first." wide>
              {(props) => <textarea {...props} rows={2} maxLength={1000} value={form.greeting} onChange={(e) => set('greeting', e.target.value)} />}
            </Field>
            <Field id="new-instructions" label="Instructions" error={errors.fields.instructions} hint="Who it is, what it does and how it talks, as you would brief a new colleague." wide>
              {(props) => <textarea {...props} rows={7} value={form.instructions} onChange={(e) => set('instructions', e.target.value)} />}
            </Field>
          </div>
        </section>

        <section className="card" aria-labelledby="new-agent-actions">
          <h2 id="new-agent-actions">Actions</h2>
          <p className="muted">
            HTTP requests the agent makes during a call, such as booking an appointment. A header can send one of your <Link to="/secrets">secrets</Link>, which only
            goes to the hosts it is bound to.
          </p>
          {form.actions.map((action, index) => (
            <ActionEditor
              key={action.key}
              index={index}
              action={action}
              errors={errors.actions[index]}
              methods={loaded?.tool_methods ?? FALLBACK_METHODS}
              secrets={secrets.data?.items ?? null}
              secretsFailure={secrets.failure}
              onRetrySecrets={secrets.reload}
              onChange={(change) => setAction(index, change)}
              onRemove={() => setForm((f) => ({ ...f, actions: f.actions.filter((_, i) => i !== index) }))}
            />
          ))}
          <button type="button" className="button" onClick={() => set('actions', [...form.actions, keyed({ ...emptyAction(), inputs: [], headers: [] })])}>
            Add an action
          </button>
        </section>

        <section className="card" aria-labelledby="new-agent-create">
          <h2 id="new-agent-create">Create</h2>
          <div className="field field-activate">
            <label className="check">
              <input type="checkbox" checked={form.activate} aria-describedby="new-activate-hint" onChange={(e) => set('activate', e.target.checked)} />
              Activate it now
            </label>
            <p className="hint" id="new-activate-hint">
              Publishes version 1, so calls reach it (it needs instructions). Left unticked, it is a draft: test it first, activate it later.
            </p>
          </div>
          <div className="button-row">
            <button type="submit" className="button button-primary" disabled={busy}>
              {busy ? 'Creating…' : 'Create agent'}
            </button>
            <Link className="button" to="/agents">
              Cancel
            </Link>
          </div>
        </section>
      </form>
    </>
  )
}

/** A select of one of the catalog's lists; until the catalog is read it says so. */
function CatalogSelect({
  id,
  label,
  value,
  error,
  hint,
  catalog,
  choices,
  onChange,
}: {
  id: string
  label: string
  value: string
  error?: string
  hint?: string
  catalog: Catalog | null
  choices: (catalog: Catalog) => { value: string; label: string }[]
  onChange: (value: string) => void
}) {
  return (
    <Field id={id} label={label} error={error} hint={hint}>
      {(props) =>
        catalog ? (
          <select {...props} value={value} onChange={(e) => onChange(e.target.value)}>
            {choices(catalog).map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
          </select>
        ) : (
          <select {...props} value="" disabled>
            <option value="">Loading choices…</option>
          </select>
        )
      }
    </Field>
  )
}

function ActionEditor({
  index,
  action,
  errors,
  methods,
  secrets,
  secretsFailure,
  onRetrySecrets,
  onChange,
  onRemove,
}: {
  index: number
  action: ActionRow
  errors: ActionErrors | undefined
  methods: HttpMethod[]
  secrets: Secret[] | null
  secretsFailure: Failure | null
  onRetrySecrets: () => void
  onChange: (change: (action: ActionRow) => ActionRow) => void
  onRemove: () => void
}) {
  const n = index + 1
  const id = `action-${action.key}`
  const set = <K extends keyof ActionRow>(key: K, value: ActionRow[K]) => onChange((a) => ({ ...a, [key]: value }))
  const setInput = (i: number, change: Partial<ActionInput>) => onChange((a) => ({ ...a, inputs: a.inputs.map((row, j) => (j === i ? { ...row, ...change } : row)) }))
  const setHeader = (h: number, change: Partial<ActionHeader>) => onChange((a) => ({ ...a, headers: a.headers.map((row, j) => (j === h ? { ...row, ...change } : row)) }))
  const usesSecret = action.headers.some((h) => h.source === 'secret')
  return (
    <fieldset className="action-form" data-action={n}>
      <legend>
        Action {n}
        {action.name.trim() && <span className="muted"> · {action.name.trim()}</span>}
      </legend>
      {errors?.general.map((g) => (
        <p key={g} className="field-error">
          {g}
        </p>
      ))}
      <div className="form-grid">
        <Field id={`${id}-name`} label="Name" error={errors?.fields.name} hint="How the model calls it: lowercase words joined by underscores, such as book_appointment.">
          {(props) => <input {...props} type="text" value={action.name} spellCheck={false} onChange={(e) => set('name', e.target.value)} />}
        </Field>
        <Field id={`${id}-method`} label="Method" error={errors?.fields.method}>
          {(props) => (
            <select {...props} value={action.method} onChange={(e) => set('method', e.target.value as HttpMethod)}>
              {methods.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field id={`${id}-url`} label="URL" error={errors?.fields.url} hint="A public https:// address; the platform refuses internal ones." wide>
          {(props) => <input {...props} type="text" inputMode="url" value={action.url} spellCheck={false} placeholder="https://api.example.com/bookings" onChange={(e) => set('url', e.target.value)} />}
        </Field>
        <Field id={`${id}-description`} label="Description" error={errors?.fields.description} hint="When the agent should use it and what it does; the model reads this." wide>
          {(props) => <textarea {...props} rows={2} maxLength={1024} value={action.description} onChange={(e) => set('description', e.target.value)} />}
        </Field>
      </div>

      <fieldset className="subrows">
        <legend>Inputs the agent sends</legend>
        {action.inputs.length === 0 && <p className="muted">None: the request carries no values from the call.</p>}
        {action.inputs.map((input, i) => (
          <fieldset key={input.key} className="subrow subrow-input">
            <legend className="visually-hidden">
              Input {i + 1} of action {n}
            </legend>
            <div className="field">
              <label htmlFor={`${id}-input-${input.key}-name`}>Input name</label>
              <input
                id={`${id}-input-${input.key}-name`}
                type="text"
                value={input.name}
                spellCheck={false}
                placeholder="customer_phone"
                aria-invalid={Boolean(errors?.inputs[i])}
                aria-describedby={errors?.inputs[i] ? `${id}-input-${input.key}-error` : undefined}
                onChange={(e) => setInput(i, { name: e.target.value })}
              />
            </div>
            <div className="field">
              <label htmlFor={`${id}-input-${input.key}-type`}>Type</label>
              <select id={`${id}-input-${input.key}-type`} value={input.type} onChange={(e) => setInput(i, { type: e.target.value as InputType })}>
                {INPUT_TYPES.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </select>
            </div>
            <div className="field subrow-wide">
              <label htmlFor={`${id}-input-${input.key}-description`}>What it means</label>
              <input id={`${id}-input-${input.key}-description`} type="text" value={input.description} onChange={(e) => setInput(i, { description: e.target.value })} />
            </div>
            <label className="check">
              <input type="checkbox" checked={input.required} onChange={(e) => setInput(i, { required: e.target.checked })} />
              Required
            </label>
            <button type="button" className="button button-small button-quiet" onClick={() => onChange((a) => ({ ...a, inputs: a.inputs.filter((_, j) => j !== i) }))}>
              Remove<span className="visually-hidden"> input {i + 1} of action {n}</span>
            </button>
            {errors?.inputs[i] && (
              <p className="field-error subrow-error" id={`${id}-input-${input.key}-error`}>
                {errors.inputs[i]}
              </p>
            )}
          </fieldset>
        ))}
        {errors?.fields.parameters && <p className="field-error">{errors.fields.parameters}</p>}
        <button type="button" className="button button-small" onClick={() => onChange((a) => ({ ...a, inputs: [...a.inputs, keyed(emptyInput())] }))}>
          Add an input<span className="visually-hidden"> to action {n}</span>
        </button>
      </fieldset>

      <fieldset className="subrows">
        <legend>Headers</legend>
        {action.headers.length === 0 && <p className="muted">None beyond the usual ones.</p>}
        {usesSecret && secretsFailure && <FailureNotice failure={{ ...secretsFailure, message: `Your secrets could not be listed. ${secretsFailure.message}`, action: 'retry' }} onRetry={onRetrySecrets} />}
        {action.headers.map((header, h) => {
          const hid = `${id}-header-${header.key}`
          const error = errors?.headers[h]
          return (
            <fieldset key={header.key} className="subrow subrow-header">
              <legend className="visually-hidden">
                Header {h + 1} of action {n}
              </legend>
              <div className="field">
                <label htmlFor={`${hid}-name`}>Header name</label>
                <input id={`${hid}-name`} type="text" value={header.name} spellCheck={false} placeholder="Authorization" onChange={(e) => setHeader(h, { name: e.target.value })} />
              </div>
              <div className="field">
                <label htmlFor={`${hid}-source`}>Value from</label>
                <select id={`${hid}-source`} value={header.source} onChange={(e) => setHeader(h, { source: e.target.value as ActionHeader['source'] })}>
                  <option value="text">Text</option>
                  <option value="secret">Secret</option>
                </select>
              </div>
              {header.source === 'text' ? (
                <div className="field subrow-wide">
                  <label htmlFor={`${hid}-value`}>Value</label>
                  <input
                    id={`${hid}-value`}
                    type="text"
                    value={header.value}
                    spellCheck={false}
                    aria-invalid={Boolean(error)}
                    aria-describedby={error ? `${hid}-error` : undefined}
                    onChange={(e) => setHeader(h, { value: e.target.value })}
                  />
                </div>
              ) : (
                <div className="field subrow-wide">
                  <label htmlFor={`${hid}-secret`}>Secret</label>
                  <select
                    id={`${hid}-secret`}
                    value={header.secret}
                    aria-invalid={Boolean(error)}
                    aria-describedby={error ? `${hid}-error` : `${hid}-secret-hint`}
                    onChange={(e) => setHeader(h, { secret: e.target.value })}
                  >
                    <option value="">{secrets === null ? 'Loading your secrets…' : 'Choose a secret'}</option>
                    {(secrets ?? []).map((s) => (
                      <option key={s.name} value={s.name}>
                        {s.name} (sent only to {s.hosts.join(', ')})
                      </option>
                    ))}
                  </select>
                  {!error && secrets !== null && (
                    <p className="hint" id={`${hid}-secret-hint`}>
                      {secrets.length === 0 ? 'You have no secrets yet: add one on the Secrets page.' : 'Its value is sent, never shown; only to the hosts it is bound to.'}
                    </p>
                  )}
                </div>
              )}
              <button type="button" className="button button-small button-quiet" onClick={() => onChange((a) => ({ ...a, headers: a.headers.filter((_, j) => j !== h) }))}>
                Remove<span className="visually-hidden"> header {h + 1} of action {n}</span>
              </button>
              {error && (
                <p className="field-error subrow-error" id={`${hid}-error`}>
                  {error}
                </p>
              )}
            </fieldset>
          )
        })}
        {errors?.fields.headers && <p className="field-error">{errors.fields.headers}</p>}
        <button type="button" className="button button-small" onClick={() => onChange((a) => ({ ...a, headers: [...a.headers, keyed(emptyHeader())] }))}>
          Add a header<span className="visually-hidden"> to action {n}</span>
        </button>
      </fieldset>

      <div className="button-row">
        <button type="button" className="button button-quiet" onClick={onRemove}>
          Remove action {n}
        </button>
      </div>
    </fieldset>
  )
}
