"""What an API key costs a request: `python -m bench.api_keys [--n 500] [--concurrency 8]`.

The backend (`create_app`, in process, over httpx's ASGI transport) on a local PostgreSQL,
`GET /api/me` with a user's JWT (verified once, then answered from the authenticator's cache)
and with one of that user's API keys (no cache: one indexed read per request, see
backend/api_keys.py), sequentially and at the given concurrency. The difference is the price of
a revocation that holds on every replica from the next request.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from uuid import uuid4

import httpx
import jwt

from backend.app import create_app
from bench.timing import measure, row
from shared.db.migrations import apply_migrations
from shared.logging import configure_logging
from shared.secret_box import new_key
from shared.settings import Settings
from tests.support.postgres import create_database, postgres_server

JWT_SECRET = "bench-jwt-secret-with-at-least-32-characters"


def user_token(user: str) -> str:
    now = int(time.time())
    claims = {"sub": user, "aud": "authenticated", "iat": now, "exp": now + 3600}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


async def run(n: int, concurrency: int) -> None:
    with postgres_server() as server:
        dsn = await create_database(server, "voxie_bench")
        await apply_migrations(dsn)
        settings = Settings(
            _env_file=None,
            platform_env="test",
            database_url=dsn,
            supabase_jwt_secret=JWT_SECRET,
            api_key_hash_keys=[new_key()],
            log_level="warning",
        )
        app = create_app(settings, reconcile=False)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                signed_in = {"Authorization": f"Bearer {user_token(str(uuid4()))}"}
                minted = await client.post("/api/keys", json={"name": "bench"}, headers=signed_in)
                minted.raise_for_status()
                with_key = {"Authorization": f"Bearer {minted.json()['key']}"}

                def get(headers: dict[str, str]) -> Callable[[int], Awaitable[object]]:
                    async def op(_: int) -> object:
                        answer = await client.get("/api/me", headers=headers)
                        answer.raise_for_status()
                        return answer

                    return op

                for name, headers in (("user JWT (cached)", signed_in), ("API key", with_key)):
                    await measure(50, 1, get(headers))  # warm the pool
                    for c in (1, concurrency):
                        latencies, wall = await measure(n, c, get(headers))
                        print(row(f"GET /api/me {name} c={c}", latencies, wall))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    configure_logging("warning")
    asyncio.run(run(args.n, args.concurrency))


if __name__ == "__main__":
    main()
