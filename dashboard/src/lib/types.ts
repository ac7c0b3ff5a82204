/** The API's shapes, as backend/bodies.py and shared/contracts/*.py define them. */

export interface HttpToolSpec {
  type: 'http'
  name: string
  description: string
  parameters: Record<string, unknown>
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  url: string
  headers: Record<string, string | { secret: string }>
  timeout_s: number
}

export interface BuiltinToolSpec {
  type: 'builtin'
  name: string
}

export type ToolSpec = HttpToolSpec | BuiltinToolSpec

export type AgentStatus = 'draft' | 'active' | 'archived'

export type Pipeline = 'realtime' | 'stt-llm-tts'

export type HttpMethod = HttpToolSpec['method']

/** `GET /api/catalog` (backend/routes/catalog.py): what an agent may choose from, the lists the
 * API validates against. */
export interface Catalog {
  voices: { name: string; description: string }[]
  models: string[]
  pipelines: Pipeline[]
  tool_methods: HttpMethod[]
  default_voice: string
  default_model: string
  default_pipeline: Pipeline
}

/** `POST /api/agents`' body (backend/routes/agents.py AgentCreate): the slug and the name are
 * required, the rest has the server's defaults. */
export interface AgentCreate {
  slug: string
  name: string
  instructions?: string
  greeting?: string
  voice?: string
  model?: string
  language?: string
  tools?: (Omit<HttpToolSpec, 'timeout_s'> & { timeout_s?: number })[]
  pipeline?: Pipeline
  summarize?: boolean
  status?: 'draft' | 'active'
}

export interface Agent {
  id: string
  owner_id: string
  slug: string
  name: string
  instructions: string
  greeting: string
  voice: string
  model: string
  language: string
  tools: ToolSpec[]
  pipeline: Pipeline
  summarize: boolean
  status: AgentStatus
  /** The draft's row version (optimistic locking), not a published version. */
  version: number
  /** The published version plain calls run; null until the agent is first published. */
  published_version: number | null
  /** The draft differs from the published version (waits to be published). */
  has_unpublished_changes: boolean
  created_at: string
  updated_at: string
  /** Added to list items only. */
  last_call_at?: string | null
  calls_7d?: number
}

export interface Paged<T> {
  items: T[]
  total: number
  limit: number
  offset: number
  unreadable: string[]
}

export type SessionKind = 'test' | 'live' | 'creation'

export interface CallSession {
  id: string
  agent_id: string | null
  owner_id: string | null
  room_name: string
  kind: SessionKind | string
  deployment: string
  participant_identity: string | null
  job_id: string | null
  status: 'active' | 'ended' | 'failed'
  started_at: string
  ended_at: string | null
  duration_s: number | null
  end_reason: string | null
  error: string | null
  /** When a still-active call began to end (the caller hung up; the summary is being written). */
  ending_at?: string | null
  /** Its agent's name; null for a Voxie session about no agent, or a deleted agent. */
  agent_name: string | null
}

export interface TokenUsage {
  model: string
  input_tokens: number
  output_tokens: number
  input_audio_tokens: number
  output_audio_tokens: number
  audio_seconds: number
}

/** shared/contracts/sessions.py CallTurn: one spoken agent reply and the caller's wait for it. */
export interface CallTurn {
  turn: number
  item_id: string | null
  spoken_at: string
  /** The caller's end of speech to the agent's first audio; null when no speech preceded it. */
  latency_s: number | null
  /** The model's own time to its first audio, where it reports one. */
  model_ttfa_s: number | null
  interrupted: boolean
}

export interface SessionDetail {
  session: CallSession
  transcript: Record<string, unknown>[]
  summary: string | null
  usage: TokenUsage[]
  turns: CallTurn[]
}

export interface RoomGrant {
  room_name: string
  token: string
  livekit_url: string
}

/** What a call runs: a published version number, or the working draft. */
export type RunTarget = number | 'draft'

export interface SpawnGrant extends RoomGrant {
  agent: Agent
  version: RunTarget
}

/** shared/contracts/versions.py AgentVersion: one immutable published snapshot. */
export interface AgentVersion {
  agent_id: string
  version: number
  config: Record<string, unknown>
  draft_version: number
  published_by: string
  published_at: string
  note: string
}

