/**
 * The New agent form as data (issue 22): what a person fills in — the agent's fields and its HTTP
 * actions, each with its inputs and headers — the `POST /api/agents` body it makes, and the
 * server's 422 reasons put back beside the fields they are about. The server is the authority
 * on what it accepts; the form checks only what the server could not point at (an input or a
 * header without a name, a secret header with no secret chosen).
 *
 * An action's inputs become its parameters' JSON Schema the way Voxie builds one
 * (voxie/agent.py `_schema`):
 *
 *     [{name: "start", type: "string", description: "date and time", required: true}]
 *       → {"type": "object", "properties": {"start": {"type": "string", "description": "date and time"}},
 *          "required": ["start"]}
 *
 * and a header's value is plain text or one of the owner's secrets, by name:
 *
 *     {name: "Authorization", source: "secret", secret: "CLINIC_API_TOKEN"}
 *       → {"Authorization": {"secret": "CLINIC_API_TOKEN"}}
 *
 * The 422 reasons come in two forms: the contract's field paths (`tools.0.http.url: …`), and the
 * save-time tool rules, which name a tool by its name (`tools: tool 'book', header
 * 'Authorization': the secret … may only be sent to …; tool 'book': the host '127.0.0.1' is an
 * internal address …`).
 */

import { detailParts, humanize } from './fieldErrors'
import type { AgentCreate, HttpMethod, HttpToolSpec, Pipeline } from './types'

export type InputType = 'string' | 'number' | 'integer' | 'boolean'
/** The value types an action's input may have (Voxie's ToolInput offers the same). */
export const INPUT_TYPES: readonly InputType[] = ['string', 'number', 'integer', 'boolean']

export interface ActionInput {
  name: string
  type: InputType
  description: string
  required: boolean
}

export interface ActionHeader {
  name: string
  source: 'text' | 'secret'
  /** The value sent as is (source `text`). */
  value: string
  /** The owner's secret whose value is sent (source `secret`). */
  secret: string
}

export interface ActionForm {
  name: string
  description: string
  method: HttpMethod
  url: string
  inputs: ActionInput[]
  headers: ActionHeader[]
}

export interface AgentForm {
  name: string
  slug: string
  greeting: string
  instructions: string
  voice: string
  model: string
  pipeline: Pipeline
  /** Active at once (which publishes version 1); otherwise the agent is created as a draft. */
  activate: boolean
  actions: ActionForm[]
}

/** The agent's own fields, as the API's 422 paths name them. */
export const AGENT_FIELDS = ['name', 'slug', 'greeting', 'instructions', 'voice', 'model', 'pipeline', 'status'] as const
export type AgentField = (typeof AGENT_FIELDS)[number]

/** An action's fields, as the API's 422 paths name them (`tools.0.http.<field>`). */
export const ACTION_FIELDS = ['name', 'description', 'method', 'url', 'parameters', 'headers'] as const
export type ActionField = (typeof ACTION_FIELDS)[number]

export function emptyInput(): ActionInput {
  return { name: '', type: 'string', description: '', required: true }
}

export function emptyHeader(): ActionHeader {
  return { name: '', source: 'text', value: '', secret: '' }
}

export function emptyAction(): ActionForm {
  return { name: '', description: '', method: 'POST', url: '', inputs: [], headers: [] }
}

/** An input row left wholly empty is no input. */
function blankInput(input: ActionInput): boolean {
  return !input.name.trim() && !input.description.trim()
}

/** A header row left wholly empty is no header. */
function blankHeader(header: ActionHeader): boolean {
  return !header.name.trim() && !(header.source === 'text' ? header.value : header.secret)
}

/** The inputs as the parameters' JSON Schema (an object of them; the required ones listed). */
export function parametersSchema(inputs: readonly ActionInput[]): NonNullable<HttpToolSpec['parameters']> {
  const used = inputs.filter((input) => !blankInput(input))
  const properties: Record<string, { type: InputType; description: string }> = {}
  for (const input of used) properties[input.name.trim()] = { type: input.type, description: input.description.trim() }
  return { type: 'object', properties, required: used.filter((i) => i.required).map((i) => i.name.trim()) }
}

