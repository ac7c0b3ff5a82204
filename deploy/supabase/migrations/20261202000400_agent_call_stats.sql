-- The call figures the dashboard's agent list shows: each agent's last call and its number of
-- calls in the last 7 days. A call is a test or live session; Voxie's creation and edit
-- sessions are not calls of the agent. One statement for a whole page of agents, each figure
-- read from the (agent_id, started_at desc) index: the newest row, and a range count.
create or replace function public.agent_call_stats(p_agent_ids uuid[])
  returns table (agent_id uuid, last_call_at timestamptz, calls_7d bigint)
  language sql
  stable
  set search_path = ''
  as $$
  select a.id, last_call.started_at, recent.calls
  from unnest(coalesce(p_agent_ids, '{}'::uuid[])) as a(id)
  left join lateral (
    select s.started_at from public.call_sessions s
    where s.agent_id = a.id and s.kind <> 'creation'
    order by s.started_at desc
    limit 1
  ) as last_call on true
  cross join lateral (
    select count(*) as calls from public.call_sessions s
    where s.agent_id = a.id and s.kind <> 'creation'
      and s.started_at >= now() - interval '7 days'
  ) as recent
$$;

revoke execute on function public.agent_call_stats(uuid[]) from public, anon, authenticated;
grant execute on function public.agent_call_stats(uuid[]) to service_role;
