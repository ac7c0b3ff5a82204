/**
 * Agent versions as the pages show them (shared/contracts/versions.py): labels, the diff's rows,
 * and Voxie's `voxie.agent_version` room message:
 *
 *     topic "voxie.agent_version":
 *       {"agent_id": "3f2b…", "published_version": 3, "has_unpublished_changes": true}
 */

import { summarizeTools } from './draft'
import type { RunTarget, VersionDiff } from './types'

export const DRAFT = 'draft'

/** `3` → "v3", `draft` → "Draft". */
export function targetLabel(target: RunTarget): string {
  return target === DRAFT ? 'Draft' : `v${target}`
}

/** A `?version=` value from the address: a version number ≥ 1, `draft`, or null (none/bad). */
export function parseTarget(value: string | null): RunTarget | null {
  if (value === DRAFT) return DRAFT
  if (value === null || !/^[1-9][0-9]{0,9}$/.test(value)) return null
  return Number(value)
}

/** "Running version 3" / "Running the draft", from the spawn response's `version`. */
export function runningLabel(target: RunTarget): string {
  return target === DRAFT ? 'Running the unpublished draft' : `Running version ${target}`
}

/** Who is looking: the owner id their agents get, and whether they are the operator. */
export interface Viewer {
  ownerId: string
  operator: boolean
}

/**
 * Who published, for people: the viewer is "you"; another user can only be the agent's owner
 * (only the owner and the operator publish), the platform and the operator are named.
 */
export function actorLabel(actor: string, viewer: Viewer | null): string {
  const mine = viewer !== null && (actor === `user:${viewer.ownerId}` || (viewer.operator && actor === 'operator'))
  if (mine) return 'you'
  if (actor.startsWith('user:')) return 'the owner'
  if (actor === 'operator') return 'the operator'
  if (actor === 'platform') return 'the platform'
  return actor
}

const FIELD_LABELS: Record<string, string> = {
  name: 'Name',
  instructions: 'Instructions',
  greeting: 'Greeting',
  voice: 'Voice',
  model: 'Model',
  language: 'Language',
  tools: 'Actions',
  pipeline: 'Pipeline',
  summarize: 'Call summaries',
}

export interface DiffRow {
  field: string
  label: string
  before: string
  after: string
}

/** One field's value as text: tools as their names (and URLs), booleans as On/Off. */
export function fieldText(field: string, value: unknown): string {
  if (value === null || value === undefined || value === '') return '(empty)'
  if (field === 'tools') {
    const tools = summarizeTools(value)
    if (tools.length === 0) return '(none)'
    return tools.map((t) => (t.kind === 'http' && t.url ? `${t.name} (${t.method ?? 'POST'} ${t.url})` : t.name)).join(', ')
  }
  if (typeof value === 'boolean') return value ? 'On' : 'Off'
  if (typeof value === 'string') return value
  if (typeof value === 'number') return String(value)
  return JSON.stringify(value)
}

/** The diff's changes as rows to show, in the API's (snapshot) order. */
export function diffRows(diff: VersionDiff): DiffRow[] {
  return diff.changes.map((change) => ({
    field: change.field,
    label: FIELD_LABELS[change.field] ?? change.field,
    before: fieldText(change.field, change.a),
    after: fieldText(change.field, change.b),
  }))
}

export interface AgentVersionMessage {
  agentId: string
  publishedVersion: number | null
  hasUnpublishedChanges: boolean
}

/** A `voxie.agent_version` payload, or null when it is not one. */
export function parseAgentVersion(text: string): AgentVersionMessage | null {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null
  const record = value as Record<string, unknown>
  const published = record.published_version
  if (typeof record.agent_id !== 'string' || typeof record.has_unpublished_changes !== 'boolean') return null
  if (published !== null && (typeof published !== 'number' || !Number.isInteger(published) || published < 1)) return null
  return { agentId: record.agent_id, publishedVersion: published, hasUnpublishedChanges: record.has_unpublished_changes }
}

/** What the agent's live state is, in one phrase: "Live version v3", "Not published yet". */
export function liveLabel(publishedVersion: number | null): string {
  return publishedVersion === null ? 'Not published yet' : `Live version v${publishedVersion}`
}
