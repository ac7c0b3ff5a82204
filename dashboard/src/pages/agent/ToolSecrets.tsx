import { useState } from 'react'
import { Link } from 'react-router-dom'
import { useAuth } from '../../auth'
import { FailureNotice } from '../../components/Notice'
import { useLoad } from '../../components/useApi'
import { api, query } from '../../lib/api'
import type { Failure } from '../../lib/describe'
import { ApiError } from '../../lib/problem'
import {
  bindingLine,
  describeSecretsError,
  hasSecretHeaders,
  missingSecretWarning,
  secretBindings,
  secretChoices,
  switchRefusal,
  withSecret,
  type SecretBinding,
} from '../../lib/secrets'
import type { Agent, Secret, SecretList } from '../../lib/types'

export interface AgentSecrets {
  /** The agent owner's secrets; null until read, or when no tool sends a secret. */
  secrets: Secret[] | null
  failure: Failure | null
  reload: () => void
  /** The operator looking at another owner's agent. */
  foreign: boolean
}

/** The agent owner's secrets, read only when one of its tools sends a secret (the operator reads
 * a user's with `?owner_id=`). */
export function useAgentSecrets(agent: Agent): AgentSecrets {
  const { account } = useAuth()
  const foreign = account !== null && account.operator && agent.owner_id !== account.ownerId
  const sends = hasSecretHeaders(agent.tools)
  const path = `/api/secrets${query({ owner_id: foreign ? agent.owner_id : null })}`
  const { data, failure, reload } = useLoad(
    async (signal) => (sends ? (await api.get<SecretList>(path, signal)).items : null),
    [path, sends],
    describeSecretsError,
  )
  return { secrets: sends ? data : null, failure: sends ? failure : null, reload, foreign }
}

/** Which secret each of one tool's headers sends to which hosts, a warning for a secret that
 * does not exist, and a select to switch a header to another of the owner's secrets (the same
 * PATCH, with the version read, as the edit form). */
export function ToolSecretBindings({ agent, tool, secrets, foreign, onSaved }: { agent: Agent; tool: string; secrets: Secret[]; foreign: boolean; onSaved: (agent: Agent, sentence: string) => void }) {
  const bindings = secretBindings(agent.tools, secrets).filter((b) => b.tool === tool)
  if (bindings.length === 0) return null
  return (
    <ul className="bindings" aria-label={`Secrets ${tool} sends`}>
      {bindings.map((binding) => (
        <li key={`${binding.header}/${binding.secret}`} className={`binding${binding.hosts === null ? ' binding-missing' : ''}`} data-header={binding.header}>
          <p className="binding-line">{bindingLine(binding)}</p>
          {binding.hosts === null && (
            <p className="binding-warning">
              <strong>Warning:</strong> {missingSecretWarning(binding.secret)}{' '}
              {foreign ? 'Its owner creates it on their Secrets page.' : <Link to="/secrets">Create it on the Secrets page.</Link>}
            </p>
          )}
          <SecretSwitch agent={agent} binding={binding} choices={secretChoices(secrets, binding.secret)} onSaved={onSaved} />
        </li>
      ))}
    </ul>
  )
}

function SecretSwitch({ agent, binding, choices, onSaved }: { agent: Agent; binding: SecretBinding; choices: string[]; onSaved: (agent: Agent, sentence: string) => void }) {
  const [choice, setChoice] = useState(binding.secret)
  const [busy, setBusy] = useState(false)
  const [refused, setRefused] = useState<string | null>(null)
  const [failure, setFailure] = useState<Failure | null>(null)
  if (choices.length < 2) return null
  const id = `secret-${binding.tool}-${binding.header}`

  async function save() {
    setBusy(true)
    setRefused(null)
    setFailure(null)
    try {
      const tools = withSecret(agent.tools ?? [], binding.tool, binding.header, choice)
      const updated = await api.patch<Agent>(`/api/agents/${agent.id}`, { tools, version: agent.version })
      onSaved(updated, `${binding.tool}’s ${binding.header} header now sends secret ${choice}. Publish the draft for calls to use it.`)
    } catch (error) {
      // The server refuses a secret not bound to the tool's host: its reason goes beside the select.
      if (error instanceof ApiError && (error.status === 422 || error.status === 400)) setRefused(switchRefusal(error.detail))
      else setFailure(describeSecretsError(error))
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="secret-switch">
      <div className="inline-field">
        <label htmlFor={id}>
          Secret<span className="visually-hidden"> for {binding.header} of {binding.tool}</span>
        </label>
        <select
          id={id}
          value={choice}
          aria-invalid={refused !== null}
          aria-describedby={refused ? `${id}-error` : undefined}
          onChange={(e) => { setChoice(e.target.value); setRefused(null) }}
        >
          {choices.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        <button type="button" className="button button-small" disabled={busy || choice === binding.secret} onClick={() => void save()}>
          Switch<span className="visually-hidden"> {binding.header} of {binding.tool} to this secret</span>
        </button>
      </div>
      {refused && <p className="field-error" id={`${id}-error`}>{refused}</p>}
      {failure && <FailureNotice failure={failure} />}
    </div>
  )
}
