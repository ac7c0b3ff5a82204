-- Per-agent call analytics (issue 17): `GET /api/agents/{id}/analytics` reads one agent's
-- sessions in a time window, grouped by the agent version each call ran or by UTC day.
--
-- The query is two index-only range scans on (agent_id, started_at) — one over call_sessions,
-- one over token_usage — whatever the tables' size, and no join: everything it reads about a
-- call sits on its session row (tool counts below), and each usage row carries its session's
-- agent, start and version (a copy the database keeps, below).

-- Tool calls and their errors, counted from the transcript ----------------------------------
-- The transcript (call_transcripts.items, LiveKit ChatContext items) stays the source: a
-- `function_call` item is one tool call, a `function_call_output` item with `is_error` true is
-- one that failed. Counting them from jsonb at query time means reading every transcript of the
-- window; instead a trigger counts them once, whenever a transcript is written (by either
-- store, a spool replay or a hand-written row alike), onto the session row.

alter table public.call_sessions
  add column tool_calls integer not null default 0 check (tool_calls >= 0),
  add column tool_errors integer not null default 0 check (tool_errors >= 0);

-- The rule, once: how many tool calls a transcript holds, and how many of them failed.
create or replace function public.transcript_tool_counts(
  p_items jsonb, out calls integer, out errors integer
)
  language sql
  immutable
  set search_path = ''
  as $$
  select (count(*) filter (where item ->> 'type' = 'function_call'))::integer,
         (count(*) filter (
           where item ->> 'type' = 'function_call_output' and item ->> 'is_error' = 'true'
         ))::integer
  from jsonb_array_elements(p_items) as item
$$;

create or replace function public.call_transcript_tool_counts() returns trigger
  language plpgsql
  set search_path = ''
  as $$
begin
  update public.call_sessions s
    set tool_calls = c.calls, tool_errors = c.errors
    from public.transcript_tool_counts(new.items) as c
    where s.id = new.session_id
      and (s.tool_calls, s.tool_errors) is distinct from (c.calls, c.errors);
  return null;
end
$$;

create trigger call_transcripts_tool_counts
  after insert or update of items on public.call_transcripts
  for each row execute function public.call_transcript_tool_counts();

-- Transcripts written before this migration.
update public.call_sessions s
  set tool_calls = c.calls, tool_errors = c.errors
  from public.call_transcripts t
  cross join lateral public.transcript_tool_counts(t.items) as c
  where t.session_id = s.id and (c.calls > 0 or c.errors > 0);

-- Usage rows carry their session's agent, start and version ---------------------------------
-- Tokens per model and group would otherwise be a join from every session of the window to
-- token_usage (55,000 sessions for a busy agent's year: a hash join over the whole table, or
-- as many index probes). The copy is the database's: taken from the session when a usage row
-- is written, and followed when the session's agent or version changes (an agent deleted
-- sets it null); no writer sends it.

alter table public.token_usage
  add column agent_id uuid,
  add column started_at timestamptz,
  add column agent_version integer;

create or replace function public.token_usage_session_keys() returns trigger
  language plpgsql
  set search_path = ''
  as $$
begin
  select s.agent_id, s.started_at, s.agent_version
    into new.agent_id, new.started_at, new.agent_version
    from public.call_sessions s
    where s.id = new.session_id;
  return new;
end
$$;

create trigger token_usage_session_keys
  before insert or update of session_id on public.token_usage
  for each row execute function public.token_usage_session_keys();

create or replace function public.call_session_keys_to_usage() returns trigger
  language plpgsql
  set search_path = ''
  as $$
begin
  update public.token_usage u
    set agent_id = new.agent_id, started_at = new.started_at, agent_version = new.agent_version
    where u.session_id = new.id;
  return null;
end
$$;

create trigger call_sessions_keys_to_usage
  after update of agent_id, started_at, agent_version on public.call_sessions
  for each row
  when ((old.agent_id, old.started_at, old.agent_version)
        is distinct from (new.agent_id, new.started_at, new.agent_version))
  execute function public.call_session_keys_to_usage();

update public.token_usage u
  set agent_id = s.agent_id, started_at = s.started_at, agent_version = s.agent_version
  from public.call_sessions s
  where s.id = u.session_id;

-- The covering indexes ----------------------------------------------------------------------
-- Every column the analytics read, so a window is an index-only scan (bench/analytics.py:
-- 1 million sessions). The sessions' one also serves what the index it replaces did (one
-- agent's sessions, newest first: a backward scan).

create index call_sessions_agent_analytics_idx on public.call_sessions (agent_id, started_at)
  include (agent_version, end_reason, duration_s, tool_calls, tool_errors);
drop index public.call_sessions_agent_started_idx;

create index token_usage_agent_started_idx on public.token_usage (agent_id, started_at)
  include (agent_version, model, input_tokens, output_tokens, input_audio_tokens,
           output_audio_tokens, audio_seconds);

-- The query ---------------------------------------------------------------------------------
-- One agent's calls started in [p_from, p_to), grouped by `p_group_by`:
--   'version': the agent version each call ran (NULL, the draft or a call recorded before
--              versions existed, is the group keyed 'draft');
--   'day':     the UTC day the call started ('YYYY-MM-DD'); days without calls are left out.
-- The outcome of an end reason (completed / errored / abandoned) is the caller's to say
-- (shared/call_outcomes.py defines it once), passed as three lists of end reasons; a call with
-- no end reason yet is still running (`active`). Durations are of ended calls only.
-- Returns {"groups": [...], "total": {...}}: `total` is the whole window (the empty grouping
-- set of the same scans). Groups are keyed by an integer while aggregating (the version, or
-- the day as days since 1970-01-01): integers sort and hash far faster than labels.

