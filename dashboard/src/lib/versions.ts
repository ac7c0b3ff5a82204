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

// The words (issue 22): a *version* is published (v1, v2, …: what calls run); the draft's own
// counter, the row's `version` field (every save, the optimistic lock), is its *revision*. The
// two are never called by the other's name.

/** The draft's counter: "Revision 3". */
export function revisionLabel(revision: number): string {
  return `Revision ${revision}`
}

/** Which version calls run, and whether the draft waits to be published. */
export interface VersionState {
  publishedVersion: number | null
  hasUnpublishedChanges: boolean
}

export interface VersionBadge {
  label: string
  /** `live`: calls run it (green); `unpublished`: the draft differs (amber); `none`: nothing
   * published, so nothing runs (neutral: not a success). */
  tone: 'live' | 'unpublished' | 'none'
}

/** The badges of an agent's version state. A never-published agent is only "Not published yet":
 * every draft of it is unpublished, so "Unpublished changes" would say nothing more. */
export function versionBadges({ publishedVersion, hasUnpublishedChanges }: VersionState): VersionBadge[] {
  if (publishedVersion === null) return [{ label: liveLabel(null), tone: 'none' }]
  const badges: VersionBadge[] = [{ label: liveLabel(publishedVersion), tone: 'live' }]
  if (hasUnpublishedChanges) badges.push({ label: 'Unpublished changes', tone: 'unpublished' })
  return badges
}

/** The agent page's "Live version" fact: "v2", "v2 (the draft has unpublished changes)". */
export function liveFact({ publishedVersion, hasUnpublishedChanges }: VersionState): string {
  if (publishedVersion === null) return 'Not published yet'
  return hasUnpublishedChanges ? `v${publishedVersion} (the draft has unpublished changes)` : `v${publishedVersion}`
}

/** After the edit form saved: which revision the draft is now, and what calls run. `before` is
 * the version published before the save: activating an agent publishes its first. */
export function savedSentence(revision: number, state: VersionState, before: number | null = state.publishedVersion): string {
  const saved = `Changes saved as revision ${revision} of the draft.`
  if (before === null && state.publishedVersion !== null) {
    return `Changes saved as revision ${revision} of the draft, and published as version ${state.publishedVersion}: calls run it.`
  }
  if (state.publishedVersion !== null && state.hasUnpublishedChanges) {
    return `${saved} Calls run version ${state.publishedVersion} until you publish the draft.`
  }
  return saved
}

/** What a test call of the agent runs. A draft-status or never-published agent takes no plain
 * call: its test runs the working draft ("Test draft"). An archived one is asked plainly, and
 * the page says why it is refused. */
export function testTarget(agent: { status: string; published_version: number | null }): RunTarget | null {
  if (agent.status === 'archived') return null
  return agent.status === 'draft' || agent.published_version === null ? DRAFT : null
}

/** The diff's default: what calls run against the draft ("v2 with Draft"); with nothing
 * published, the newest version against the draft. */
export function defaultComparison(publishedVersion: number | null, newest: number): { a: RunTarget; b: RunTarget } {
  return { a: publishedVersion ?? newest, b: DRAFT }
}
