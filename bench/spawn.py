"""The spawn path end to end over loopback: `python -m bench.spawn [--n 400]`.

`POST /api/agents/{id}/spawn` with a user's bearer token against `python -m backend` (a real
uvicorn process) on a real PostgreSQL — once through PostgresStore, once through SupabaseStore
and the PostgREST-compatible test server — and the LiveKit double, at concurrency 1, 16 and 64:
p50/p99 latency and throughput. In the same run, the same requests against a seed-style handler
(the seed's spawn endpoint: a new LiveKitAPI client per request and the synchronous supabase
client called inside the async handler) served the same way.

The LiveKit double and the REST server run as threads of this process, beside the load client;
each HTTP server under test is a process of its own. Targets: p99 ≤ 20 ms at concurrency 16 and
≥ 5x the seed-style throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import psutil
import uvicorn
from livekit import api
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bench.spawner_support import live_spawner
from bench.timing import measure, row
from shared.contracts import NewAgent
from shared.db.migrations import apply_migrations
from shared.livekit_api import livekit_api
from shared.logging import configure_logging
from shared.rooms import LiveKitRooms
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.support.livekit import LiveKitDouble
from tests.support.postgres import create_database, postgres_server
from tests.support.postgrest import PostgrestDouble, make_jwt
from tests.support.processes import ServiceProcess
from voxiectl.livekit_local import free_port

JWT_SECRET = "bench-jwt-secret-with-at-least-32-characters"
USER = uuid.UUID("5eed0000-0000-4000-8000-0000000000b1")
CONCURRENCY = (1, 16, 64)
AGENTS = 20


# --- the seed-style handler ------------------------------------------------------------------


def seed_app() -> Starlette:
    """The seed's spawn endpoint, as it was written (minus its bare `except` → 500)."""
    from supabase import create_client

    supabase = create_client(os.environ["SUPABASE_URL"], os.environ["SUPABASE_SERVICE_ROLE_KEY"])

    async def spawn_agent(request: Request) -> Response:
        agent_id = request.path_params["agent_id"]
        # The synchronous client, inside the async handler: the event loop waits for it.
        agent = supabase.table("agents").select("*").eq("id", agent_id).single().execute()
        if not agent.data:
            return JSONResponse({"detail": "Agent not found"}, 404)
        room_name = f"agent-{agent_id}-{uuid.uuid4().hex[:8]}"
        # A new client (and connection pool) per request.
        livekit_api = api.LiveKitAPI(
            url=os.environ["LIVEKIT_URL"],
            api_key=os.environ["LIVEKIT_API_KEY"],
            api_secret=os.environ["LIVEKIT_API_SECRET"],
        )
        try:
            await livekit_api.room.create_room(
                api.CreateRoomRequest(name=room_name, metadata=json.dumps({"agent_id": agent_id}))
            )
        finally:
            await livekit_api.aclose()  # the seed leaked it; closing is the kinder comparison
        token = (
            api.AccessToken(os.environ["LIVEKIT_API_KEY"], os.environ["LIVEKIT_API_SECRET"])
            .with_identity("user")
            .with_name("User")
            .with_grants(api.VideoGrants(room_join=True, room=room_name))
            .to_jwt()
        )
        return JSONResponse(
            {
                "status": "success",
                "room_name": room_name,
                "token": token,
                "livekit_url": os.environ["LIVEKIT_URL"],
                "agent": agent.data,
            }
        )

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/healthz", health),
            Route("/api/agents/{agent_id}/spawn", spawn_agent, methods=["POST"]),
        ]
    )


