/**
 * The Calls page's agent filter: a search-as-you-type picker over the API's agent search (the
 * database searches every agent, however many), not a list of a first page of agents. The
 * Agents page's search box sends the same search, so it shares the bounds below.
 */

import { query } from './api'
import type { Agent, CallSession } from './types'

/** Typing sends one search per pause, not one per key. */
export const SEARCH_DELAY_MS = 250
/** The API's bound on a search (MAX_SEARCH_LENGTH in shared/store/search.py). */
export const SEARCH_MAX_LENGTH = 100
/** How many matches the picker offers at once; typing more narrows them. */
export const PICKER_LIMIT = 20

/** The search for `text`: archived agents too (their calls stay listed); empty text: the newest. */
export function agentSearchPath(text: string): string {
  return `/api/agents${query({ q: text.trim(), include_archived: true, limit: PICKER_LIMIT })}`
}

/** The option highlighted after an arrow key: wraps around; none highlighted with no options. */
export function moveActive(active: number, count: number, step: 1 | -1): number {
  if (count === 0) return -1
  if (active < 0 || active >= count) return step > 0 ? 0 : count - 1
  return (active + step + count) % count
}

/** An agent as an option reads: its name, and whether it is archived. */
export function agentLabel(agent: Pick<Agent, 'name' | 'status'>): string {
  return agent.status === 'archived' ? `${agent.name} (archived)` : agent.name
}

/** Who a call was with, by the name the API sent with it: Voxie for a Voxie session about no
 * agent, `unnamed` when the agent is gone (deleted) or not the viewer's to name. */
export function sessionAgentName(session: Pick<CallSession, 'agent_name' | 'kind'>, unnamed: string): string {
  if (session.agent_name) return session.agent_name
  return session.kind === 'creation' ? 'Voxie' : unnamed
}
