-- Worker heartbeats: the LiveKit Agents workers registered now and whether they have room
-- (shared/contracts/workers.py). livekit-server drops a dispatch launched while no worker of
-- its agent name is registered, or while every one is full, and never retries it; with these
-- rows the backend refuses such a room at once and re-dispatches a dropped one as soon as a
-- worker with room appears.
--
-- Each worker writes its row when it registers, when its sessions or availability change, and
-- every few seconds; `expires_at` is set by the database's clock, so liveness never compares
-- two machines' clocks. A worker deletes its row when it stops; rows of workers that died stay
-- until a later heartbeat prunes them.

create table public.worker_heartbeats (
  worker_id text primary key check (length(worker_id) between 1 and 128),
  agent_name text not null check (length(agent_name) between 1 and 128),
  role text not null check (role in ('voxie', 'spawner')),
  deployment text not null check (length(deployment) between 1 and 64),
  active_sessions integer not null check (active_sessions >= 0),
  max_sessions integer not null check (max_sessions >= 1),
  available boolean not null,
  draining boolean not null default false,
  registered_at timestamptz not null default now(),
  -- Since when the worker has had room without a break; null while full or draining.
  available_since timestamptz,
  last_seen timestamptz not null default now(),
  expires_at timestamptz not null
);

create index worker_heartbeats_expires_idx on public.worker_heartbeats (expires_at);

-- Records one heartbeat; `available_since` keeps its value while the worker stays available.
-- Rows expired for an hour (workers that died) are pruned on the way.
create or replace function public.worker_heartbeat(
  p_worker_id text,
  p_agent_name text,
  p_role text,
  p_deployment text,
  p_active_sessions integer,
  p_max_sessions integer,
  p_available boolean,
  p_draining boolean,
  p_ttl_s double precision
)
  returns void
  language plpgsql
  set search_path = ''
  as $$
begin
  if p_ttl_s <= 0 or p_ttl_s > 3600 then
    raise exception 'heartbeat ttl must be in (0, 3600] seconds, got %', p_ttl_s
      using errcode = '22023';
  end if;
  delete from public.worker_heartbeats where expires_at < now() - interval '1 hour';
  insert into public.worker_heartbeats as w (
    worker_id, agent_name, role, deployment, active_sessions, max_sessions, available,
    draining, available_since, expires_at
  ) values (
    p_worker_id, p_agent_name, p_role, p_deployment, p_active_sessions, p_max_sessions,
    p_available, p_draining, case when p_available then now() end,
    now() + make_interval(secs => p_ttl_s)
  )
  on conflict (worker_id) do update set
    agent_name = excluded.agent_name,
    role = excluded.role,
    deployment = excluded.deployment,
    active_sessions = excluded.active_sessions,
    max_sessions = excluded.max_sessions,
    available = excluded.available,
    draining = excluded.draining,
    available_since = case
      when not excluded.available then null
      else coalesce(w.available_since, now())
    end,
    last_seen = now(),
    expires_at = excluded.expires_at;
end
$$;

-- The worker stopped (drained, or shut down): it no longer counts.
create or replace function public.worker_gone(p_worker_id text)
  returns boolean
  language sql
  set search_path = ''
  as $$
  with gone as (
    delete from public.worker_heartbeats where worker_id = p_worker_id returning 1
  )
  select exists (select from gone)
$$;

-- The workers whose heartbeat has not expired, oldest registration first.
create or replace function public.live_workers()
  returns setof public.worker_heartbeats
  language sql
  stable
  set search_path = ''
  as $$
  select * from public.worker_heartbeats where expires_at > now() order by registered_at
$$;

-- Heartbeats are the service's business: RLS on with no policy, and no privileges for users.
alter table public.worker_heartbeats enable row level security;
revoke all on public.worker_heartbeats from anon, authenticated;
grant all on public.worker_heartbeats to service_role;
revoke execute on function public.worker_heartbeat(
  text, text, text, text, integer, integer, boolean, boolean, double precision
) from public, anon, authenticated;
revoke execute on function public.worker_gone(text) from public, anon, authenticated;
revoke execute on function public.live_workers() from public, anon, authenticated;
grant execute on function public.worker_heartbeat(
  text, text, text, text, integer, integer, boolean, boolean, double precision
) to service_role;
grant execute on function public.worker_gone(text) to service_role;
grant execute on function public.live_workers() to service_role;