def serve_seed(port: int) -> None:
    uvicorn.run(seed_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_double(kind: str) -> None:
    """A double in a process of its own, so the load client does not share its interpreter."""
    configure_logging("error", "console")  # the double warns of every job no worker takes
    if kind == "livekit":
        double: Any = LiveKitDouble(
            api_key=os.environ["LIVEKIT_API_KEY"], api_secret=os.environ["LIVEKIT_API_SECRET"]
        )
    else:
        double = PostgrestDouble(os.environ["BENCH_DSN"], JWT_SECRET)
    double.start()
    print(f"URL={double.url}", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    double.stop()


# --- harness ------------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: the cheapest load client, so the figures are the
    server's (httpx's pool costs more CPU per request than the handlers under test)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def post(self, path: str, authorization: str) -> int:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\n"
            "Content-Length: 0\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def start(
    command: list[str], env: dict[str, str], directory: Path, label: str, *, health: str | None
) -> tuple[ServiceProcess, str]:
    """A server process, once it answers (`health`) or has printed its URL."""
    port = free_port()
    env = {**env, "BACKEND_PORT": str(port), "SEED_PORT": str(port)}
    process = ServiceProcess(command, directory, label=label, env=env)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if process.returncode is not None:
                raise RuntimeError(process.output())
            if health is None:
                printed = [
                    line for line in process.output().splitlines() if line.startswith("URL=")
                ]
                if printed:
                    return process, printed[0].removeprefix("URL=")
            else:
                try:
                    await client.get(url + health)
                    return process, url
                except httpx.TransportError:
                    pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{label} did not start:\n{process.output()}")


async def clear_rooms(livekit_url: str, key: str, secret: str) -> None:
    # The platform's client and room operations (their deadline included), not the seed's:
    # this only tidies up between rows.
    settings = Settings(
        _env_file=None, livekit_url=livekit_url, livekit_api_key=key, livekit_api_secret=secret
    )
    async with livekit_api(settings) as client:
        rooms = LiveKitRooms(client, timeout_s=settings.livekit_api_timeout_s)
        for room in await rooms.list_rooms():
            await rooms.delete(room.name)


async def measure_row(
    port: int, concurrency: int, paths: list[str], authorization: str, n: int
) -> tuple[list[float], float]:
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(concurrency):
        idle.put_nowait(await Connection.open(port))

    async def spawn(index: int) -> None:
        connection = await idle.get()
        try:
            status = await connection.post(paths[index % len(paths)], authorization)
        finally:
            idle.put_nowait(connection)
        if status not in (200, 201):
            raise RuntimeError(f"HTTP {status}")

    try:
        await measure(2 * concurrency, concurrency, spawn)  # warm connections and pools
        return await measure(max(n, concurrency * 8), concurrency, spawn)
    finally:
        while not idle.empty():
            idle.get_nowait().close()


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def run_rows(
    label: str,
    server: ServiceProcess,
    url: str,
    agent_ids: list[str],
    authorization: str,
    n: int,
    doubles: dict[str, ServiceProcess],
    clear: Callable[[], Awaitable[None]],
) -> dict[int, float]:
    port = int(url.rsplit(":", 1)[1])
    paths = [f"/api/agents/{agent_id}/spawn" for agent_id in agent_ids]
    throughput: dict[int, float] = {}
    for concurrency in CONCURRENCY:
        await clear()
        watched = {"server": server, **doubles}
        before = {name: cpu_seconds(process.pid) for name, process in watched.items()}
        latencies, wall = await measure_row(port, concurrency, paths, authorization, n)
        cpu = ", ".join(
            f"{name} {(cpu_seconds(process.pid) - before[name]) / len(latencies) * 1e3:.2f}"
            for name, process in watched.items()
        )
        print(f"{row(f'{label} c={concurrency}', latencies, wall)}  cpu ms/req: {cpu}", flush=True)
        throughput[concurrency] = len(latencies) / wall
    return throughput


def bearer(issuer: str | None = None) -> str:
    claims: dict[str, Any] = {"sub": str(USER), "aud": "authenticated", "exp": time.time() + 3600}
    if issuer:
        claims["iss"] = issuer
    return "Bearer " + jwt.encode(claims, JWT_SECRET, algorithm="HS256")


