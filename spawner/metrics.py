"""The spawner's Prometheus metrics, served by the worker on `WORKER_PROMETHEUS_PORT` (/metrics).

Counted where they happen: jobs in the request handler (main process), sessions, config loads
and end reasons in the job. With the thread executor everything shares one registry; with the
process executor set `PROMETHEUS_MULTIPROC_DIR` (LiveKit's multiprocess mode) to aggregate
the job processes' figures.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

JOBS = Counter(
    "spawner_jobs_total",
    "Job offers answered, by routing verdict (accepted, wrong_room, other_deployment, ...).",
    ["verdict"],
)
ACTIVE_SESSIONS = Gauge(
    "spawner_active_sessions", "Calls running in this replica.", multiprocess_mode="livesum"
)
SESSIONS_ENDED = Counter(
    "spawner_sessions_ended_total", "Calls ended, by end reason and status.", ["reason", "status"]
)
SESSION_SECONDS = Histogram(
    "spawner_session_duration_seconds",
    "Call duration from job start to end.",
    buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200),
)
CONFIG_LOADS = Counter(
    "spawner_config_loads_total",
    "Config gets by outcome: cached, loaded from the store, or stale served during an outage.",
    ["result"],
)
CONFIG_LOAD_FAILURES = Counter(
    "spawner_config_load_failures_total",
    "Config loads that failed, by reason (not_found, invalid, store_unavailable).",
    ["reason"],
)
CONFIG_LOAD_SECONDS = Histogram(
    "spawner_config_load_seconds",
    "Time of a config load from the store (cache misses only).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ADMISSION_SECONDS = Histogram(
    "spawner_admission_seconds",
    "Assignment to agent ready (config loaded, session built), before the room connection.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
TOOL_CALLS = Counter(
    "spawner_tool_calls_total", "HTTP tool calls by outcome (ok, refused, error).", ["outcome"]
)
