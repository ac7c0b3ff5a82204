"""The agent-worker protocol (`/agent`): registration, job offers and assignment, status.

Follows livekit-server's pkg/agent/worker.go and pkg/service/agentservice.go:

- A worker registers first (10 s), and gets `AW_…` and the server info back.
- A job goes to one worker of its agent name, picked at random weighted by `1 - load` among
  those `WS_AVAILABLE` and not tried yet; none → "no workers available", all at full load →
  "no workers with sufficient capacity". Either way the job is dropped (only logged).
- The worker answers the `AvailabilityRequest`: `terminate` ends the job there (success, no
  assignment); `available=false` or the worker closing → the next worker; no answer in
  `assign_timeout` (10 s) → the job is dropped. On `available=true` the server sends
  `JobAssignment` (`url` empty, as in OSS) with a one-hour join token for the identity the
  worker chose.
- `UpdateWorkerStatus` sets the status only when sent and always overwrites the load;
  `UpdateJobStatus` with success/failure ends the job; a ping gets a pong.
- A worker that disconnects loses its jobs: nothing re-dispatches them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol, TypeAlias

from google.protobuf.message import DecodeError
from livekit import api
from livekit.protocol import agent, models
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.support.livekit.rooms import Clock, new_id

logger = logging.getLogger(__name__)

REGISTER_TIMEOUT_S: Final = 10.0
ASSIGN_TIMEOUT_S: Final = 10.0
AGENT_TOKEN_TTL: Final = datetime.timedelta(hours=1)
SERVER_VERSION: Final = "1.9.0-double"
SERVER_PROTOCOL: Final = 16
_AGENT_NAME_ATTRIBUTE: Final = "lk.agent_name"

JobStatus: TypeAlias = agent.JobStatus
JS_RUNNING: Final[JobStatus] = agent.JobStatus.JS_RUNNING
JS_SUCCESS: Final[JobStatus] = agent.JobStatus.JS_SUCCESS
JS_FAILED: Final[JobStatus] = agent.JobStatus.JS_FAILED
WorkerStatus: TypeAlias = agent.WorkerStatus
WS_AVAILABLE: Final[WorkerStatus] = agent.WorkerStatus.WS_AVAILABLE


class JobNotLaunched(Exception):
    """No worker took the job; the server only logs this."""


class _TryNextWorker(Exception):
    """The worker declined (available=false) or went away before answering."""


@dataclass(frozen=True)
class Assignment:
    """A job a worker took (`answer.available`) or ended (`answer.terminate`)."""

    worker: Worker
    job: agent.Job
    answer: agent.AvailabilityResponse

    @property
    def attributes(self) -> dict[str, str]:
        """The agent participant's attributes, as its join token carries them."""
        attributes = dict(self.answer.participant_attributes)
        attributes[_AGENT_NAME_ATTRIBUTE] = self.worker.agent_name
        return attributes


class WorkerEvents(Protocol):
    """What the rest of the server hears from workers."""

    def job_ended(self, worker: Worker, job: agent.Job) -> None: ...

    def worker_lost(self, worker: Worker, jobs: list[agent.Job]) -> None: ...


@dataclass(frozen=True)
class WorkerView:
    """A registered worker as a test sees it."""

    id: str
    agent_name: str
    namespace: str
    job_type: agent.JobType
    status: WorkerStatus
    load: float
    job_count: int
    draining: bool
    running_jobs: tuple[str, ...]


def _default_permissions() -> models.ParticipantPermission:
    return models.ParticipantPermission(
        can_subscribe=True, can_publish=True, can_publish_data=True, can_update_metadata=True
    )


