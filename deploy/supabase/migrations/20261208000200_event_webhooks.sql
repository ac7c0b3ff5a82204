-- Signed event webhooks (issue 24): an owner's endpoints, the outbox of events, and one delivery
-- row per (endpoint, event).
--
-- The outbox rule: `call.started` and `call.ended` are written by triggers on `call_sessions`,
-- so they commit in the same transaction as the session row's change that causes them, whichever
-- store made it (the Postgres store's statements and the Supabase store's PostgREST requests
-- alike) — there is no moment where the call changed and its event is not yet recorded. An event
-- is written only when the owner has an enabled endpoint subscribed to its type, and fanned out
-- then to one pending delivery per such endpoint; the backend's sender (backend.webhook_sender,
-- one replica at a time under the `backend-webhooks` lease) sends what is due.
--
-- `secret_sealed`: the signing secret sealed with SECRETS_KEYS (shared.secret_box, bound to the
-- owner and the endpoint). It cannot be a hash: signing needs the secret itself at every send.

create table public.webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null,
  url text not null check (url ~ '^https?://' and length(url) <= 2100),
  events text[] not null check (cardinality(events) between 1 and 16),
  enabled boolean not null default true,
  secret_sealed text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Set when the endpoint kept failing and the sender disabled it; cleared by re-enabling it.
  disabled_reason text,
  -- The first failed attempt since the last success: 24 h of failure disables the endpoint.
  failing_since timestamptz
);

create index webhook_endpoints_owner_idx on public.webhook_endpoints (owner_id, created_at);

create table public.webhook_events (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null,
  type text not null,
  created_at timestamptz not null default now(),
  data jsonb not null
);

create table public.webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
  event_id uuid not null references public.webhook_events (id) on delete cascade,
  -- The event's type, kept here so the delivery log reads one table.
  event_type text not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts integer not null default 0,
  next_retry_at timestamptz default now(),
  last_status_code integer,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (endpoint_id, event_id)
);

create index webhook_deliveries_due_idx on public.webhook_deliveries (next_retry_at)
  where status = 'pending';
create index webhook_deliveries_endpoint_idx
  on public.webhook_deliveries (endpoint_id, created_at desc);

-- One event for `p_owner`, fanned out to their enabled endpoints subscribed to `p_type`; none
-- when no endpoint wants it.
create or replace function public.emit_webhook_event(p_owner uuid, p_type text, p_data jsonb)
  returns uuid
  language plpgsql
  set search_path = ''
  as $$
declare
  event_id uuid;
begin
  if p_owner is null or not exists (
    select 1 from public.webhook_endpoints
      where owner_id = p_owner and enabled and p_type = any (events)
  ) then
    return null;
  end if;
  insert into public.webhook_events (owner_id, type, data)
    values (p_owner, p_type, p_data) returning id into event_id;
  insert into public.webhook_deliveries (endpoint_id, event_id, event_type)
    select id, event_id, p_type from public.webhook_endpoints
      where owner_id = p_owner and enabled and p_type = any (events);
  return event_id;
end
$$;

create or replace function public.call_session_webhook_events()
  returns trigger
  language plpgsql
  set search_path = ''
  as $$
begin
  -- An owner's calls are their agents' (test and live), not their conversations with Voxie.
  if new.kind = 'creation' then
    return null;
  end if;
  if tg_op = 'INSERT' then
    perform public.emit_webhook_event(new.owner_id, 'call.started', to_jsonb(new));
  elsif old.status = 'active' and new.status <> 'active' then
    perform public.emit_webhook_event(new.owner_id, 'call.ended', to_jsonb(new));
  end if;
  return null;
end
$$;

create trigger call_sessions_webhook_events
  after insert or update of status on public.call_sessions
  for each row execute function public.call_session_webhook_events();

