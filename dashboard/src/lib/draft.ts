/**
 * Voxie's live draft, from the room messages it sends (shared/contracts/room_messages.py):
 *
 *     topic "voxie.draft":
 *       {"agent_id": "3f2b…", "version": 2, "status": "draft",
 *        "fields": {"name": "Clarence", "slug": "clarence", "voice": "marin", "greeting": "Hi!"},
 *        "missing": ["instructions"]}
 *     topic "voxie.agent_saved": {"agent_id": "3f2b…", "slug": "clarence", "name": "Clarence"}
 *
 * Each draft message carries every field, so the card shows the latest and `changedFields`
 * says which ones this message changed (the card highlights them).
 */

export const DRAFT_FIELDS = ['name', 'slug', 'voice', 'language', 'greeting', 'instructions', 'tools'] as const
export type DraftField = (typeof DRAFT_FIELDS)[number]

export interface Draft {
  agentId: string | null
  version: number | null
  status: string
  fields: Partial<Record<DraftField, unknown>>
  missing: string[]
}

export interface AgentSaved {
  agentId: string
  slug: string
  name: string
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** A `voxie.draft` payload, or null when it is not one (a bad message never breaks the page). */
export function parseDraft(text: string): Draft | null {
  const value = parseJson(text)
  if (!isRecord(value) || !isRecord(value.fields)) return null
  const fields: Partial<Record<DraftField, unknown>> = {}
  for (const key of DRAFT_FIELDS) {
    if (key in value.fields) fields[key] = value.fields[key]
  }
  return {
    agentId: typeof value.agent_id === 'string' ? value.agent_id : null,
    version: typeof value.version === 'number' ? value.version : null,
    status: typeof value.status === 'string' ? value.status : 'draft',
    fields,
    missing: Array.isArray(value.missing) ? value.missing.filter((m): m is string => typeof m === 'string') : [],
  }
}

export function parseAgentSaved(text: string): AgentSaved | null {
  const value = parseJson(text)
  if (!isRecord(value)) return null
  const { agent_id: agentId, slug, name } = value
  if (typeof agentId !== 'string' || typeof slug !== 'string' || typeof name !== 'string') return null
  return { agentId, slug, name }
}

/** Key order-independent JSON, so `{a, b}` and `{b, a}` compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (isRecord(value)) {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`
  }
  return JSON.stringify(value ?? null)
}

function isEmpty(value: unknown): boolean {
  return value == null || value === '' || (Array.isArray(value) && value.length === 0)
}

/** The fields whose value differs between two drafts (a field going from absent to empty is no change). */
export function changedFields(previous: Draft | null, next: Draft): DraftField[] {
  return DRAFT_FIELDS.filter((key) => {
    const before = previous?.fields[key]
    const after = next.fields[key]
    if (isEmpty(before) && isEmpty(after)) return false
    return canonical(before) !== canonical(after)
  })
}

export interface ToolSummary {
  name: string
  kind: 'http' | 'builtin'
  method: string | null
  url: string | null
  description: string
  parameters: string[]
  /** Header names, a secret's shown by its name only: `Authorization (secret CLINIC_TOKEN)`. */
  headers: string[]
}

/** An agent's tools (from a draft or an AgentConfig) as the pages list them. */
export function summarizeTools(tools: unknown): ToolSummary[] {
  if (!Array.isArray(tools)) return []
  return tools.filter(isRecord).map((tool) => {
    const params = isRecord(tool.parameters) && isRecord(tool.parameters.properties) ? tool.parameters.properties : {}
    const required = isRecord(tool.parameters) && Array.isArray(tool.parameters.required) ? tool.parameters.required : []
    return {
      name: typeof tool.name === 'string' ? tool.name : '(unnamed)',
      kind: tool.type === 'builtin' ? 'builtin' : 'http',
      method: typeof tool.method === 'string' ? tool.method : tool.type === 'builtin' ? null : 'POST',
      url: typeof tool.url === 'string' ? tool.url : null,
      description: typeof tool.description === 'string' ? tool.description : '',
      parameters: Object.keys(params).map((p) => (required.includes(p) ? `${p} (required)` : p)),
      headers: isRecord(tool.headers)
        ? Object.entries(tool.headers).map(([name, value]) =>
            isRecord(value) && typeof value.secret === 'string' ? `${name} (secret ${value.secret})` : name,
          )
        : [],
    }
  })
}
