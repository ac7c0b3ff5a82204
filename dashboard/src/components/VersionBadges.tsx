import { versionBadges, type VersionState } from '../lib/versions'

const TONES = { live: 'badge-live', unpublished: 'badge-unpublished', none: 'badge-none' } as const

/** Which version calls run, and whether the draft waits to be published, as badges. */
export function VersionBadges({ state, role }: { state: VersionState; role?: 'status' }) {
  return (
    <p className="version-state" role={role}>
      {versionBadges(state).map((badge) => (
        <span key={badge.label} className={`badge ${TONES[badge.tone]}`}>
          {badge.label}
        </span>
      ))}
    </p>
  )
}
