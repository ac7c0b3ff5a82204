"""Backend: the Starlette API for agent CRUD, room creation with one dispatch, tokens and webhooks."""
