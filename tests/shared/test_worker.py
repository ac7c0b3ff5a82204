"""The worker plumbing both workers share: the AgentServer from Settings, and the spool replayer
that writes what a store outage left behind once the store is back.

The AgentServer is checked by what it does, never by its private fields (they change with every
livekit-agents release): in this process against a real livekit-server, and, for the status it
reports at its load threshold, which the real server never shows, against the double."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import asyncpg
import httpx
import psutil
import pytest
from livekit import api
from livekit.agents import AgentServer, JobContext, JobProcess, JobRequest
from livekit.protocol.agent import WorkerStatus

from shared.contracts import CallSession, EndReason, NewCallSession, SessionKind
from shared.naming import WorkerRole
from shared.recording import CallEnd, SessionRecorder
from shared.runtime import Runtime
from shared.settings import Settings
from shared.store import AgentStore, StoreUnavailable, open_store
from shared.store.postgres import PostgresStore
from shared.worker import (
    ReplicaCpu,
    agent_server,
    available_cpus,
    session_load,
    start_heartbeat,
    start_spool_replayer,
)
from tests.conftest import make_settings
from tests.support.livekit import LiveKitDouble
from tests.support.livekit_server import api_client, livekit_server
from tests.support.postgres import empty_platform_tables
from tests.support.processes import python
from tests.support.tcp_proxy import TcpProxy, via
from voxiectl.livekit_local import LiveKitServer, free_port


class RefusalsCounted:
    """The runtime's real store, counting the session starts it refused for an outage."""

    def __init__(self, store: AgentStore) -> None:
        self._store = store
        self.starts_refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def start_session(self, new: NewCallSession) -> CallSession:
        try:
            return await self._store.start_session(new)
        except StoreUnavailable:
            self.starts_refused += 1
            raise


# AgentServer.run() exports these for its job processes; they must not outlive the test (the
# settings every other test builds read the environment).
EXPORTED = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "SSL_CERT_FILE")


@contextlib.asynccontextmanager
async def running(server: AgentServer) -> AsyncIterator[str]:
    """`server` running in this process, registered with its LiveKit server: its worker id."""
    saved = {name: os.environ.get(name) for name in EXPORTED}
    loop = asyncio.get_running_loop()
    registered: asyncio.Future[str] = loop.create_future()

    @server.on("worker_registered")
    def _registered(worker_id: str, _info: object) -> None:
        if not registered.done():
            registered.set_result(worker_id)

    run = asyncio.ensure_future(server.run())
    either: set[asyncio.Future[Any]] = {registered, run}
    try:
        await asyncio.wait(either, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if run.done():
            run.result()  # it stopped: its error says why
        assert registered.done(), "the worker did not register within 30 s"
        yield registered.result()
    finally:
        await server.aclose()
        await asyncio.gather(run, return_exceptions=True)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def real_livekit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitServer]:
    with livekit_server(tmp_path_factory.mktemp("livekit")) as server:
        yield server


async def worker_page(http: httpx.AsyncClient, port: int) -> dict[str, Any]:
    page: dict[str, Any] = (await http.get(f"http://127.0.0.1:{port}/worker")).json()
    return page


