-- The agent version each call ran (issue 17): the published version a plain spawn runs, or the
-- one a test spawn named. NULL means the call ran the working draft, or was recorded before
-- agents had versions. Written once, when the session opens; analytics group by it.
alter table public.call_sessions
  add column agent_version integer check (agent_version >= 1);