/** backend/routes/versions.py VersionDiff: the runnable fields that differ between a and b. */
export interface VersionDiff {
  agent_id: string
  a: RunTarget
  b: RunTarget
  changes: { field: string; a: unknown; b: unknown }[]
}

/** shared/contracts/analytics.py ModelTokens. */
export interface ModelTokens extends TokenUsage {
  cost_usd: number | null
}

/** shared/contracts/analytics.py CallFigures: one group of calls (or the whole window). */
export interface CallFigures {
  key: string | null
  version: number | null
  day: string | null
  calls: number
  completed: number
  errored: number
  abandoned: number
  active: number
  grace_expiries: number
  median_duration_s: number | null
  p90_duration_s: number | null
  tool_calls: number
  tool_errors: number
  tool_error_rate: number | null
  turns: number
  p50_turn_latency_s: number | null
  p95_turn_latency_s: number | null
  tokens: ModelTokens[]
  cost_usd: number | null
}

export type GroupBy = 'version' | 'day'

/** `GET /api/agents/{id}/analytics`. */
export interface CallAnalytics {
  agent_id: string
  from: string
  to: string
  group_by: GroupBy
  priced: boolean
  groups: CallFigures[]
  total: CallFigures
}

export interface RoomView {
  name: string
  kind: 'agent' | 'creation' | string
  agent_id: string | null
  /** Null for Voxie's rooms, an agent that is gone, or while the database is unreadable. */
  agent_name: string | null
  humans: string[]
  agent_present: boolean
  agents: string[]
  state: string
  grace_remaining_s: number | null
  session_id: string | null
  age_s: number
  created_at: string
}

export interface Stats {
  rooms: { agent: number; creation: number }
  by_state: Record<string, number>
  agents_running: number
  humans: number
  capacity?: { max_total_agents: number; agent_rooms: number; available: number }
}

export interface PassReport {
  rooms: number
  open_sessions: number
  actions: { action: string; room: string; detail: string }[]
}

export interface Me {
  user_id: string | null
  operator: boolean
  /** The owner of the agents this caller creates (the operator has one too). */
  owner_id: string
}

/** Where a secret comes from: the owner stored it (`POST /api/secrets`), or it is one of the
 * operator's TOOL_SECRETS in the server's environment (listed, never deletable). */
export type SecretSource = 'stored' | 'environment'

/** `GET /api/secrets` item and `POST /api/secrets`' answer: never the value. */
export interface Secret {
  name: string
  /** Exact host names (or IP literals) and `*.suffix` patterns the value may be sent to. */
  hosts: string[]
  created_at: string | null
  last_used_at: string | null
  source: SecretSource
}

/** `GET /api/secrets` (sorted by name). */
export interface SecretList {
  items: Secret[]
}

/** `GET /api/keys` item (shared/contracts/api_keys.py): never the key, only its prefix. */
export interface ApiKey {
  id: string
  name: string
  /** The key's first 12 characters (`vx_live_` and four more): enough to tell keys apart. */
  prefix: string
  created_at: string
  /** The last request made with it, to within a minute; null if never used. */
  last_used_at: string | null
}

/** `POST /api/keys`' answer: the only time the key itself is ever shown. */
export interface ApiKeyCreated extends ApiKey {
  key: string
}

/** `GET /api/keys` (oldest first). */
export interface ApiKeyList {
  items: ApiKey[]
}

/** `POST /api/keys`' body. */
export interface ApiKeyCreate {
  name: string
}

/** `POST /api/secrets`' body; the value goes to the server and is never read back. */
export interface SecretCreate {
  name: string
  value: string
  hosts: string[]
}

/** `GET|PUT /api/owners/{owner_id}/egress` (operator): internal addresses one owner's tools
 * may call (CIDR networks or host names). */
export interface OwnerEgress {
  owner_id: string
  allow: string[]
  updated_at: string | null
}

export interface DashboardConfig {
  auth: { mode: 'dev' | 'supabase'; supabase_url: string | null; supabase_anon_key: string | null }
  platform_env: string
  /** Seconds the page waits for the agent to join before saying it did not (optional). */
  agent_join_timeout_s?: number
}

export interface DevSignIn {
  access_token: string
  expires_at: number
  user: { id: string | null; email: string; operator: boolean }
}