class Worker:
    """One registered worker connection."""

    def __init__(
        self,
        websocket: WebSocket,
        register: agent.RegisterWorkerRequest,
        *,
        api_key: str,
        api_secret: str,
        clock: Clock,
    ) -> None:
        self.id = new_id("AW_")
        self.agent_name = register.agent_name
        self.namespace = register.namespace
        self.job_type = register.type
        self.permissions = (
            register.allowed_permissions
            if register.HasField("allowed_permissions")
            else _default_permissions()
        )
        self.status: WorkerStatus = WS_AVAILABLE
        self.load = 0.0
        self.job_count = 0
        self.draining = False
        self.running: dict[str, agent.Job] = {}
        # Terminated by the server, until the worker reports the job gone or disconnects.
        self.terminating: dict[str, agent.Job] = {}
        self._websocket = websocket
        self._api_key = api_key
        self._api_secret = api_secret
        self._clock = clock
        self._pending: dict[str, asyncio.Future[agent.AvailabilityResponse]] = {}
        self._send_lock = asyncio.Lock()
        self.closed = False

    def view(self) -> WorkerView:
        return WorkerView(
            id=self.id,
            agent_name=self.agent_name,
            namespace=self.namespace,
            job_type=self.job_type,
            status=self.status,
            load=self.load,
            job_count=self.job_count,
            draining=self.draining,
            running_jobs=tuple(self.running),
        )

    async def send(self, message: agent.ServerMessage) -> None:
        async with self._send_lock:
            await self._websocket.send_bytes(message.SerializeToString())

    async def assign(self, job: agent.Job, answer_within: float) -> Assignment:
        """Offer `job`; the job assigned (running) or ended by `terminate`.

        Raises _TryNextWorker when declined or closed, JobNotLaunched on no answer.
        """
        if self.closed:
            raise _TryNextWorker
        offered = agent.Job()
        offered.CopyFrom(job)
        now_ns = self._clock.now_ns()
        offered.state.status = JS_RUNNING
        offered.state.started_at = now_ns
        offered.state.updated_at = now_ns
        offered.state.worker_id = self.id
        answer_future = asyncio.get_running_loop().create_future()
        self._pending[offered.id] = answer_future
        try:
            await self.send(
                agent.ServerMessage(availability=agent.AvailabilityRequest(job=offered))
            )
            answer = await asyncio.wait_for(answer_future, answer_within)
        except TimeoutError:
            raise JobNotLaunched(
                f"worker {self.id} did not answer in {answer_within:g} s"
            ) from None
        except (WebSocketDisconnect, RuntimeError, OSError):
            raise _TryNextWorker from None
        finally:
            self._pending.pop(offered.id, None)

        if answer.terminate:
            offered.state.status = JS_SUCCESS
            offered.state.ended_at = self._clock.now_ns()
            return Assignment(self, offered, answer)
        if not answer.available:
            raise _TryNextWorker
        offered.state.participant_identity = answer.participant_identity
        assignment = Assignment(self, offered, answer)
        token = self._agent_token(offered.room.name, assignment)
        self.running[offered.id] = offered
        try:
            await self.send(
                agent.ServerMessage(assignment=agent.JobAssignment(job=offered, token=token))
            )
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.running.pop(offered.id, None)
            raise _TryNextWorker from None
        return assignment

    def _agent_token(self, room: str, assignment: Assignment) -> str:
        # protocol/agent/token.go BuildAgentToken
        answer = assignment.answer
        grants = api.VideoGrants(
            room_join=True,
            agent=True,
            room=room,
            can_subscribe=self.permissions.can_subscribe,
            can_publish=self.permissions.can_publish,
            can_publish_data=self.permissions.can_publish_data,
            hidden=self.permissions.hidden,
            can_update_own_metadata=self.permissions.can_update_metadata,
            can_subscribe_metrics=self.permissions.can_subscribe_metrics,
        )
        return (
            api.AccessToken(self._api_key, self._api_secret)
            .with_identity(answer.participant_identity)
            .with_name(answer.participant_name)
            .with_metadata(answer.participant_metadata)
            .with_attributes(assignment.attributes)
            .with_kind("agent")
            .with_grants(grants)
            .with_ttl(AGENT_TOKEN_TTL)
            .to_jwt()
        )

    def answered(self, response: agent.AvailabilityResponse) -> None:
        future = self._pending.get(response.job_id)
        if future is None or future.done():
            logger.warning(
                "availability answer for a job not offered",
                extra={"job_id": response.job_id, "worker_id": self.id},
            )
            return
        future.set_result(response)

    def update_status(self, update: agent.UpdateWorkerStatus) -> None:
        if update.HasField("status"):
            self.status = update.status
        self.load = update.load
        self.job_count = update.job_count
        self.draining = update.draining

    def update_job(self, update: agent.UpdateJobStatus) -> agent.Job | None:
        """Record the worker's job status; the job if this update ended it."""
        terminated = self.terminating.pop(update.job_id, None)
        if terminated is not None:
            return terminated  # already ended by the server; the worker confirms it is gone
        job = self.running.get(update.job_id)
        if job is None:
            return None  # "received job update for unknown job": ignored
        job.state.status = update.status
        job.state.error = update.error
        job.state.updated_at = self._clock.now_ns()
        if update.status not in (JS_SUCCESS, JS_FAILED):
            return None
        job.state.ended_at = job.state.updated_at
        return self.running.pop(update.job_id)

    def end_job(self, job_id: str, *, agent_left: bool) -> bool:
        """TerminateJob: the job ends now (success, or failure when its agent left the room);
        the worker is told with `send_termination`. False if the worker does not run it."""
        job = self.running.pop(job_id, None)
        if job is None:
            return False
        job.state.status = JS_FAILED if agent_left else JS_SUCCESS
        job.state.error = "agent worker left the room" if agent_left else ""
        job.state.updated_at = job.state.ended_at = self._clock.now_ns()
        self.terminating[job_id] = job
        return True

    async def send_termination(self, job_id: str) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.send(agent.ServerMessage(termination=agent.JobTermination(job_id=job_id)))

    async def disconnect(self, reason: str) -> None:
        """Close the connection from the server side (1001 going away)."""
        await _close(self._websocket, 1001, reason)

    def close(self) -> list[agent.Job]:
        """Forget the connection: pending offers go to the next worker; running jobs are lost."""
        self.closed = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(_TryNextWorker())
        lost = [*self.running.values(), *self.terminating.values()]
        self.running.clear()
        self.terminating.clear()
        return lost


