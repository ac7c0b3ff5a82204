/**
 * Tool secrets as the pages show them (issue 21): the hosts textarea of the Secrets page, and
 * which secret an agent's HTTP tool headers send to which hosts.
 *
 * An HTTP tool names a secret instead of holding a value (shared/contracts/agent_config.py):
 *
 *     {"type": "http", "name": "book", "url": "https://api.clinic.example/bookings",
 *      "headers": {"Authorization": {"secret": "CLINIC_API_TOKEN"}}, ...}
 *
 * and the owner's `GET /api/secrets` says where each secret may go:
 *
 *     {"items": [{"name": "CLINIC_API_TOKEN", "hosts": ["api.clinic.example", "*.clinic.example"],
 *                 "created_at": "…", "last_used_at": null, "source": "stored"}]}
 *
 * Whether a tool's host is one of its secret's hosts is the server's rule (it refuses to save an
 * agent otherwise); the pages only show the lists side by side.
 */

import { describeInServerWords, sentence, type Failure } from './describe'
import type { Secret, SecretSource, ToolSpec } from './types'

/** The create form's fields, as the API's 422 details name them. */
export const SECRET_FIELDS = ['name', 'value', 'hosts'] as const
export type SecretField = (typeof SECRET_FIELDS)[number]

/** The hosts textarea: one host per line (commas and spaces separate too), blanks dropped, each
 * host once. Nothing else is checked here: the server says what it does not accept. */
export function parseHosts(text: string): string[] {
  const hosts: string[] = []
  for (const host of text.split(/[\s,]+/)) {
    if (host && !hosts.includes(host)) hosts.push(host)
  }
  return hosts
}

/** A 422 reason of the hosts field names a host by its place in the list sent (`hosts.1: …`,
 * which splitFieldErrors leaves as `1: …`): name it by what was typed instead, unless the
 * reason already quotes it (`'Bad Host' is not a host name …`). */
export function nameHosts(reasons: string, hosts: readonly string[]): string {
  return reasons.replace(/(^|; )(\d+): (?=([^;]*))/g, (_, start: string, index: string, reason: string) => {
    const host = hosts[Number(index)]
    if (host === undefined) return `${start}Host ${Number(index) + 1}: `
    return reason.toLowerCase().includes(`'${host.slice(0, 80).toLowerCase()}'`) ? start : `${start}${host}: `
  })
}

/** The create form's obvious omissions, one sentence per empty field (none: send it). */
export function emptyFields(form: { name: string; value: string; hosts: readonly string[] }): Partial<Record<SecretField, string>> {
  const missing: Partial<Record<SecretField, string>> = {}
  if (!form.name.trim()) missing.name = 'Enter a name for the secret.'
  if (!form.value) missing.value = 'Enter the secret value.'
  if (form.hosts.length === 0) missing.hosts = 'Enter at least one host the secret may be sent to.'
  return missing
}

/** One header of one HTTP tool that takes its value from a secret. */
export interface SecretBinding {
  tool: string
  header: string
  secret: string
  /** The secret's hosts; null when the owner has no secret of that name. */
  hosts: string[] | null
  source: SecretSource | null
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function secretHeaders(tool: Record<string, unknown>): [string, string][] {
  if (tool.type === 'builtin' || !isRecord(tool.headers)) return []
  return Object.entries(tool.headers).flatMap(([header, value]): [string, string][] =>
    isRecord(value) && typeof value.secret === 'string' ? [[header, value.secret]] : [],
  )
}

/** Whether any HTTP tool sends a secret (only then do the pages ask for the secrets list). */
export function hasSecretHeaders(tools: unknown): boolean {
  return Array.isArray(tools) && tools.some((tool) => isRecord(tool) && secretHeaders(tool).length > 0)
}

/** Every secret header of `tools`, in tool and header order, with what `secrets` says of it. */
export function secretBindings(tools: unknown, secrets: readonly Secret[]): SecretBinding[] {
  if (!Array.isArray(tools)) return []
  const byName = new Map(secrets.map((s) => [s.name, s]))
  return tools.filter(isRecord).flatMap((tool) =>
    secretHeaders(tool).map(([header, secret]) => {
      const found = byName.get(secret)
      return {
        tool: typeof tool.name === 'string' ? tool.name : '(unnamed)',
        header,
        secret,
        hosts: found ? found.hosts : null,
        source: found ? found.source : null,
      }
    }),
  )
}

/** "Authorization ← secret CLINIC_API_TOKEN (api.clinic.example, *.clinic.example)". */
export function bindingLine(binding: SecretBinding): string {
  const head = `${binding.header} ← secret ${binding.secret}`
  if (binding.hosts === null) return head
  const hosts = binding.hosts.length > 0 ? binding.hosts.join(', ') : 'no hosts'
  const from = binding.source === 'environment' ? ", from the server's environment" : ''
  return `${head} (${hosts})${from}`
}

/** The warning for a header whose secret the owner does not have. */
export function missingSecretWarning(secret: string): string {
  return `Secret ${secret} does not exist: the tool will fail until it is created.`
}

/** `tools` with one header of one tool taking its value from `secret` instead (a new list: the
 * body of the PATCH that switches it). */
export function withSecret(tools: readonly ToolSpec[], toolName: string, header: string, secret: string): ToolSpec[] {
  return tools.map((tool) =>
    tool.type === 'http' && tool.name === toolName && header in (tool.headers ?? {})
      ? { ...tool, headers: { ...tool.headers, [header]: { secret } } }
      : tool,
  )
}

/** The secret names a header can switch to: the owner's, and the current one even when it does
 * not exist (the select shows what is saved). */
export function secretChoices(secrets: readonly Secret[], current: string): string[] {
  const names = secrets.map((s) => s.name)
  return names.includes(current) ? names : [current, ...names]
}

/** The server's 422 for a switched header, without the field path it may lead with
 * (`tools.0.headers.Authorization: …`): the select it is shown beside says where. */
export function switchRefusal(detail: string): string {
  const reason = detail.trim().replace(/^tools(\.[\w\-[\]]+)*: /, '')
  return reason ? `Not saved: ${reason.replace(/([^.!?])$/, '$1.')}` : 'Not saved: the server did not accept this secret for this action.'
}

/** A 409 of `POST /api/secrets` in the server's words: beside the name when it is about the
 * name (taken, or one of the operator's TOOL_SECRETS), else for the whole form (too many). */
export function createConflict(detail: string, name: string): { field: 'name' | null; message: string } {
  const message = sentence(detail) || `You already have a secret named ${name}.`
  return { field: !detail || detail.includes(name) ? 'name' : null, message }
}

/** A failure of the secrets API as a sentence: an unconfigured server's 503 in its own words. */
export function describeSecretsError(error: unknown): Failure {
  return describeInServerWords(error, [503])
}