@pytest.mark.timeout(120)
async def test_the_server_built_from_the_settings_serves_a_job_and_drains_as_they_say(
    real_livekit: LiveKitServer,
) -> None:
    """A real job on the real server, watched through what the worker shows outside: its
    registration, its health and Prometheus ports, the processes it prewarms, the agent in the
    room, and how long a drain waits for a call that does not end."""
    credentials = real_livekit.config.credentials
    settings = make_settings(
        platform_env="test",
        worker_executor="thread",
        worker_idle_processes=3,  # not the SDK's default (one per CPU)
        worker_drain_timeout_s=1,
        worker_http_port=free_port(),
        worker_prometheus_port=free_port(),
        livekit_url=real_livekit.url,
        livekit_api_key=credentials.api_key,
        livekit_api_secret=credentials.api_secret,
    )
    name = settings.worker_agent_name(WorkerRole.SPAWNER)
    prewarmed: list[tuple[int, str]] = []  # (pid, thread) of each setup_fnc call
    ran: list[tuple[str, int, str]] = []  # (room, pid, thread) of each job's entry point

    server = agent_server(
        settings,
        load_fnc=lambda _: 0.25,
        setup_fnc=lambda _p, _s: prewarmed.append((os.getpid(), threading.current_thread().name)),
    )

    async def on_request(request: JobRequest) -> None:
        await request.accept(identity="agent-under-test", name="Agent")

    @server.rtc_session(agent_name=name, on_request=on_request)
    async def entrypoint(ctx: JobContext) -> None:
        ran.append((ctx.job.room.name, os.getpid(), threading.current_thread().name))
        await ctx.connect()  # the call then lasts until the worker ends it

    async with (
        running(server) as worker_id,
        httpx.AsyncClient(timeout=5) as http,
        api_client(real_livekit) as lkapi,
    ):
        assert worker_id == server.id
        # WORKER_IDLE_PROCESSES were warmed before it registered, as threads of this process.
        assert len(prewarmed) == 3
        assert {pid for pid, _ in prewarmed} == {os.getpid()}
        assert threading.main_thread().name not in {thread for _, thread in prewarmed}

        # WORKER_HTTP_PORT: the health check, and the agent name and load it registered with.
        assert (await http.get(f"http://127.0.0.1:{settings.worker_http_port}/")).text == "OK"
        for _ in range(100):  # the load is sampled every 0.5 s
            page = await worker_page(http, settings.worker_http_port)
            if page.get("worker_load") == 0.25:
                break
            await asyncio.sleep(0.1)
        assert (page["agent_name"], page.get("worker_load")) == (name, 0.25), page
        # WORKER_PROMETHEUS_PORT: the same load as a metric.
        metrics = await http.get(f"http://127.0.0.1:{settings.worker_prometheus_port}/metrics")
        assert re.search(r"^lk_agents_worker_load\{[^}]*\} 0\.25$", metrics.text, re.M)

        # A job dispatched to that name is offered here, accepted, and runs on a thread of this
        # process (WORKER_EXECUTOR=thread); its agent joins the room.
        room = f"agent-{uuid4()}-{uuid4().hex[:12]}"
        await lkapi.room.create_room(
            api.CreateRoomRequest(name=room, agents=[api.RoomAgentDispatch(agent_name=name)])
        )
        for _ in range(300):
            listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
            if any(p.identity == "agent-under-test" for p in listed.participants):
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail(f"no agent joined {room}: offers reached {ran}")
        [(ran_room, pid, thread)] = ran
        assert (ran_room, pid) == (room, os.getpid()) and thread != threading.main_thread().name

        # WORKER_DRAIN_TIMEOUT_S: a drain waits that long for the call, then gives up.
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(30):
                await server.drain()
        assert server.draining
        assert loop.time() - began < 10, "the drain waited for its 30 s guard, not 1 s"


async def test_the_server_reports_itself_full_at_the_load_threshold(
    livekit: LiveKitDouble,
) -> None:
    """WORKER_LOAD_THRESHOLD as the server hears it: the status the worker sends (LiveKit
    offers jobs only to workers that say they are available). The real server keeps that to
    itself, so this is read from the double, which decodes the same messages."""
    settings = make_settings(
        worker_executor="thread",
        worker_idle_processes=0,
        worker_load_threshold=0.6,
        worker_http_port=0,
        livekit_url=livekit.ws_url,
        livekit_api_key=livekit.api_key,
        livekit_api_secret=livekit.api_secret,
    )
    name = settings.worker_agent_name(WorkerRole.SPAWNER)
    load = [0.59]
    server = agent_server(settings, load_fnc=lambda _: load[-1], setup_fnc=lambda _p, _s: None)

    @server.rtc_session(agent_name=name)
    async def entrypoint(ctx: JobContext) -> None:
        await ctx.connect()

    async def reported(status: WorkerStatus, at: float) -> bool:
        [view] = await livekit.workers(name)
        return view.status == status and view.load == pytest.approx(at)

    async with running(server):
        # The SDK reports every 2.5 s.
        await livekit.wait_for(
            lambda: reported(WorkerStatus.WS_AVAILABLE, 0.59), within=20, what="available below it"
        )
        load.append(0.6)
        await livekit.wait_for(
            lambda: reported(WorkerStatus.WS_FULL, 0.6), within=20, what="full at it"
        )


