-- Per-agent call analytics (issue 17): `GET /api/agents/{id}/analytics` reads one agent's
-- sessions in a time window, grouped by the agent version each call ran or by UTC day.
--
-- Everything the query reads sits on the call_sessions row and in one covering index, so it is
-- an index-only range scan on (agent_id, started_at) whatever the table's size; the only join
-- is to token_usage, by primary key, for the sessions in the window.

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

-- The covering index ------------------------------------------------------------------------
-- Every column the analytics read, so the window is an index-only scan (bench/analytics.py:
-- 1 million sessions, p95 within 100 ms). It also serves what the index it replaces did
-- (one agent's sessions, newest first: a backward scan).

create index call_sessions_agent_analytics_idx on public.call_sessions (agent_id, started_at)
  include (id, agent_version, end_reason, duration_s, tool_calls, tool_errors);
drop index public.call_sessions_agent_started_idx;

-- Token usage per session, with its counts: the join from the window's sessions is then an
-- index-only lookup per session.
create index token_usage_session_counts_idx on public.token_usage (session_id)
  include (model, input_tokens, output_tokens, input_audio_tokens, output_audio_tokens,
           audio_seconds);

-- The query ---------------------------------------------------------------------------------
-- One agent's calls started in [p_from, p_to), grouped by `p_group_by`:
--   'version': the agent version each call ran (NULL, the draft or a call recorded before
--              versions existed, is the group keyed 'draft');
--   'day':     the UTC day the call started ('YYYY-MM-DD'); days without calls are left out.
-- The outcome of an end reason (completed / errored / abandoned) is the caller's to say
-- (shared/call_outcomes.py defines it once), passed as three lists of end reasons; a call with
-- no end reason yet is still running (`active`). Durations are of ended calls only.
-- Returns {"groups": [...], "total": {...}}: `total` is the whole window (one more grouping set
-- of the same scan).

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
  as $$
begin
  if p_group_by is null or p_group_by not in ('version', 'day') then
    raise exception 'group_by must be version or day, got %', p_group_by using errcode = '22023';
  end if;
  if p_from is null or p_to is null or p_from >= p_to then
    raise exception 'the window must have from before to, got [%, %)', p_from, p_to
      using errcode = '22023';
  end if;
  return (
    with sessions as materialized (
      select s.id,
             case when p_group_by = 'version' then s.agent_version end as version,
             case when p_group_by = 'day' then (s.started_at at time zone 'UTC')::date end as day,
             s.end_reason,
             s.duration_s,
             s.tool_calls,
             s.tool_errors
      from public.call_sessions s
      where s.agent_id = p_agent_id and s.started_at >= p_from and s.started_at < p_to
    ),
    keyed as (
      select s.*,
             case when p_group_by = 'day' then to_char(s.day, 'YYYY-MM-DD')
                  else coalesce(s.version::text, 'draft') end as grp
      from sessions s
    ),
    figures as (
      select coalesce(k.grp, '') as grp,
             grouping(k.grp) = 0 as grouped,
             case when grouping(k.grp) = 0 then min(k.version) end as version,
             case when grouping(k.grp) = 0 then min(k.day) end as day,
             count(*) as calls,
             count(*) filter (where k.end_reason = any (p_completed)) as completed,
             count(*) filter (where k.end_reason = any (p_errored)) as errored,
             count(*) filter (where k.end_reason = any (p_abandoned)) as abandoned,
             count(*) filter (where k.end_reason is null) as active,
             count(*) filter (where k.end_reason = 'grace_expired') as grace_expiries,
             percentile_cont(0.5) within group (order by k.duration_s) as median_duration_s,
             percentile_cont(0.9) within group (order by k.duration_s) as p90_duration_s,
             coalesce(sum(k.tool_calls), 0) as tool_calls,
             coalesce(sum(k.tool_errors), 0) as tool_errors
      from keyed k
      group by grouping sets ((k.grp), ())
    ),
    usage as (
      select coalesce(k.grp, '') as grp,
             u.model,
             sum(u.input_tokens) as input_tokens,
             sum(u.output_tokens) as output_tokens,
             sum(u.input_audio_tokens) as input_audio_tokens,
             sum(u.output_audio_tokens) as output_audio_tokens,
             sum(u.audio_seconds) as audio_seconds
      from keyed k
      join public.token_usage u on u.session_id = k.id
      group by grouping sets ((k.grp, u.model), (u.model))
    ),
    tokens as (
      select u.grp,
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
      group by u.grp
    ),
    rendered as (
      select f.grouped,
             f.version,
             f.day,
             jsonb_build_object(
               'key', case when f.grouped then f.grp end,
               'version', f.version,
               'day', f.day,
               'calls', f.calls,
               'completed', f.completed,
               'errored', f.errored,
               'abandoned', f.abandoned,
               'active', f.active,
               'grace_expiries', f.grace_expiries,
               'median_duration_s', f.median_duration_s,
               'p90_duration_s', f.p90_duration_s,
               'tool_calls', f.tool_calls,
               'tool_errors', f.tool_errors,
               'tool_error_rate',
                 case when f.tool_calls > 0 then f.tool_errors::float8 / f.tool_calls end,
               'tokens', coalesce(t.models, '[]'::jsonb)
             ) as figures
      from figures f
      left join tokens t on t.grp = f.grp
    )
    select jsonb_build_object(
      'groups', coalesce(
        (select jsonb_agg(r.figures order by r.version nulls first, r.day)
           from rendered r where r.grouped),
        '[]'::jsonb
      ),
      'total', (select r.figures from rendered r where not r.grouped)
    )
  );
end
$$;

-- Read by the service (the backend scopes it to the caller's agents), like the other functions.
revoke execute on function public.transcript_tool_counts(jsonb) from public, anon, authenticated;
revoke execute on function public.call_transcript_tool_counts() from public, anon, authenticated;
revoke execute on function public.agent_call_analytics(uuid, timestamptz, timestamptz, text,
  text[], text[], text[]) from public, anon, authenticated;
grant execute on function public.agent_call_analytics(uuid, timestamptz, timestamptz, text,
  text[], text[], text[]) to service_role;