class WorkerPool:
    """Registered workers and the job request loop of agentservice.go."""

    def __init__(self, rng: random.Random, assign_timeout: float = ASSIGN_TIMEOUT_S) -> None:
        self._workers: dict[str, Worker] = {}
        self._rng = rng
        self.assign_timeout = assign_timeout

    def reseed(self, seed: int) -> None:
        self._rng.seed(seed)

    def __iter__(self) -> Iterator[Worker]:
        return iter(list(self._workers.values()))

    def add(self, worker: Worker) -> None:
        self._workers[worker.id] = worker

    def remove(self, worker: Worker) -> None:
        self._workers.pop(worker.id, None)

    def find_job(self, job_id: str) -> Worker | None:
        return next((w for w in self._workers.values() if job_id in w.running), None)

    def select(self, job: agent.Job, tried: set[str]) -> Worker:
        candidates = [
            w
            for w in self._workers.values()
            if w.agent_name == job.agent_name
            and w.namespace == job.namespace
            and w.job_type == job.type
        ]
        if not candidates:
            raise JobNotLaunched("no workers available")
        weighted = [
            (w, max(0.0, 1.0 - w.load))
            for w in candidates
            if w.status == WS_AVAILABLE and w.id not in tried
        ]
        total = sum(weight for _, weight in weighted)
        if total <= 0:
            raise JobNotLaunched("no workers with sufficient capacity")
        pick = self._rng.uniform(0, total)
        for worker, weight in weighted:
            pick -= weight
            if pick <= 0 and weight > 0:
                return worker
        return next(w for w, weight in reversed(weighted) if weight > 0)

    async def launch(self, job: agent.Job) -> Assignment:
        """Offer `job` worker after worker until one takes or ends it."""
        tried: set[str] = set()
        while True:
            worker = self.select(job, tried)
            tried.add(worker.id)
            try:
                return await worker.assign(job, self.assign_timeout)
            except _TryNextWorker:
                continue


async def serve_worker(
    websocket: WebSocket,
    pool: WorkerPool,
    events: WorkerEvents,
    *,
    api_key: str,
    api_secret: str,
    clock: Clock,
    server_info: models.ServerInfo,
) -> None:
    """Run one accepted `/agent` connection until it closes."""
    try:
        first = await asyncio.wait_for(websocket.receive_bytes(), REGISTER_TIMEOUT_S)
        message = agent.WorkerMessage.FromString(first)
    except (TimeoutError, DecodeError, KeyError, WebSocketDisconnect):
        await _close(websocket, 1008, "expected a register message")
        return
    if message.WhichOneof("message") != "register":
        await _close(websocket, 1008, "expected a register message")
        return
    register = message.register
    if register.type not in agent.JobType.values():
        await _close(websocket, 1008, "unknown job type")
        return

    worker = Worker(websocket, register, api_key=api_key, api_secret=api_secret, clock=clock)
    pool.add(worker)
    logger.info(
        "worker registered",
        extra={"worker_id": worker.id, "agent_name": worker.agent_name},
    )
    try:
        await worker.send(
            agent.ServerMessage(
                register=agent.RegisterWorkerResponse(worker_id=worker.id, server_info=server_info)
            )
        )
        while True:
            data = await websocket.receive_bytes()
            await _handle(worker, agent.WorkerMessage.FromString(data), events, clock)
    except (WebSocketDisconnect, DecodeError, KeyError, RuntimeError):
        pass
    finally:
        pool.remove(worker)
        lost = worker.close()
        logger.info(
            "worker disconnected",
            extra={"worker_id": worker.id, "lost_jobs": [job.id for job in lost]},
        )
        events.worker_lost(worker, lost)


async def _handle(
    worker: Worker, message: agent.WorkerMessage, events: WorkerEvents, clock: Clock
) -> None:
    kind = message.WhichOneof("message")
    if kind == "availability":
        worker.answered(message.availability)
    elif kind == "update_worker":
        worker.update_status(message.update_worker)
    elif kind == "update_job":
        ended = worker.update_job(message.update_job)
        if ended is not None:
            events.job_ended(worker, ended)
    elif kind == "ping":
        pong = agent.WorkerPong(
            last_timestamp=message.ping.timestamp, timestamp=int(clock.now() * 1000)
        )
        await worker.send(agent.ServerMessage(pong=pong))
    else:
        # migrate_job / simulate_job / a second register: the double does not emulate them.
        logger.warning("unhandled worker message", extra={"kind": kind, "worker_id": worker.id})


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError, OSError):
        await websocket.close(code, reason)