-- The sender's batch: due deliveries to enabled endpoints, oldest first, each with what sending
-- it needs. Locked rows are skipped, so even two senders (a lease handover) do not take one row.
-- A taken row's next try moves `p_hold_s` ahead: a sender that dies mid-send retries it then.
create or replace function public.take_webhook_deliveries(p_limit integer, p_hold_s double precision)
  returns jsonb
  language sql
  set search_path = ''
  as $$
  with due as (
    select d.id from public.webhook_deliveries d
      join public.webhook_endpoints e on e.id = d.endpoint_id
      where d.status = 'pending' and d.next_retry_at <= now() and e.enabled
      order by d.next_retry_at, d.id
      limit p_limit
      for update of d skip locked
  ), held as (
    update public.webhook_deliveries d
      set next_retry_at = now() + make_interval(secs => p_hold_s), updated_at = now()
      from due where d.id = due.id
      returning d.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
    'delivery_id', h.id, 'attempts', h.attempts, 'endpoint_id', e.id, 'owner_id', e.owner_id,
    'url', e.url, 'secret_sealed', e.secret_sealed, 'event_id', v.id, 'type', v.type,
    'created_at', v.created_at, 'data', v.data
  ) order by v.created_at), '[]'::jsonb)
  from held h
  join public.webhook_endpoints e on e.id = h.endpoint_id
  join public.webhook_events v on v.id = h.event_id
$$;

-- One attempt's outcome. `p_outcome`: delivered | retry (next try at `p_next_retry_at`) | failed
-- (never retried: another 4xx, or out of time). An endpoint whose attempts have all failed for
-- `p_give_up_s` is disabled with `p_reason`, and its pending deliveries fail with it.
create or replace function public.record_webhook_attempt(
  p_delivery uuid, p_outcome text, p_status_code integer, p_error text,
  p_next_retry_at timestamptz, p_give_up_s double precision, p_reason text
)
  returns jsonb
  language plpgsql
  set search_path = ''
  as $$
declare
  delivery public.webhook_deliveries;
  endpoint public.webhook_endpoints;
begin
  update public.webhook_deliveries set
      attempts = attempts + 1,
      status = case p_outcome when 'delivered' then 'delivered'
                              when 'failed' then 'failed' else 'pending' end,
      next_retry_at = case when p_outcome = 'retry' then p_next_retry_at end,
      last_status_code = p_status_code,
      last_error = left(p_error, 1000),
      updated_at = now()
    where id = p_delivery
    returning * into delivery;
  if not found then
    return null;
  end if;
  if p_outcome = 'delivered' then
    update public.webhook_endpoints set failing_since = null
      where id = delivery.endpoint_id returning * into endpoint;
  else
    update public.webhook_endpoints set failing_since = coalesce(failing_since, now())
      where id = delivery.endpoint_id returning * into endpoint;
    if endpoint.failing_since <= now() - make_interval(secs => p_give_up_s) then
      update public.webhook_endpoints
        set enabled = false, disabled_reason = p_reason, updated_at = now()
        where id = endpoint.id;
      update public.webhook_deliveries
        set status = 'failed', next_retry_at = null, updated_at = now(),
            last_error = coalesce(last_error, p_reason)
        where endpoint_id = endpoint.id and status = 'pending';
      delivery.status := 'failed';
    end if;
  end if;
  return to_jsonb(delivery);
end
$$;

-- The service's business only, like api_keys: RLS on with no policy, no privileges for users.
alter table public.webhook_endpoints enable row level security;
alter table public.webhook_events enable row level security;
alter table public.webhook_deliveries enable row level security;
revoke all on public.webhook_endpoints, public.webhook_events, public.webhook_deliveries
  from anon, authenticated;
grant all on public.webhook_endpoints, public.webhook_events, public.webhook_deliveries
  to service_role;
revoke execute on function public.emit_webhook_event(uuid, text, jsonb)
  from public, anon, authenticated;
revoke execute on function public.take_webhook_deliveries(integer, double precision)
  from public, anon, authenticated;
revoke execute on function public.record_webhook_attempt(
  uuid, text, integer, text, timestamptz, double precision, text
) from public, anon, authenticated;
grant execute on function public.take_webhook_deliveries(integer, double precision)
  to service_role;
grant execute on function public.record_webhook_attempt(
  uuid, text, integer, text, timestamptz, double precision, text
) to service_role;
