-- Per-turn latency (issue 27, item 3): every spoken agent reply of a call, with how long the
-- caller waited for it (end of their speech → the agent's first audio) and the model's own time
-- to first audio. Written by the workers with the call's end (shared/recording.py, replayed
-- idempotently: one row per (session, turn)); read by `GET /api/sessions/{id}` and the
-- analytics below (p50/p95 per agent, version and day).

create table public.call_turns (
  session_id uuid not null references public.call_sessions (id) on delete cascade,
  turn integer not null check (turn >= 1),
  item_id text check (char_length(item_id) <= 128),
  spoken_at timestamptz not null,
  latency_s double precision check (latency_s >= 0),
  model_ttfa_s double precision check (model_ttfa_s >= 0),
  interrupted boolean not null default false,
  -- The session's agent, start and version: the database's copy, as on token_usage
  -- (20261202000300_call_analytics.sql), so the analytics read one index range, no join.
  agent_id uuid,
  started_at timestamptz,
  agent_version integer,
  primary key (session_id, turn)
);

-- The same trigger function as token_usage's: it fills exactly these three columns from the
-- row's session, whatever the table.
create trigger call_turns_session_keys
  before insert or update of session_id on public.call_turns
  for each row execute function public.token_usage_session_keys();

-- A session's keys follow to all of its records (replaces the token_usage-only version).
create or replace function public.call_session_keys_to_usage() returns trigger
  language plpgsql
  set search_path = ''
  as $$
begin
  update public.token_usage u
    set agent_id = new.agent_id, started_at = new.started_at, agent_version = new.agent_version
    where u.session_id = new.id;
  update public.call_turns t
    set agent_id = new.agent_id, started_at = new.started_at, agent_version = new.agent_version
    where t.session_id = new.id;
  return null;
end
$$;

-- Only measured turns matter to the percentiles: the index holds just those.
create index call_turns_agent_started_idx on public.call_turns (agent_id, started_at)
  include (agent_version, latency_s) where latency_s is not null;

alter table public.call_turns enable row level security;
create policy call_turns_owner_select on public.call_turns
  for select to authenticated using (
    exists (
      select from public.call_sessions s
      where s.id = session_id and s.owner_id = (select auth.uid())
    )
  );
revoke all on public.call_turns from anon;
revoke insert, update, delete, truncate on public.call_turns from authenticated;
grant select on public.call_turns to authenticated;
grant all on public.call_turns to service_role;

-- The analytics gain turn latency ------------------------------------------------------------
-- The call figures stay where they are, under a new name; `agent_call_analytics` (same
-- arguments, same answer) adds to each group, and to the total, the number of measured turns
-- and the 50th and 95th percentiles of their latency (linear interpolation, as the durations;
-- null when no turn was measured). Turns are grouped with their session: its version, or the
-- UTC day it started.

alter function public.agent_call_analytics(uuid, timestamptz, timestamptz, text, text[], text[],
  text[]) rename to agent_call_figures;

create function public.agent_call_analytics(
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
  set work_mem = '16MB'
  as $$
declare
  by_day constant boolean := p_group_by = 'day';
  -- First: it checks the arguments.
  calls constant jsonb := public.agent_call_figures(
    p_agent_id, p_from, p_to, p_group_by, p_completed, p_errored, p_abandoned
  );
begin
  return (
    with latencies as (
      select grouping(t.k) = 0 as grouped,
             t.k,
             count(*) as turns,
             percentile_cont(array[0.5, 0.95]) within group (order by t.latency_s) as p
      from (
        select case when by_day
                    then (c.started_at at time zone 'UTC')::date - date '1970-01-01'
                    else c.agent_version end as k,
               c.latency_s
        from public.call_turns c
        where c.agent_id = p_agent_id and c.started_at >= p_from and c.started_at < p_to
          and c.latency_s is not null
      ) as t
      group by grouping sets ((t.k), ())
    ),
    rendered as (
      select l.grouped,
             l.k,
             jsonb_build_object(
               'turns', l.turns, 'p50_turn_latency_s', l.p[1], 'p95_turn_latency_s', l.p[2]
             ) as figures
      from latencies l
    ),
    groups as (
      select g.ord,
             g.figures || coalesce(
               r.figures,
               jsonb_build_object(
                 'turns', 0, 'p50_turn_latency_s', null, 'p95_turn_latency_s', null
               )
             ) as figures
      from jsonb_array_elements(calls -> 'groups') with ordinality as g(figures, ord)
      -- A group's key as the call figures compute it: the day since 1970, or the version
      -- (null, the draft, stands as the smallest integer, as there).
      left join rendered r
        on r.grouped
       and coalesce(r.k, -2147483648) = coalesce(
             case when by_day then (g.figures ->> 'day')::date - date '1970-01-01'
                  else (g.figures ->> 'version')::integer end,
             -2147483648
           )
    )
    select jsonb_build_object(
      'groups', coalesce((select jsonb_agg(g.figures order by g.ord) from groups g), '[]'::jsonb),
      -- The empty grouping set answers one row even over no turns: the total always has one.
      'total', (calls -> 'total') || (select r.figures from rendered r where not r.grouped)
    )
  );
end
$$;

revoke execute on function public.agent_call_figures(uuid, timestamptz, timestamptz, text,
  text[], text[], text[]) from public, anon, authenticated;
revoke execute on function public.agent_call_analytics(uuid, timestamptz, timestamptz, text,
  text[], text[], text[]) from public, anon, authenticated;
grant execute on function public.agent_call_analytics(uuid, timestamptz, timestamptz, text,
  text[], text[], text[]) to service_role;
