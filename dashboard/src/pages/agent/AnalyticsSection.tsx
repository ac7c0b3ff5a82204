import { useId, useState } from 'react'
import { FailureNotice } from '../../components/Notice'
import { useLoad } from '../../components/useApi'
import { api, query } from '../../lib/api'
import {
  DEFAULT_WINDOW,
  OUTCOMES,
  WINDOWS,
  analyticsQuery,
  answeredDays,
  chartLayout,
  costText,
  durationText,
  groupLabel,
  parseWindow,
  tokensText,
  type Outcome,
  type WindowDays,
} from '../../lib/analytics'
import { responseText } from '../../lib/turns'
import type { CallAnalytics, CallFigures, GroupBy } from '../../lib/types'

const OUTCOME_LABELS: Record<Outcome, string> = { completed: 'Completed', errored: 'Errored', abandoned: 'Abandoned', other: 'Active or other' }

/** The agent's calls of the last 7, 30 or 90 days per version (or per day): a bar chart of
 * calls by outcome, and the table of every figure (the chart's accessible fallback). */
export function AnalyticsSection({ agentId }: { agentId: string }) {
  const [groupBy, setGroupBy] = useState<GroupBy>('version')
  const [days, setDays] = useState<WindowDays>(DEFAULT_WINDOW)
  const windowId = useId()
  const { data, failure, loading, reload } = useLoad(
    (signal) => api.get<CallAnalytics>(`/api/agents/${agentId}/analytics${query(analyticsQuery(days, groupBy))}`, signal),
    [agentId, groupBy, days],
  )
  // Until the next answer arrives the figures shown are the previous window's: say which.
  const shownDays = data ? answeredDays(data) : days
  return (
    <section className="card" aria-labelledby="analytics-title">
      <div className="section-head">
        <h2 id="analytics-title">Analytics</h2>
        <div className="analytics-controls">
          <div className="inline-field">
            <label htmlFor={windowId}>Period</label>
            <select id={windowId} value={days} onChange={(e) => setDays(parseWindow(e.target.value))}>
              {WINDOWS.map((d) => (
                <option key={d} value={d}>
                  Last {d} days
                </option>
              ))}
            </select>
          </div>
          <fieldset className="segmented">
            <legend className="visually-hidden">Group the calls by</legend>
            {(['version', 'day'] as const).map((g) => (
              <label key={g} className="check">
                <input type="radio" name="analytics-group" value={g} checked={groupBy === g} onChange={() => setGroupBy(g)} />
                By {g}
              </label>
            ))}
          </fieldset>
        </div>
      </div>
      {data && <p className="muted">Calls of the last {shownDays} days.</p>}
      {loading && (
        <p className="muted" role="status">
          Loading the calls of the last {days} days…
        </p>
      )}
      {failure && <FailureNotice failure={failure} onRetry={reload} />}
      <div aria-busy={loading}>
        {data && data.groups.length === 0 && <p role="status">No calls in the last {shownDays} days.</p>}
        {data && data.groups.length > 0 && (
          <>
            <Chart analytics={data} />
            <FiguresTable analytics={data} />
          </>
        )}
      </div>
    </section>
  )
}

const WIDTH = 560
const HEIGHT = 180
const LEFT = 36
const BOTTOM = 28

function Chart({ analytics }: { analytics: CallAnalytics }) {
  const layout = chartLayout(analytics.groups, analytics.group_by, WIDTH - LEFT - 8, HEIGHT)
  const summary = layout.bars.map((b) => `${b.label}: ${b.calls}`).join(', ')
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT + BOTTOM + 8}`} role="img" aria-labelledby="chart-title chart-desc">
        <title id="chart-title">Calls per {analytics.group_by}, by outcome</title>
        <desc id="chart-desc">{summary}. The table below has every figure.</desc>
        <g transform={`translate(${LEFT} 8)`}>
          {layout.ticks.map((t) => (
            <g key={t.value} className="chart-tick">
              <line x1={0} x2={WIDTH - LEFT - 8} y1={t.y} y2={t.y} />
              <text x={-6} y={t.y} dy="0.32em" textAnchor="end">
                {t.value}
              </text>
            </g>
          ))}
          {layout.bars.map((bar) => (
            <g key={bar.label}>
              {bar.segments.map((s) => (
                <rect key={s.outcome} className={`bar-${s.outcome}`} x={bar.x} y={s.y} width={bar.width} height={s.height} />
              ))}
              {bar.showLabel && (
                <text className="chart-label" x={bar.x + bar.width / 2} y={HEIGHT + 18} textAnchor="middle">
                  {bar.label}
                </text>
              )}
            </g>
          ))}
        </g>
      </svg>
      <figcaption className="chart-legend">
        {OUTCOMES.map((o) => (
          <span key={o}>
            <span className={`swatch bar-${o}`} aria-hidden="true" /> {OUTCOME_LABELS[o]}
          </span>
        ))}
      </figcaption>
    </figure>
  )
}

function FiguresRow({ group, analytics, total = false }: { group: CallFigures; analytics: CallAnalytics; total?: boolean }) {
  return (
    <tr>
      <th scope="row" data-label={analytics.group_by === 'day' ? 'Day' : 'Version'}>
        {total ? 'All' : groupLabel(group, analytics.group_by)}
      </th>
      <td data-label="Calls">{group.calls}</td>
      <td data-label="Completed">{group.completed}</td>
      <td data-label="Errored">{group.errored}</td>
      <td data-label="Abandoned">{group.abandoned}</td>
      <td data-label="Median">{durationText(group.median_duration_s)}</td>
      <td data-label="p90">{durationText(group.p90_duration_s)}</td>
      <td data-label="Response p50 / p95">{responseText(group)}</td>
      <td data-label="Tokens">{tokensText(group)}</td>
      <td data-label="Cost">{costText(group, analytics.priced)}</td>
    </tr>
  )
}

function FiguresTable({ analytics }: { analytics: CallAnalytics }) {
  return (
    <table className="table table-cards figures">
      <caption className="visually-hidden">Call figures per {analytics.group_by}</caption>
      <thead>
        <tr>
          <th scope="col">{analytics.group_by === 'day' ? 'Day (UTC)' : 'Version'}</th>
          <th scope="col">Calls</th>
          <th scope="col">Completed</th>
          <th scope="col">Errored</th>
          <th scope="col">Abandoned</th>
          <th scope="col">Median duration</th>
          <th scope="col">p90 duration</th>
          <th scope="col">Response p50 / p95</th>
          <th scope="col">Tokens</th>
          <th scope="col">Cost</th>
        </tr>
      </thead>
      <tbody>
        {analytics.groups.map((g) => (
          <FiguresRow key={g.key ?? 'none'} group={g} analytics={analytics} />
        ))}
      </tbody>
      <tfoot>
        <FiguresRow group={analytics.total} analytics={analytics} total />
      </tfoot>
    </table>
  )
}
