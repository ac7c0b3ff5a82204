-- Agent versions (issue 17): the `agents` row is the working draft (what Voxie and PATCH edit);
-- `agent_versions` holds immutable snapshots of its runnable config, numbered 1, 2, … per agent;
-- `agents.published_version` says which one a plain call runs. Publishing snapshots the draft
-- as the next number; a rollback points `published_version` at another existing version (one
-- row changed, logged in `agent_rollbacks`). "Has unpublished changes" is derived here, on every
-- write of the row, so every reader (either store, the API, RLS users) sees the same answer.

-- The runnable config: everything the spawner reads to run a call (the identity — id, owner,
-- slug — and the lifecycle status stay on the agent). The one definition of a snapshot:
-- publishing stores it, the unpublished-changes check compares against it, and
-- `shared.contracts.versions.RunnableConfig` reads it.
create or replace function public.agent_runnable(a public.agents) returns jsonb
  language sql
  immutable
  set search_path = ''
  as $$
  select jsonb_build_object(
    'name', a.name,
    'instructions', a.instructions,
    'greeting', a.greeting,
    'voice', a.voice,
    'model', a.model,
    'language', a.language,
    'tools', a.tools,
    'pipeline', a.pipeline,
    'summarize', a.summarize
  )
$$;

create table public.agent_versions (
  -- Deferred: an agent created active gets its version 1 in the same statement, the version
  -- row first (see agents_versioning).
  agent_id uuid not null references public.agents (id) on delete cascade
    deferrable initially deferred,
  version integer not null check (version >= 1),
  config jsonb not null check (jsonb_typeof(config) = 'object'),
  -- The draft's row version (`agents.version`) the snapshot was taken from.
  draft_version integer not null check (draft_version >= 1),
  -- `user:<uuid>`, `operator`, or `platform` (the back-fill below, an agent's first activation).
  published_by text not null check (length(published_by) between 1 and 256),
  published_at timestamptz not null default now(),
  note text not null default '' check (length(note) <= 500),
  -- The primary key is also what keeps two publishers from taking one number.
  primary key (agent_id, version)
);

-- Newest first per agent is the primary key read backwards; no other index is needed.

create table public.agent_rollbacks (
  id bigint generated always as identity primary key,
  agent_id uuid not null references public.agents (id) on delete cascade,
  from_version integer,
  to_version integer not null,
  rolled_back_by text not null check (length(rolled_back_by) between 1 and 256),
  rolled_back_at timestamptz not null default now()
);

create index agent_rollbacks_agent_idx on public.agent_rollbacks (agent_id, rolled_back_at desc);

alter table public.agents
  add column published_version integer,
  -- Derived (agents_versioning below): true until the draft equals the published snapshot.
  add column has_unpublished_changes boolean not null default true,
  add constraint agents_published_version_fkey foreign key (id, published_version)
    references public.agent_versions (agent_id, version);

-- A published version never changes. Deleting one is refused too, except as part of deleting
-- its agent (the operator's delete for good cascades here once the agent row is gone).
create or replace function public.agent_versions_immutable() returns trigger
  language plpgsql
  set search_path = ''
  as $$
begin
  if tg_op = 'DELETE' and not exists (select from public.agents where id = old.agent_id) then
    return old;
  end if;
  raise exception 'agent % version % is published and cannot be changed', old.agent_id,
    old.version using errcode = '55000';
end
$$;

create trigger agent_versions_immutable before update or delete on public.agent_versions
  for each row execute function public.agent_versions_immutable();

-- A publish or a rollback changes only `published_version`: the draft, its optimistic version
-- and its timestamp stay as they were (an editor holding version N can still save).
create or replace function public.agents_touch() returns trigger
  language plpgsql
  set search_path = ''
  as $$
begin
  if new.published_version is distinct from old.published_version
     and (to_jsonb(new) - 'published_version' - 'has_unpublished_changes')
       = (to_jsonb(old) - 'published_version' - 'has_unpublished_changes') then
    return new;
  end if;
  new.version := old.version + 1;
  new.updated_at := now();
  new.id := old.id;
  new.created_at := old.created_at;
  return new;
end
$$;

-- The snapshot of `a` as its next version; the number. Callers hold `a`'s row lock (select …
-- for update, or the row's own trigger), so publishers queue per agent; the primary key
-- refuses a duplicate number should anything get past that.
create or replace function public.agent_snapshot(a public.agents, p_by text, p_note text)
  returns integer
  language sql
  set search_path = ''
  as $$
  insert into public.agent_versions (agent_id, version, config, draft_version, published_by, note)
    values (
      a.id,
      coalesce((select max(v.version) from public.agent_versions v where v.agent_id = a.id), 0)
        + 1,
      public.agent_runnable(a),
      a.version,
      p_by,
      coalesce(p_note, '')
    )
    returning version
$$;

-- Runs after agents_touch (triggers fire in name order): the draft is final here. An agent that
-- becomes active with nothing published publishes its first version (activating is the first
-- publish, so a plain call always has a version to run), then the derived flag is set. Security
-- definer: users (RLS, through REST) activate their agents but may not write versions directly.
create or replace function public.agents_versioning() returns trigger
  language plpgsql
  security definer
  set search_path = ''
  as $$
begin
  if new.status = 'active' and new.published_version is null then
    new.published_version :=
      public.agent_snapshot(new, 'platform', 'published when the agent was activated');
  end if;
  new.has_unpublished_changes := new.published_version is null
    or public.agent_runnable(new) is distinct from (
      select v.config from public.agent_versions v
      where v.agent_id = new.id and v.version = new.published_version
    );
  return new;
end
$$;

create trigger agents_versioning before insert or update on public.agents
  for each row execute function public.agents_versioning();

-- Error codes the stores translate (shared/store/versions.py): VXA01 no such agent (or not the
-- owner's), VXA02 archived, VXP01 nothing changed since the published version, VXP02 the draft
-- changed since the caller validated it (detail: its current version), VXV01 no such version.

-- The agent (the owner's, unless `p_owner` is null) locked for a publish or a rollback: they
-- queue per agent across every backend replica. Refused when missing or archived.
create or replace function public.agent_for_versioning(p_agent uuid, p_owner uuid)
  returns public.agents
  language plpgsql
  set search_path = ''
  as $$
declare
  a public.agents;
begin
  select * into a from public.agents
    where id = p_agent and (p_owner is null or owner_id = p_owner) for update;
  if not found then
    raise exception 'no agent %', p_agent using errcode = 'VXA01';
  end if;
  if a.status = 'archived' then
    raise exception 'agent % is archived', p_agent using errcode = 'VXA02';
  end if;
  return a;
end
$$;

-- Publishes the draft of `p_agent` as its next version, if it is still at `p_draft_version`
-- (the version the caller validated; null: whatever it is) and differs from the published one.
create or replace function public.publish_agent_version(
  p_agent uuid, p_owner uuid, p_draft_version integer, p_published_by text, p_note text
)
  returns jsonb
  language plpgsql
  set search_path = ''
  as $$
declare
  a public.agents := public.agent_for_versioning(p_agent, p_owner);
begin
  if p_draft_version is not null and a.version <> p_draft_version then
    raise exception 'agent % is at version %, not %: it was changed meanwhile', p_agent,
      a.version, p_draft_version using errcode = 'VXP02', detail = a.version::text;
  end if;
  if a.published_version is not null and not a.has_unpublished_changes then
    raise exception 'nothing changed since version % was published', a.published_version
      using errcode = 'VXP01';
  end if;
  update public.agents
    set published_version = public.agent_snapshot(a, p_published_by, p_note)
    where id = p_agent;
  return (
    select to_jsonb(v) from public.agent_versions v
    where v.agent_id = p_agent and v.version = (
      select published_version from public.agents where id = p_agent
    )
  );
end
$$;

-- Points `p_agent` at its existing version `p_version` and logs who did it; the agent row after.
-- Pointing at the version already published changes and logs nothing.
create or replace function public.rollback_agent_version(
  p_agent uuid, p_owner uuid, p_version integer, p_by text
)
  returns jsonb
  language plpgsql
  set search_path = ''
  as $$
declare
  a public.agents := public.agent_for_versioning(p_agent, p_owner);
begin
  if not exists (
    select from public.agent_versions where agent_id = p_agent and version = p_version
  ) then
    raise exception 'agent % has no version %', p_agent, p_version using errcode = 'VXV01';
  end if;
  if a.published_version is distinct from p_version then
    insert into public.agent_rollbacks (agent_id, from_version, to_version, rolled_back_by)
      values (p_agent, a.published_version, p_version, p_by);
    update public.agents set published_version = p_version where id = p_agent returning * into a;
  end if;
  return to_jsonb(a);
end
$$;

-- A test call of the working draft records which draft it ran: the draft's row version
-- (`agents.version`); its `agent_version` stays NULL (it ran no published version).
alter table public.call_sessions
  add column draft_version integer check (draft_version >= 1),
  add constraint call_sessions_one_version_check
    check (agent_version is null or draft_version is null);

-- Back-fill: every active agent's current config is its version 1, and published.
insert into public.agent_versions (agent_id, version, config, draft_version, published_by, note)
  select a.id, 1, public.agent_runnable(a), a.version, 'platform', 'the config when versions began'
  from public.agents a
  where a.status = 'active';
update public.agents set published_version = 1 where status = 'active';

-- row level security --------------------------------------------------------------------------
-- Owners read their agents' versions and rollbacks; only the service role writes them, through
-- the functions above.

alter table public.agent_versions enable row level security;
alter table public.agent_rollbacks enable row level security;

create policy agent_versions_owner_select on public.agent_versions
  for select to authenticated using (
    exists (
      select from public.agents a where a.id = agent_id and a.owner_id = (select auth.uid())
    )
  );
create policy agent_rollbacks_owner_select on public.agent_rollbacks
  for select to authenticated using (
    exists (
      select from public.agents a where a.id = agent_id and a.owner_id = (select auth.uid())
    )
  );

revoke all on public.agent_versions, public.agent_rollbacks from anon, authenticated;
grant select on public.agent_versions, public.agent_rollbacks to authenticated;
grant select, insert, delete on public.agent_versions to service_role;
grant select, insert, delete on public.agent_rollbacks to service_role;
revoke update, truncate on public.agent_versions from service_role;

-- Users may edit their drafts, not move `published_version` behind the log's back: their
-- update privilege covers the draft's columns only.
revoke update on public.agents from authenticated;
grant update (slug, name, instructions, greeting, voice, model, language, tools, pipeline,
  summarize, status) on public.agents to authenticated;

revoke execute on function public.publish_agent_version(uuid, uuid, integer, text, text)
  from public, anon, authenticated;
revoke execute on function public.rollback_agent_version(uuid, uuid, integer, text)
  from public, anon, authenticated;
revoke execute on function public.agent_snapshot(public.agents, text, text)
  from public, anon, authenticated;
revoke execute on function public.agent_for_versioning(uuid, uuid)
  from public, anon, authenticated;
grant execute on function public.publish_agent_version(uuid, uuid, integer, text, text)
  to service_role;
grant execute on function public.rollback_agent_version(uuid, uuid, integer, text)
  to service_role;