async def seed_agents(dsn: str) -> list[str]:
    """The agents spawned, and one spawner's heartbeat for the run: the backend refuses rooms no
    live worker could take (backend.workers), and no worker runs beside the LiveKit double."""
    store = await PostgresStore.connect(dsn)
    try:
        await store.worker_heartbeat(live_spawner("bench"), ttl_s=3600)
        return [
            str(
                (
                    await store.create_agent(
                        NewAgent(
                            owner_id=USER,
                            slug=f"bench-{i}",
                            name=f"Bench {i}",
                            instructions="You are a benchmark agent. " * 40,
                            status="active",
                        )
                    )
                ).id
            )
            for i in range(AGENTS)
        ]
    finally:
        await store.close()


async def main(n: int, log_level: str) -> None:
    configure_logging("error", "console")
    directory = Path(tempfile.mkdtemp(prefix="bench-spawn-"))
    key, secret = "APIbench", secrets.token_urlsafe(32)
    with postgres_server() as server:
        dsn = await create_database(server, prefix="voxie_bench")
        await apply_migrations(dsn)
        agent_ids = await seed_agents(dsn)
        doubles: dict[str, ServiceProcess] = {}
        try:
            serve = ["-m", "bench.spawn", "--serve"]
            lk_env = {"LIVEKIT_API_KEY": key, "LIVEKIT_API_SECRET": secret}
            livekit, livekit_url = await start(
                [*serve, "livekit"], lk_env, directory, "livekit", health=None
            )
            doubles["livekit"] = livekit
            postgrest, rest_url = await start(
                [*serve, "postgrest"], {"BENCH_DSN": dsn}, directory, "postgrest", health=None
            )
            doubles["postgrest"] = postgrest
            rest = {
                "SUPABASE_URL": rest_url,
                "SUPABASE_SERVICE_ROLE_KEY": make_jwt(JWT_SECRET, role="service_role"),
            }
            common = {**lk_env, "LIVEKIT_URL": livekit_url, "LOG_FORMAT": "json"}
            backend = {
                **common,
                "LOG_LEVEL": log_level,
                "SUPABASE_JWT_SECRET": JWT_SECRET,
                "MAX_TOTAL_AGENTS": "100000",
                "SPAWN_RATE_PER_MINUTE": "10000",
                "DB_POOL_MAX_SIZE": "20",
                "GC_INTERVAL_S": "3600",
                "PLATFORM_ENV": "bench",  # the deployment of the spawner's heartbeat
            }
            # label, command, environment, the user token's issuer (Supabase's, with SUPABASE_URL)
            runs: list[tuple[str, list[str], dict[str, str], str | None]] = [
                (
                    "backend, PostgresStore",
                    ["-m", "backend"],
                    {**backend, "DATABASE_URL": dsn},
                    None,
                ),
                (
                    "backend, SupabaseStore",
                    ["-m", "backend"],
                    {**backend, **rest},
                    f"{rest_url}/auth/v1",
                ),
                ("seed-style handler", [*serve, "seed"], {**common, **rest}, None),
            ]
            print(
                f"spawn path over loopback: real PostgreSQL, LiveKit double, n>={n} per row, "
                f"backend LOG_LEVEL={log_level}; each server, double and the client in its own "
                "process",
                flush=True,
            )

            async def clear() -> None:
                await clear_rooms(livekit_url, key, secret)

            results: dict[str, dict[int, float]] = {}
            for label, command, env, issuer in runs:
                process, url = await start(
                    command, env, directory, label.split(",")[0], health="/healthz"
                )
                try:
                    results[label] = await run_rows(
                        label, process, url, agent_ids, bearer(issuer), n, doubles, clear
                    )
                finally:
                    process.stop()
        finally:
            for double in doubles.values():
                double.stop()
        seed = results["seed-style handler"]
        for label in ("backend, PostgresStore", "backend, SupabaseStore"):
            ratios = ", ".join(f"c={c} {results[label][c] / seed[c]:.1f}x" for c in CONCURRENCY)
            print(f"{label} throughput vs seed-style: {ratios}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    parser.add_argument("--serve", choices=["seed", "livekit", "postgrest"], help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve == "seed":
        serve_seed(int(os.environ["SEED_PORT"]))
    elif arguments.serve:
        serve_double(arguments.serve)
    else:
        asyncio.run(main(arguments.n, arguments.log_level))
