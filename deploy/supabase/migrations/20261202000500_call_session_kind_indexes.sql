-- The call history filtered by kind (`GET /api/sessions?kind=`, issue 15): one owner's or one
-- agent's sessions of one kind, newest first, and their exact count for the page's total.
--
-- The (owner_id, started_at) and (agent_id, started_at) indexes order the page, but the kind is
-- on the table row only: the count visits every one of the owner's or agent's rows to read it,
-- and a page of a rare kind walks past the common one. With 1 million sessions, an owner with
-- 54 000 of them (5 % test calls), `python -m bench.sessions` measured a page with its count at
-- about 130 ms p50 (owner, kind=test) and 145 ms (agent, kind=test); with these indexes 1.2 ms
-- each: the page is one range read in order, the count an index-only scan of the kind's rows.
-- The indexes without the kind stay: they order the unfiltered history and the analytics.

create index call_sessions_owner_kind_started_idx
  on public.call_sessions (owner_id, kind, started_at desc);
create index call_sessions_agent_kind_started_idx
  on public.call_sessions (agent_id, kind, started_at desc);
