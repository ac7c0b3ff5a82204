-- When a call began to end (issue 22, item 6): the caller hung up with the dashboard's End call
-- button (the backend sets it as it closes the room), or the worker's call ended and its last
-- writes (the summary) are still running. The row stays `active` until the worker records the
-- end; readers show it as "ending" meanwhile, so the Calls page reflects a hang-up at once
-- rather than after the summary. Null for a call that has not begun to end.
alter table public.call_sessions add column ending_at timestamptz;
