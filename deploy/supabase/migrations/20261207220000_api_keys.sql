-- Per-owner API keys (issue 24): an owner's servers call the API as the owner with
-- `Authorization: Bearer vx_live_…`.
--
-- Only a keyed hash of a key is kept (`key_hash`: hex HMAC-SHA-256 under the backend's
-- API_KEY_HASH_KEYS, see backend.api_keys), so neither this table nor a backup of it lets
-- anyone call the API, or even test a guessed key without the server's secret. `prefix` (the
-- key's first 12 characters) is shown to the owner to tell their keys apart; it is too short to
-- help a guess. A revoked key's row is deleted: the next request with it finds nothing.

create table public.api_keys (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null,
  name text not null check (name ~ '^[A-Za-z0-9]([A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?$'),
  prefix text not null check (prefix ~ '^vx_live_[0-9A-Za-z]{4}$'),
  key_hash text not null unique check (key_hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz not null default now(),
  last_used_at timestamptz
);

create index api_keys_owner_idx on public.api_keys (owner_id, created_at);

-- At most `p_limit` keys per owner, counted under a per-owner lock so two creates from two
-- replicas cannot both take the last place.
create or replace function public.create_api_key(
  p_owner uuid, p_name text, p_prefix text, p_hash text, p_limit integer
)
  returns jsonb
  language plpgsql
  set search_path = ''
  as $$
declare
  created public.api_keys;
begin
  perform pg_advisory_xact_lock(hashtextextended('public.api_keys:' || p_owner::text, 0));
  if (select count(*) from public.api_keys where owner_id = p_owner) >= p_limit then
    raise exception 'an owner has at most % API keys', p_limit using errcode = 'VXK01';
  end if;
  insert into public.api_keys (owner_id, name, prefix, key_hash)
    values (p_owner, p_name, p_prefix, p_hash)
    returning * into created;
  return to_jsonb(created) - 'key_hash';
end
$$;

-- Every request made with a key: which key (and owner) the hash is, in one round trip, and
-- "last used" written at most once a minute per key, so a busy integration does not write a
-- row per request. `p_hashes`: the key under each hash key the backend holds (rotation).
create or replace function public.use_api_key(p_hashes text[])
  returns jsonb
  language sql
  set search_path = ''
  as $$
  with marked as (
    update public.api_keys set last_used_at = now()
      where key_hash = any (p_hashes)
        and (last_used_at is null or last_used_at < now() - interval '1 minute')
      returning id, last_used_at
  )
  select jsonb_build_object(
    'id', k.id, 'owner_id', k.owner_id, 'name', k.name, 'prefix', k.prefix,
    'created_at', k.created_at, 'last_used_at', coalesce(m.last_used_at, k.last_used_at)
  )
  from public.api_keys k
  left join marked m on m.id = k.id
  where k.key_hash = any (p_hashes)
  limit 1
$$;

-- The service's business only: RLS on with no policy and no privileges for users, so a user
-- token reaches neither the hashes nor another owner's keys through PostgREST.
alter table public.api_keys enable row level security;
revoke all on public.api_keys from anon, authenticated;
grant all on public.api_keys to service_role;
revoke execute on function public.create_api_key(uuid, text, text, text, integer)
  from public, anon, authenticated;
revoke execute on function public.use_api_key(text[]) from public, anon, authenticated;
grant execute on function public.create_api_key(uuid, text, text, text, integer) to service_role;
grant execute on function public.use_api_key(text[]) to service_role;
