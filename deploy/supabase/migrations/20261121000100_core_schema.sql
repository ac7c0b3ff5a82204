-- The platform's system of record: agents, call sessions with their transcripts and token
-- usage, and leases for singleton background work (the backend's reconciler).

-- agents ------------------------------------------------------------------------------------

create table public.agents (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null,
  slug text not null check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 63),
  name text not null check (length(name) between 1 and 80),
  instructions text not null default '' check (length(instructions) <= 20000),
  greeting text not null default '' check (length(greeting) <= 1000),
  voice text not null default 'marin',
  model text not null default 'gpt-realtime',
  language text not null default 'en',
  tools jsonb not null default '[]'::jsonb check (jsonb_typeof(tools) = 'array'),
  status text not null default 'draft' check (status in ('draft', 'active', 'archived')),
  version integer not null default 1 check (version >= 1),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- An archived agent frees its slug for a new one.
create unique index agents_owner_slug_live_key
  on public.agents (owner_id, slug) where status <> 'archived';
-- Slug lookups include archived rows (a live agent is preferred, an archived one still found).
create index agents_owner_slug_idx on public.agents (owner_id, slug);
create index agents_owner_updated_idx on public.agents (owner_id, updated_at desc, id);
create index agents_updated_idx on public.agents (updated_at desc, id);

-- Every write bumps the version and the timestamp here, whichever client wrote it, so the
-- optimistic check (`where version = $expected`) holds for REST and SQL writers alike.
create or replace function public.agents_touch() returns trigger
  language plpgsql
  set search_path = ''
  as $$
begin
  new.version := old.version + 1;
  new.updated_at := now();
  new.id := old.id;
  new.created_at := old.created_at;
  return new;
end
$$;

create trigger agents_touch before update on public.agents
  for each row execute function public.agents_touch();

-- call sessions -----------------------------------------------------------------------------

create table public.call_sessions (
  id uuid primary key default gen_random_uuid(),
  agent_id uuid references public.agents (id) on delete set null,
  owner_id uuid,
  room_name text not null check (length(room_name) between 1 and 256),
  kind text not null check (kind in ('creation', 'test', 'live')),
  deployment text not null,
  participant_identity text,
  job_id text,
  status text not null default 'active' check (status in ('active', 'ended', 'failed')),
  started_at timestamptz not null default now(),
  ended_at timestamptz,
  duration_s double precision
    generated always as (extract(epoch from (ended_at - started_at))) stored,
  end_reason text check (
    end_reason in ('grace_expired', 'user_hangup', 'end_call', 'max_duration', 'error',
                   'shutdown', 'room_closed', 'lost')
  ),
  error text check (length(error) <= 2000),
  check ((status = 'active') = (ended_at is null))
);

create index call_sessions_agent_started_idx on public.call_sessions (agent_id, started_at desc);
create index call_sessions_owner_started_idx on public.call_sessions (owner_id, started_at desc);
create index call_sessions_started_idx on public.call_sessions (started_at desc);
create index call_sessions_room_idx on public.call_sessions (room_name);
-- The reconciler's scan for sessions still open.
create index call_sessions_open_idx on public.call_sessions (started_at) where status = 'active';

create table public.call_transcripts (
  session_id uuid primary key references public.call_sessions (id) on delete cascade,
  items jsonb not null default '[]'::jsonb check (jsonb_typeof(items) = 'array'),
  summary text check (length(summary) <= 4000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table public.token_usage (
  session_id uuid not null references public.call_sessions (id) on delete cascade,
  model text not null,
  input_tokens bigint not null default 0 check (input_tokens >= 0),
  output_tokens bigint not null default 0 check (output_tokens >= 0),
  input_audio_tokens bigint not null default 0 check (input_audio_tokens >= 0),
  output_audio_tokens bigint not null default 0 check (output_audio_tokens >= 0),
  audio_seconds double precision not null default 0 check (audio_seconds >= 0),
  created_at timestamptz not null default now(),
  primary key (session_id, model)
);

create or replace function public.touch_updated_at() returns trigger
  language plpgsql
  set search_path = ''
  as $$
begin
  new.updated_at := now();
  return new;
end
$$;

create trigger call_transcripts_touch before update on public.call_transcripts
  for each row execute function public.touch_updated_at();

-- leases ------------------------------------------------------------------------------------

create table public.leases (
  name text primary key,
  holder text not null,
  expires_at timestamptz not null,
  acquired_at timestamptz not null default now()
);

-- Atomic take-or-renew: the lease goes to `p_holder` if it is free, expired, or already theirs.
create or replace function public.acquire_lease(p_name text, p_holder text, p_ttl_s double precision)
  returns boolean
  language plpgsql
  set search_path = ''
  as $$
declare
  taken boolean;
begin
  if p_ttl_s <= 0 or p_ttl_s > 86400 then
    raise exception 'lease ttl must be in (0, 86400] seconds, got %', p_ttl_s
      using errcode = '22023';
  end if;
  insert into public.leases as l (name, holder, expires_at)
    values (p_name, p_holder, now() + make_interval(secs => p_ttl_s))
    on conflict (name) do update
      set holder = excluded.holder,
          expires_at = excluded.expires_at,
          acquired_at = case when l.holder = excluded.holder then l.acquired_at else now() end
      where l.holder = excluded.holder or l.expires_at <= now()
    returning true into taken;
  return coalesce(taken, false);
end
$$;

-- Extends the lease only while `p_holder` still holds it.
create or replace function public.renew_lease(p_name text, p_holder text, p_ttl_s double precision)
  returns boolean
  language plpgsql
  set search_path = ''
  as $$
declare
  renewed boolean;
begin
  if p_ttl_s <= 0 or p_ttl_s > 86400 then
    raise exception 'lease ttl must be in (0, 86400] seconds, got %', p_ttl_s
      using errcode = '22023';
  end if;
  update public.leases
    set expires_at = now() + make_interval(secs => p_ttl_s)
    where name = p_name and holder = p_holder and expires_at > now()
    returning true into renewed;
  return coalesce(renewed, false);
end
$$;

create or replace function public.release_lease(p_name text, p_holder text)
  returns boolean
  language sql
  set search_path = ''
  as $$
  with released as (
    delete from public.leases where name = p_name and holder = p_holder returning 1
  )
  select exists (select from released)
$$;

-- Leases are the service's business, not the users'.
revoke execute on function public.acquire_lease(text, text, double precision) from public, anon, authenticated;
revoke execute on function public.renew_lease(text, text, double precision) from public, anon, authenticated;
revoke execute on function public.release_lease(text, text) from public, anon, authenticated;

-- row level security --------------------------------------------------------------------------
-- Users (role `authenticated`, `auth.uid()` = their id) see and change their own agents and
-- read their own sessions; sessions, transcripts, usage and leases are written by the service
-- role only, which bypasses RLS.

alter table public.agents enable row level security;
alter table public.call_sessions enable row level security;
alter table public.call_transcripts enable row level security;
alter table public.token_usage enable row level security;
alter table public.leases enable row level security;

create policy agents_owner_select on public.agents
  for select to authenticated using (owner_id = (select auth.uid()));
create policy agents_owner_insert on public.agents
  for insert to authenticated with check (owner_id = (select auth.uid()));
create policy agents_owner_update on public.agents
  for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
create policy agents_owner_delete on public.agents
  for delete to authenticated using (owner_id = (select auth.uid()));

create policy call_sessions_owner_select on public.call_sessions
  for select to authenticated using (owner_id = (select auth.uid()));

create policy call_transcripts_owner_select on public.call_transcripts
  for select to authenticated using (
    exists (
      select from public.call_sessions s
      where s.id = session_id and s.owner_id = (select auth.uid())
    )
  );

create policy token_usage_owner_select on public.token_usage
  for select to authenticated using (
    exists (
      select from public.call_sessions s
      where s.id = session_id and s.owner_id = (select auth.uid())
    )
  );

-- Explicit privileges: Supabase's default privileges grant every API role full access to new
-- tables, so the session records are made read-only for users here, not only by RLS.
grant select, insert, update, delete on public.agents to authenticated, service_role;
revoke insert, update, delete, truncate on public.call_sessions, public.call_transcripts,
  public.token_usage from authenticated;
grant select on public.call_sessions, public.call_transcripts, public.token_usage to authenticated;
grant all on public.call_sessions, public.call_transcripts, public.token_usage, public.leases
  to service_role;
revoke all on public.leases from anon, authenticated;
revoke all on public.agents, public.call_sessions, public.call_transcripts, public.token_usage
  from anon;
grant execute on function public.acquire_lease(text, text, double precision) to service_role;
grant execute on function public.renew_lease(text, text, double precision) to service_role;
grant execute on function public.release_lease(text, text) to service_role;
