/**
 * People as the pages name them, from the identities the platform records (`user:<uuid>`,
 * `operator`, `platform`): who published a version, who is in a live room. One rule for every
 * page, so the same person never has two names.
 */

/** Who is looking: the owner id their agents get, and whether they are the operator. */
export interface Viewer {
  ownerId: string
  operator: boolean
}

/**
 * An identity for people: the viewer is "you"; another user can only be the agent's owner
 * (only the owner and the operator publish or call an agent; a Voxie session is for the user
 * who will own what it builds); the platform and the operator are named. Anything else (a
 * caller on a phone, a participant the platform did not mint) is shown as it is.
 */
export function personLabel(identity: string, viewer: Viewer | null): string {
  const mine = viewer !== null && (identity === `user:${viewer.ownerId}` || (viewer.operator && identity === 'operator'))
  if (mine) return 'you'
  if (identity.startsWith('user:')) return 'the owner'
  if (identity === 'operator') return 'the operator'
  if (identity === 'platform') return 'the platform'
  return identity
}

/** The people in a room, each named once: "you, the owner". */
export function peopleLabel(identities: readonly string[], viewer: Viewer | null): string {
  return [...new Set(identities.map((identity) => personLabel(identity, viewer)))].join(', ')
}
