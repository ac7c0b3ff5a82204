"""How long the API takes to answer while a dependency hangs: `python -m bench.deadlines`.

A real PostgreSQL behind a TCP proxy and the LiveKit double behind another; each case gets a
fresh app with the default settings (STORE_TIMEOUT_S, LIVEKIT_API_TIMEOUT_S and the request
budget all 5 s, unless given), one request to put a live connection in the store's pool, then
the proxy freezes (connections stay open, nothing goes through: a database or a LiveKit that
hangs) and one request is timed to its answer. `--black-hole` points the store at a server that
accepts and never answers at all instead (no connection ever gets made).

The figures are the ones the commits quote; the tests (tests/backend/test_deadlines.py) hold the
bounds with small budgets, not these times.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

import httpx
from livekit.protocol import models, webhook

from backend.app import create_app
from bench.spawner_support import live_spawner
from shared.contracts import AgentStatus, NewAgent, NewCallSession
from shared.db.migrations import apply_migrations
from shared.logging import configure_logging
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.support.livekit import LiveKitDouble
from tests.support.livekit.webhooks import encode_event, signed_headers
from tests.support.postgres import create_database, postgres_server
from tests.support.tcp_proxy import BlackHole, TcpProxy, target_of, via

ADMIN_TOKEN = "operator-token-for-the-bench-0123456789"
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


def settings_for(dsn: str, livekit_url: str, double: LiveKitDouble, **values: Any) -> Settings:
    return Settings(
        _env_file=None,
        platform_env="test",
        database_url=dsn,
        backend_admin_token=ADMIN_TOKEN,
        livekit_url=livekit_url,
        livekit_api_key=double.api_key,
        livekit_api_secret=double.api_secret,
        log_level="error",
        **values,
    )


async def timed(
    settings: Settings, request: Request, freeze: Callable[[], None], *, warm: bool
) -> tuple[float, int]:
    app = create_app(settings, reconcile=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://backend", timeout=120
        ) as client:
            if warm:  # a live connection in the pool, as on any replica that has been serving
                warmed = await client.get("/api/agents", headers=OPERATOR)
                assert warmed.status_code == 200, warmed.text
            freeze()
            began = time.perf_counter()
            answer = await request(client)
            return time.perf_counter() - began, answer.status_code


async def main(args: argparse.Namespace) -> None:
    configure_logging("error", "console")
    values: dict[str, Any] = {}
    if args.store_timeout is not None:
        values["store_timeout_s"] = args.store_timeout
    with postgres_server() as server, LiveKitDouble() as double:
        dsn = await create_database(server, prefix="voxie_bench")
        await apply_migrations(dsn)
        store = await PostgresStore.connect(dsn)
        agent = await store.create_agent(
            NewAgent(
                owner_id=uuid4(),
                slug="bench",
                name="Bench",
                instructions="Answer.",
                status=AgentStatus.ACTIVE,
            )
        )
        room = f"agent-{agent.id}-benchroom"
        await store.start_session(
            NewCallSession(agent_id=agent.id, room_name=room, kind="test", deployment="test")
        )
        await store.worker_heartbeat(live_spawner("test"), ttl_s=3600)  # spawns reach LiveKit
        await store.close()
        event = webhook.WebhookEvent(event="room_finished", id=f"EV_{uuid4().hex[:12]}")
        event.room.CopyFrom(models.Room(name=room, sid="RM_bench"))
        body = encode_event(event)
        signed = signed_headers(body, double.api_key, double.api_secret)

        cases: dict[str, tuple[str, Request]] = {
            "GET /api/agents": ("store", lambda c: c.get("/api/agents", headers=OPERATOR)),
            "GET /api/agents/{id}": (
                "store",
                lambda c: c.get(f"/api/agents/{agent.id}", headers=OPERATOR),
            ),
            "webhook room_finished": (
                "store",
                lambda c: c.post("/api/livekit/webhook", content=body, headers=signed),
            ),
            "GET /readyz (store)": ("store", lambda c: c.get("/readyz")),
            "GET /api/rooms (store)": ("store", lambda c: c.get("/api/rooms", headers=OPERATOR)),
            "GET /api/rooms (livekit)": (
                "livekit",
                lambda c: c.get("/api/rooms", headers=OPERATOR),
            ),
            "POST spawn (livekit)": (
                "livekit",
                lambda c: c.post(f"/api/agents/{agent.id}/spawn", headers=OPERATOR),
            ),
            "POST room close (store)": (
                "store",
                lambda c: c.post(f"/api/rooms/{room}/close", headers=OPERATOR),
            ),
            "POST room close (livekit)": (
                "livekit",
                lambda c: c.post(f"/api/rooms/{room}/close", headers=OPERATOR),
            ),
        }
        mode = "black hole" if args.black_hole else "frozen proxy"
        print(f"time to answer, {mode}, defaults except {values or 'none'}")
        for name, (frozen, request) in cases.items():
            # Listed, so the rooms list asks the store for its agent's name, and it can be closed.
            await double.create_room(room)
            async with (
                TcpProxy(target_of(dsn)) as db_proxy,
                TcpProxy(("127.0.0.1", int(double.url.rsplit(":", 1)[1]))) as lk_proxy,
                BlackHole() as hole,
            ):
                db = via(dsn, db_proxy)
                black_hole = args.black_hole and frozen == "store"
                if black_hole:
                    db = f"postgresql://postgres@127.0.0.1:{hole.port}/voxie"
                settings = settings_for(db, f"http://127.0.0.1:{lk_proxy.port}", double, **values)
                freeze = lk_proxy.freeze if frozen == "livekit" else db_proxy.freeze
                elapsed, status = await timed(settings, request, freeze, warm=not black_hole)
                print(f"  {name:<28} {status}  {elapsed:6.2f} s  ({frozen} frozen)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--black-hole", action="store_true")
    parser.add_argument("--store-timeout", type=float, default=None)
    asyncio.run(main(parser.parse_args()))
