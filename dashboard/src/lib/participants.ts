import { ParticipantKind } from 'livekit-client'

/** What the rule reads of a participant: its kind and, where known, its permissions. */
export interface ParticipantLike {
  kind: ParticipantKind
  permissions?: { agent?: boolean; recorder?: boolean } | undefined
}

/**
 * The platform's rule (shared/presence.py, held to the same table in
 * tests/support/participants.json): an agent has the AGENT kind or the agent permission.
 */
export function isAgent(participant: ParticipantLike): boolean {
  return participant.kind === ParticipantKind.AGENT || participant.permissions?.agent === true
}

/** A person in a browser or app, or on a phone, without the agent or recorder permission. */
export function isHuman(participant: ParticipantLike): boolean {
  const person = participant.kind === ParticipantKind.STANDARD || participant.kind === ParticipantKind.SIP
  return person && participant.permissions?.agent !== true && participant.permissions?.recorder !== true
}
