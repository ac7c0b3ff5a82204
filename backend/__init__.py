"""Backend: the Starlette API: agent CRUD, rooms with exactly one dispatch, tokens, webhooks."""