@pytest.mark.timeout(120)
async def test_a_registered_worker_s_heartbeat_says_it_is_alive_and_whether_it_has_room(
    real_livekit: LiveKitServer, database_url: str
) -> None:
    await empty_platform_tables(database_url)
    credentials = real_livekit.config.credentials
    settings = make_settings(
        platform_env="test",
        database_url=database_url,
        worker_http_port=0,
        worker_heartbeat_interval_s=0.5,
        livekit_url=real_livekit.url,
        livekit_api_key=credentials.api_key,
        livekit_api_secret=credentials.api_secret,
    )
    load = [0.0]
    server = agent_server(settings, load_fnc=lambda _: load[0], setup_fnc=lambda _p, _s: None)

    @server.rtc_session(agent_name=settings.worker_agent_name(WorkerRole.SPAWNER))
    async def entrypoint(ctx: JobContext) -> None:
        await ctx.connect()

    runtime = await asyncio.to_thread(Runtime(settings).start)
    store = await PostgresStore.connect(database_url, max_size=1)

    async def workers(available: bool) -> list[Any]:
        for _ in range(200):
            live = await store.live_workers()
            if live and all(w.available is available for w in live):
                return live
            await asyncio.sleep(0.05)
        pytest.fail(f"no heartbeat with available={available}: {live}")

    try:
        assert await store.live_workers() == []
        async with running(server) as worker_id:
            beating = start_heartbeat(
                server,
                settings,
                role=WorkerRole.SPAWNER,
                load_fnc=lambda _: load[0],
                runtime=runtime,
            )
            assert (
                start_heartbeat(
                    server,
                    settings,
                    role=WorkerRole.SPAWNER,
                    load_fnc=lambda _: load[0],
                    runtime=runtime,
                )
                is beating
            )  # a re-registration does not start a second one
            [alive] = await workers(available=True)
            assert (alive.worker_id, alive.agent_name) == (worker_id, "spawner-test")
            assert (alive.deployment, alive.max_sessions) == ("test", settings.worker_max_sessions)
            load[0] = settings.worker_load_threshold  # full: LiveKit offers it nothing more
            [full] = await workers(available=False)
            assert full.available_since is None
            load[0] = 0.1
            [freed] = await workers(available=True)
            assert freed.available_since is not None and alive.available_since is not None
            assert freed.available_since > alive.available_since
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
            assert await store.live_workers() == []  # it stopped: it no longer counts
    finally:
        await store.close()
        await asyncio.to_thread(runtime.close)


def test_a_replica_is_full_at_exactly_its_maximum_sessions() -> None:
    settings = make_settings(worker_max_sessions=16, worker_load_threshold=0.7)
    # LiveKit offers a worker jobs while its load is below the threshold: 15 calls, not 16.
    assert session_load(15, settings) < 0.7
    assert session_load(16, settings) == 0.7
    assert session_load(40, settings) == 0.7
    assert session_load(0, settings) == 0.0
    assert session_load(8, settings) == 0.35


def test_by_default_a_replica_s_load_is_its_sessions_only() -> None:
    assert make_settings().worker_load_cpu is False


def test_the_cpu_term_is_the_share_of_its_cpus_the_replica_used_over_the_window() -> None:
    now, used = [0.0], [0.0]
    cpu = ReplicaCpu(used=lambda: used[0], cpus=2.0, window_s=10.0, clock=lambda: now[0])
    assert cpu.share() == 0.0  # one reading is no interval
    now[0], used[0] = 4.0, 4.0  # one core busy of two
    assert cpu.share() == 0.5
    # A burst (two cores for a second) moves the windowed share, not to full.
    now[0], used[0] = 5.0, 6.0
    assert cpu.share() == 0.6
    # Idle since: the old samples leave the window, the share falls back.
    now[0] = 12.0
    assert cpu.share() == 0.25  # 6 s of CPU over 12 s on 2 CPUs: (0, 0) is the baseline
    now[0] = 16.0
    assert cpu.share() == 0.0  # (5, 6), the newest sample a window old, is the baseline
    now[0], used[0] = 46.0, 100.0  # more than its CPUs can give (a clock step): capped
    assert cpu.share() == 1.0