create or replace function public.agent_call_analytics(
  p_agent_id uuid,
  p_from timestamptz,
  p_to timestamptz,
  p_group_by text,
  p_completed text[],
  p_errored text[],
  p_abandoned text[]
)
  returns jsonb
  language plpgsql
  stable
  set search_path = ''
  -- A year of a busy agent's usage rows (55,000) sorts in memory, not on disk.
  set work_mem = '16MB'
  as $$
declare
  by_day constant boolean := p_group_by = 'day';
begin
  if p_group_by is null or p_group_by not in ('version', 'day') then
    raise exception 'group_by must be version or day, got %', p_group_by using errcode = '22023';
  end if;
  if p_from is null or p_to is null or p_from >= p_to then
    raise exception 'the window must have from before to, got [%, %)', p_from, p_to
      using errcode = '22023';
  end if;
  return (
    with figures as (
      select grouping(s.k) = 0 as grouped,
             s.k,
             count(*) as calls,
             count(*) filter (where s.end_reason = any (p_completed)) as completed,
             count(*) filter (where s.end_reason = any (p_errored)) as errored,
             count(*) filter (where s.end_reason = any (p_abandoned)) as abandoned,
             count(*) filter (where s.end_reason is null) as active,
             count(*) filter (where s.end_reason = 'grace_expired') as grace_expiries,
             percentile_cont(array[0.5, 0.9]) within group (order by s.duration_s) as durations,
             coalesce(sum(s.tool_calls), 0) as tool_calls,
             coalesce(sum(s.tool_errors), 0) as tool_errors
      from (
        select case when by_day
                    then (c.started_at at time zone 'UTC')::date - date '1970-01-01'
                    else c.agent_version end as k,
               c.end_reason, c.duration_s, c.tool_calls, c.tool_errors
        from public.call_sessions c
        where c.agent_id = p_agent_id and c.started_at >= p_from and c.started_at < p_to
      ) as s
      group by grouping sets ((s.k), ())
    ),
    per_group as (
      select u.k,
             u.model,
             sum(u.input_tokens) as input_tokens,
             sum(u.output_tokens) as output_tokens,
             sum(u.input_audio_tokens) as input_audio_tokens,
             sum(u.output_audio_tokens) as output_audio_tokens,
             sum(u.audio_seconds) as audio_seconds
      from (
        select case when by_day
                    then (t.started_at at time zone 'UTC')::date - date '1970-01-01'
                    else t.agent_version end as k,
               t.model, t.input_tokens, t.output_tokens, t.input_audio_tokens,
               t.output_audio_tokens, t.audio_seconds
        from public.token_usage t
        where t.agent_id = p_agent_id and t.started_at >= p_from and t.started_at < p_to
      ) as u
      group by u.k, u.model
    ),
    -- The window's total per model, from the groups' sums (a few hundred rows, not the scan).
    usage as (
      select true as grouped, g.* from per_group g
      union all
      select false, null, g.model, sum(g.input_tokens), sum(g.output_tokens),
             sum(g.input_audio_tokens), sum(g.output_audio_tokens), sum(g.audio_seconds)
      from per_group g
      group by g.model
    ),
    tokens as (
      select u.grouped,
             u.k,
             jsonb_agg(
               jsonb_build_object(
                 'model', u.model,
                 'input_tokens', u.input_tokens,
                 'output_tokens', u.output_tokens,
                 'input_audio_tokens', u.input_audio_tokens,
                 'output_audio_tokens', u.output_audio_tokens,
                 'audio_seconds', u.audio_seconds
               )
               order by u.model
             ) as models
      from usage u
      group by u.grouped, u.k
    ),
    rendered as (
      select f.grouped,
             f.k,
             jsonb_build_object(
               'key', case when not f.grouped then null
                           when by_day then to_char(date '1970-01-01' + f.k, 'YYYY-MM-DD')
                           else coalesce(f.k::text, 'draft') end,
               'version', case when f.grouped and not by_day then f.k end,
               'day', case when f.grouped and by_day then date '1970-01-01' + f.k end,
               'calls', f.calls,
               'completed', f.completed,
               'errored', f.errored,
               'abandoned', f.abandoned,
               'active', f.active,
               'grace_expiries', f.grace_expiries,
               'median_duration_s', f.durations[1],
               'p90_duration_s', f.durations[2],
               'tool_calls', f.tool_calls,
               'tool_errors', f.tool_errors,
               'tool_error_rate',
                 case when f.tool_calls > 0 then f.tool_errors::float8 / f.tool_calls end,
               'tokens', coalesce(t.models, '[]'::jsonb)
             ) as figures
      from figures f
      -- Equality (hashable) rather than `is not distinct from` (a filter over every pair):
      -- no version or day is the smallest integer, so it stands for the draft's null.
      left join tokens t
        on t.grouped = f.grouped and coalesce(t.k, -2147483648) = coalesce(f.k, -2147483648)
    )
    select jsonb_build_object(
      'groups', coalesce(
        (select jsonb_agg(r.figures order by r.k nulls first) from rendered r where r.grouped),
        '[]'::jsonb
      ),
      'total', (select r.figures from rendered r where not r.grouped)
    )
  );
end
$$;

-- Read by the service (the backend scopes it to the caller's agents), like the other functions.
revoke execute on function public.transcript_tool_counts(jsonb) from public, anon, authenticated;
revoke execute on function public.agent_call_analytics(uuid, timestamptz, timestamptz, text,
  text[], text[], text[]) from public, anon, authenticated;
grant execute on function public.agent_call_analytics(uuid, timestamptz, timestamptz, text,
  text[], text[], text[]) to service_role;
