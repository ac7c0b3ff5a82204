const LABELS: Record<string, string> = { active: 'Active', draft: 'Draft', archived: 'Archived', ended: 'Ended', failed: 'Failed' }

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{LABELS[status] ?? status}</span>
}
