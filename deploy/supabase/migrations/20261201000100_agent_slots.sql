-- Agent slots: the platform-wide cap on running agent rooms (MAX_TOTAL_AGENTS), held under
-- concurrency by every backend replica alike.
--
-- A backend reserves a slot, named by the room it is about to create, before it asks LiveKit
-- for the room; the reservation counts the live slots together with the agent rooms LiveKit
-- lists (rooms made elsewhere count too) and is refused at the cap. A slot covers the room
-- from reservation until LiveKit lists it; it is released when the room ends (webhook
-- `room_finished`), when its creation fails, or by the reconciler once LiveKit does not list
-- the room; failing all of those it expires.

create table public.agent_slots (
  room_name text primary key check (length(room_name) between 1 and 128),
  reserved_at timestamptz not null default now(),
  expires_at timestamptz not null
);

create index agent_slots_expires_idx on public.agent_slots (expires_at);

-- True if a slot for `p_room` is now held: fewer than `p_cap` rooms were running or reserved
-- (the slots and `p_listed`, LiveKit's agent rooms, counted once each). Asking again for the
-- same room renews its slot.
create or replace function public.reserve_agent_slot(
  p_room text, p_cap integer, p_listed text[], p_ttl_s double precision
)
  returns boolean
  language plpgsql
  set search_path = ''
  as $$
declare
  running integer;
begin
  if p_cap < 1 then
    raise exception 'the cap must be at least 1, got %', p_cap using errcode = '22023';
  end if;
  if p_ttl_s <= 0 or p_ttl_s > 86400 then
    raise exception 'slot ttl must be in (0, 86400] seconds, got %', p_ttl_s
      using errcode = '22023';
  end if;
  -- Reservations queue here for the rest of their transaction, so each one counts every slot
  -- reserved before it, from any replica or pooled connection.
  perform pg_advisory_xact_lock(hashtextextended('public.agent_slots', 0));
  delete from public.agent_slots where expires_at <= now();
  select count(*) into running from (
    select s.room_name from public.agent_slots s
    union
    select unnest(coalesce(p_listed, '{}'::text[]))
  ) as taken(room_name)
  where taken.room_name <> p_room;
  if running >= p_cap then
    return false;
  end if;
  insert into public.agent_slots (room_name, expires_at)
    values (p_room, now() + make_interval(secs => p_ttl_s))
    on conflict (room_name) do update set expires_at = excluded.expires_at;
  return true;
end
$$;

create or replace function public.release_agent_slot(p_room text)
  returns boolean
  language sql
  set search_path = ''
  as $$
  with released as (
    delete from public.agent_slots where room_name = p_room returning 1
  )
  select exists (select from released)
$$;

-- The reconciler's sweep: slots older than `p_older_than_s` whose room is not in `p_live`
-- (LiveKit's room list, taken just before) are for rooms that ended or never came to be.
create or replace function public.release_agent_slots_except(
  p_live text[], p_older_than_s double precision
)
  returns integer
  language sql
  set search_path = ''
  as $$
  with released as (
    delete from public.agent_slots
      where room_name <> all (coalesce(p_live, '{}'::text[]))
        and reserved_at < now() - make_interval(secs => p_older_than_s)
      returning 1
  )
  select count(*)::integer from released
$$;

-- Slots are the service's business: RLS on with no policy, and no privileges for users.
alter table public.agent_slots enable row level security;
revoke all on public.agent_slots from anon, authenticated;
grant all on public.agent_slots to service_role;
revoke execute on function public.reserve_agent_slot(text, integer, text[], double precision)
  from public, anon, authenticated;
revoke execute on function public.release_agent_slot(text) from public, anon, authenticated;
revoke execute on function public.release_agent_slots_except(text[], double precision)
  from public, anon, authenticated;
grant execute on function public.reserve_agent_slot(text, integer, text[], double precision)
  to service_role;
grant execute on function public.release_agent_slot(text) to service_role;
grant execute on function public.release_agent_slots_except(text[], double precision)
  to service_role;
