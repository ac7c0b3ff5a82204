"""The platform's HTTP API: `create_app(settings)` (see `backend.app`); `python -m backend`."""