def test_the_cpus_are_the_affinity_capped_by_a_cgroup_quota(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    quota = tmp_path / "cpu.max"
    quota.write_text("50000 100000\n")
    assert available_cpus(quota) == 0.5
    quota.write_text("max 100000\n")
    assert available_cpus(quota) == affinity
    assert available_cpus(tmp_path / "absent") == affinity


def test_a_busy_neighbour_does_not_fill_a_replica(tmp_path: Path) -> None:
    """One CPU hog per core beside this (idle) process: its own CPU share stays near zero,
    where the machine's CPU (what livekit-agents' default load reads) is full."""
    # Started through a shell that exits at once: not this process's children (a replica's
    # children are its job processes, and they count).
    hogs = [
        int(
            subprocess.check_output(
                ["/bin/sh", "-c", f"{sys.executable} -c 'while True: pass' >/dev/null & echo $!"]
            )
        )
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        cpu = ReplicaCpu()
        cpu.share()
        psutil.cpu_percent(interval=None)
        time.sleep(1.5)
        machine = psutil.cpu_percent(interval=None) / 100
        own = cpu.share()
    finally:
        for hog in hogs:
            os.kill(hog, signal.SIGKILL)
    assert machine > 0.7, machine  # the neighbours do fill the machine
    assert own < 0.2, own
    # Its own work does count.
    burner = ReplicaCpu()
    burner.share()
    until = time.process_time() + 0.5
    while time.process_time() < until:
        pass
    assert burner.share() > 0.05


async def test_the_replayer_writes_what_an_outage_spooled_once_the_store_is_back(
    database_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    proxied = via(database_url, proxy)
    down = await PostgresStore.connect(proxied, attempts=1, timeout_s=3)
    recorder = SessionRecorder(down, tmp_path)
    proxy.cut()
    try:
        session_id = await recorder.start(
            NewCallSession(
                agent_id=None,
                room_name=f"voxie-creation-{uuid4().hex[:12]}",
                kind=SessionKind.CREATION,
                deployment="test",
            )
        )
        await recorder.finish(CallEnd(session_id=session_id, end_reason=EndReason.USER_HANGUP))
    finally:
        await down.close()
    assert recorder.pending == 1

    # The worker starts while the store is still down: its replayer keeps trying.
    settings = make_settings(database_url=proxied, spool_dir=tmp_path)
    watched: list[RefusalsCounted] = []

    async def open_watched(settings: Settings) -> AgentStore:
        watched.append(RefusalsCounted(await open_store(settings)))
        return cast("AgentStore", watched[0])

    runtime = await asyncio.to_thread(Runtime(settings, open_store=open_watched).start)
    replayer = start_spool_replayer(settings, interval_s=0.05, runtime=runtime)
    try:
        # Each pass tries the spooled start first: a second refusal is a second pass, so the
        # replayer outlived a failed one, and the record is still owed.
        for _ in range(6000):
            if watched[0].starts_refused >= 2:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail(f"the replayer tried the down store {watched[0].starts_refused} time(s)")
        assert recorder.pending == 1 and not replayer.done()
        proxy.restore()
        async with asyncio.timeout(60):
            while recorder.pending:  # noqa: ASYNC110 - the spool is files: nothing to await
                await asyncio.sleep(0.05)
    finally:
        replayer.cancel()
        await asyncio.to_thread(runtime.close)
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "select status, end_reason from call_sessions where id = $1", session_id
        )
    finally:
        await conn.close()
    assert row is not None and (row["status"], row["end_reason"]) == ("ended", "user_hangup")


def record_prewarm(proc: JobProcess, settings: Settings) -> None:
    """A worker's prewarm (module level, as livekit-agents pickles it by its path)."""
    proc.userdata["prewarmed_for"] = settings.platform_env


def test_a_job_process_gets_the_settings_the_entry_point_built(tmp_path: Path) -> None:
    """What livekit-agents' process executor does (`ipc.job_proc_executor`): the prewarm travels
    pickled to a fresh interpreter, here with an environment `Settings()` refuses, and runs
    there before the job's entry point, which then reads the settings the worker started with."""
    settings = make_settings(
        platform_env="staging",
        livekit_api_key="key",
        livekit_api_secret="a-secret-of-the-right-length-0123456789",
        database_url="postgresql://db.internal/voxie",
        worker_max_sessions=7,
    )
    server = agent_server(settings, load_fnc=lambda _: 0.0, setup_fnc=record_prewarm)
    child = """
import pickle, sys
from livekit.agents import JobExecutorType, JobProcess
from shared.worker import SETTINGS_KEY
proc = JobProcess(executor_type=JobExecutorType.PROCESS, user_arguments=None, http_proxy=None)
pickle.loads(sys.stdin.buffer.read())(proc)
settings = proc.userdata[SETTINGS_KEY]
print(proc.userdata["prewarmed_for"], settings.platform_env, settings.worker_max_sessions)
"""
    bad = {"PLATFORM_ENV": "Not A Name!", "WORKER_MAX_SESSIONS": "many"}
    ran = python(["-c", child], tmp_path, bad, stdin=pickle.dumps(server.setup_fnc))
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.split() == ["staging", "staging", "7"]
