-- Owner secrets and egress (issue 21): a tool's secret belongs to the agent's owner and is bound
-- to the hosts it may be sent to; internal-address exemptions are per owner.
--
-- `ciphertext` is sealed by the application (shared.secret_box: AES-256-GCM, the owner and name
-- as associated data), so neither this database nor its backups hold a value in clear, and a
-- row moved to another owner or name no longer opens. The binding (`hosts`) is fixed at
-- creation: there is no update path for it, only delete and create.

create table public.owner_secrets (
  owner_id uuid not null,
  name text not null check (name ~ '^[A-Z][A-Z0-9_]{0,127}$'),
  hosts jsonb not null check (
    jsonb_typeof(hosts) = 'array' and jsonb_array_length(hosts) between 1 and 20
  ),
  ciphertext text not null check (ciphertext like 'v1.%' and length(ciphertext) <= 8192),
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  primary key (owner_id, name)
);

-- At most this many secrets per owner, counted under a per-owner lock so two creates from two
-- replicas cannot both take the last place.
create or replace function public.create_owner_secret(
  p_owner uuid, p_name text, p_hosts jsonb, p_ciphertext text, p_limit integer
)
  returns jsonb
  language plpgsql
  set search_path = ''
  as $$
declare
  created public.owner_secrets;
begin
  perform pg_advisory_xact_lock(hashtextextended('public.owner_secrets:' || p_owner::text, 0));
  if (select count(*) from public.owner_secrets where owner_id = p_owner) >= p_limit then
    raise exception 'an owner has at most % secrets', p_limit using errcode = 'VXS01';
  end if;
  insert into public.owner_secrets (owner_id, name, hosts, ciphertext)
    values (p_owner, p_name, p_hosts, p_ciphertext)
    returning * into created;
  return to_jsonb(created);
end
$$;

-- The spawner's read before a tool request: the named secrets, sealed, and "last used" marked
-- at most once a minute per secret (a busy agent does not write on every call).
create or replace function public.use_owner_secrets(p_owner uuid, p_names text[])
  returns jsonb
  language sql
  set search_path = ''
  as $$
  with marked as (
    update public.owner_secrets set last_used_at = now()
      where owner_id = p_owner and name = any (p_names)
        and (last_used_at is null or last_used_at < now() - interval '1 minute')
      returning name, last_used_at
  )
  select coalesce(jsonb_agg(
    to_jsonb(s) || case when m.name is null then '{}'::jsonb
                        else jsonb_build_object('last_used_at', m.last_used_at) end
    order by s.name
  ), '[]'::jsonb)
  from public.owner_secrets s
  left join marked m on m.name = s.name
  where s.owner_id = p_owner and s.name = any (p_names)
$$;

create table public.owner_egress (
  owner_id uuid primary key,
  -- Host names, IP addresses or CIDR networks exempt from the internal-address guard.
  allow jsonb not null default '[]'::jsonb check (
    jsonb_typeof(allow) = 'array' and jsonb_array_length(allow) <= 50
  ),
  updated_at timestamptz not null default now(),
  -- `operator`: only the operator sets an owner's exemptions.
  updated_by text not null check (length(updated_by) between 1 and 256)
);

-- Both are the service's business: RLS on with no policy, and no privileges for users, so a
-- user token reaches neither a ciphertext nor another owner's exemptions through PostgREST.
alter table public.owner_secrets enable row level security;
alter table public.owner_egress enable row level security;
revoke all on public.owner_secrets, public.owner_egress from anon, authenticated;
grant all on public.owner_secrets, public.owner_egress to service_role;
revoke execute on function public.create_owner_secret(uuid, text, jsonb, text, integer)
  from public, anon, authenticated;
revoke execute on function public.use_owner_secrets(uuid, text[])
  from public, anon, authenticated;
grant execute on function public.create_owner_secret(uuid, text, jsonb, text, integer)
  to service_role;
grant execute on function public.use_owner_secrets(uuid, text[]) to service_role;