/** The headers as the tool sends them: text as is, a secret by name. */
export function headersObject(headers: readonly ActionHeader[]): Record<string, string | { secret: string }> {
  const sent: Record<string, string | { secret: string }> = {}
  for (const header of headers) {
    if (blankHeader(header)) continue
    sent[header.name.trim()] = header.source === 'secret' ? { secret: header.secret } : header.value
  }
  return sent
}

/** One action as the HTTP tool the API stores (its timeout left to the server's default). */
export function toolSpec(action: ActionForm): NonNullable<AgentCreate['tools']>[number] {
  return {
    type: 'http',
    name: action.name.trim(),
    description: action.description.trim(),
    method: action.method,
    url: action.url.trim(),
    parameters: parametersSchema(action.inputs),
    headers: headersObject(action.headers),
  }
}

/** The `POST /api/agents` body. Every action is sent, in order, so the 422 paths' indexes
 * (`tools.1.…`) are the form's. */
export function agentBody(form: AgentForm): AgentCreate {
  return {
    slug: form.slug.trim(),
    name: form.name.trim(),
    greeting: form.greeting,
    instructions: form.instructions,
    // Left to the server's defaults when no choice was offered (the catalog did not load).
    ...(form.voice ? { voice: form.voice } : {}),
    ...(form.model ? { model: form.model } : {}),
    pipeline: form.pipeline,
    status: form.activate ? 'active' : 'draft',
    tools: form.actions.map(toolSpec),
  }
}

export interface ActionErrors {
  fields: Partial<Record<ActionField, string>>
  /** By the input's row in the form. */
  inputs: Record<number, string>
  /** By the header's row in the form. */
  headers: Record<number, string>
  general: string[]
}

export interface AgentFormErrors {
  fields: Partial<Record<AgentField, string>>
  /** By the action's place in the form. */
  actions: Record<number, ActionErrors>
  general: string[]
}

export function noErrors(): AgentFormErrors {
  return { fields: {}, actions: {}, general: [] }
}

export function hasErrors(errors: AgentFormErrors): boolean {
  return Object.keys(errors.fields).length > 0 || Object.keys(errors.actions).length > 0 || errors.general.length > 0
}

function joined(previous: string | undefined, message: string): string {
  return previous ? `${previous}; ${message}` : message
}

function actionErrors(errors: AgentFormErrors, index: number): ActionErrors {
  errors.actions[index] ??= { fields: {}, inputs: {}, headers: {}, general: [] }
  return errors.actions[index]
}

/** What the form says before sending: the omissions the server would not point at. */
export function localProblems(form: AgentForm): AgentFormErrors {
  const errors = noErrors()
  if (!form.name.trim()) errors.fields.name = 'Enter a name for the agent.'
  if (!form.slug.trim()) errors.fields.slug = 'Enter a slug: lowercase letters, digits and hyphens.'
  form.actions.forEach((action, a) => {
    const seenInputs = new Set<string>()
    action.inputs.forEach((input, i) => {
      if (blankInput(input)) return
      const name = input.name.trim()
      if (!name) actionErrors(errors, a).inputs[i] = 'Name this input.'
      else if (seenInputs.has(name)) actionErrors(errors, a).inputs[i] = `Another input is named ${name}.`
      seenInputs.add(name)
    })
    const seenHeaders = new Set<string>()
    action.headers.forEach((header, h) => {
      if (blankHeader(header)) return
      const name = header.name.trim()
      if (!name) actionErrors(errors, a).headers[h] = 'Name this header.'
      else if (seenHeaders.has(name.toLowerCase())) actionErrors(errors, a).headers[h] = `Another header is named ${name}.`
      else if (header.source === 'secret' && !header.secret) actionErrors(errors, a).headers[h] = 'Choose the secret this header sends.'
      seenHeaders.add(name.toLowerCase())
    })
  })
  return errors
}

/** The row of `action`'s header named `name` (as sent: trimmed), or null. */
function headerRow(action: ActionForm | undefined, name: string): number | null {
  const row = action?.headers.findIndex((h) => !blankHeader(h) && h.name.trim() === name) ?? -1
  return row >= 0 ? row : null
}

/** A 422 of `POST /api/agents` (its `detail`) beside the fields of the form that sent it. */
export function serverErrors(detail: string, form: AgentForm): AgentFormErrors {
  const errors = noErrors()
  const byName = (name: string) => form.actions.findIndex((a) => a.name.trim() === name)

  for (const { path, reason } of detailParts(detail)) {
    if (path === null) {
      // The one rule across fields: activating needs instructions.
      if (/active agent needs instructions/.test(reason)) errors.fields.instructions = 'An active agent needs instructions: write them, or create the agent as a draft.'
      else errors.general.push(humanize(reason))
      continue
    }
    if (path === 'tools') {
      // The save-time tool rules, one reason per tool (and header) they refuse.
      for (const one of reason.split(/; (?=tool ')/)) {
        const header = /^tool '([^']*)', header '([^']*)': (.*)$/s.exec(one)
        const tool = /^tool '([^']*)': (.*)$/s.exec(one)
        const index = byName((header ?? tool)?.[1] ?? '')
        if (header && index >= 0) {
          const target = actionErrors(errors, index)
          const row = headerRow(form.actions[index], header[2] ?? '')
          const message = humanize(header[3] ?? '')
          if (row === null) target.fields.headers = joined(target.fields.headers, `${header[2]}: ${message}`)
          else target.headers[row] = joined(target.headers[row], message)
        } else if (tool && index >= 0) {
          // Every reason a destination is refused for is about its URL.
          const target = actionErrors(errors, index)
          target.fields.url = joined(target.fields.url, humanize(tool[2] ?? ''))
        } else {
          errors.general.push(`Actions: ${humanize(one)}`)
        }
      }
      continue
    }
    const segments = path.split('.')
    if (segments[0] === 'tools' && /^\d+$/.test(segments[1] ?? '')) {
      const index = Number(segments[1])
      const target = actionErrors(errors, index)
      const rest = segments.slice(2)
      if (rest[0] === 'http') rest.shift() // the union's tag
      const field = rest[0]
      const message = humanize(reason)
      if (field === 'headers' && rest[1] !== undefined) {
        const row = headerRow(form.actions[index], rest[1])
        if (row === null) target.fields.headers = joined(target.fields.headers, `${rest[1]}: ${message}`)
        else target.headers[row] = joined(target.headers[row], message)
      } else if (field !== undefined && (ACTION_FIELDS as readonly string[]).includes(field)) {
        target.fields[field as ActionField] = joined(target.fields[field as ActionField], message)
      } else {
        target.general.push(field === undefined ? message : `${rest.join('.')}: ${message}`)
      }
      continue
    }
    const field = segments[0] ?? ''
    if ((AGENT_FIELDS as readonly string[]).includes(field)) {
      const where = segments.length > 1 ? `${segments.slice(1).join('.')}: ` : ''
      errors.fields[field as AgentField] = joined(errors.fields[field as AgentField], `${where}${humanize(reason)}`)
    } else {
      errors.general.push(`${path}: ${humanize(reason)}`)
    }
  }
  return errors
}

/** A 409 of `POST /api/agents`: a taken slug goes beside the slug. */
export function createConflict(detail: string): AgentFormErrors {
  const errors = noErrors()
  const message = humanize(detail.trim()).replace(/([^.!?])$/, '$1.')
  if (/slug/i.test(detail)) errors.fields.slug = `${message} Choose another.`
  else errors.general.push(message)
  return errors
}
