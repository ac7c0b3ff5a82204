"""A bare `/agent` protocol client that tests script message by message.

The real `AgentServer` proves the double works with livekit-agents; this client reaches the
cases the SDK never produces on cue (a worker that stays silent, reports a given load, or
answers a job it was not offered), with the same aiohttp websocket the SDK uses.
"""

from __future__ import annotations

import asyncio
from typing import Final

import aiohttp
from livekit import api
from livekit.protocol import agent

from tests.support.livekit.double import LiveKitDouble

_RECEIVE_TIMEOUT_S: Final = 10.0


class RawWorker:
    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._session = session
        self._ws = ws
        self.worker_id = ""
        self._inbox: asyncio.Queue[agent.ServerMessage | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(
        cls,
        livekit: LiveKitDouble,
        agent_name: str = "",
        *,
        job_type: agent.JobType = agent.JobType.JT_ROOM,
        register: bool = True,
    ) -> RawWorker:
        token = (
            api.AccessToken(livekit.api_key, livekit.api_secret)
            .with_grants(api.VideoGrants(agent=True))
            .to_jwt()
        )
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(
                f"{livekit.ws_url}/agent", headers={"Authorization": f"Bearer {token}"}
            )
        except BaseException:
            await session.close()
            raise
        worker = cls(session, ws)
        if register:
            await worker.send(
                agent.WorkerMessage(
                    register=agent.RegisterWorkerRequest(
                        type=job_type, agent_name=agent_name, version="raw"
                    )
                )
            )
            response = await worker.receive("register")
            worker.worker_id = response.register.worker_id
        return worker

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if message.type == aiohttp.WSMsgType.BINARY:
                    self._inbox.put_nowait(agent.ServerMessage.FromString(message.data))
        finally:
            self._inbox.put_nowait(None)

    async def send(self, message: agent.WorkerMessage) -> None:
        await self.send_raw(message.SerializeToString())

    async def send_raw(self, data: bytes) -> None:
        await self._ws.send_bytes(data)

    async def receive(
        self, kind: str | None = None, *, within: float = _RECEIVE_TIMEOUT_S
    ) -> agent.ServerMessage:
        """The next server message (of `kind`, if given; others in between are an error)."""
        message = await asyncio.wait_for(self._inbox.get(), within)
        if message is None:
            raise ConnectionError("the server closed the worker connection")
        got = message.WhichOneof("message")
        if kind is not None and got != kind:
            raise AssertionError(f"expected a {kind} message, got {got}: {message}")
        return message

    def has_message(self) -> bool:
        """Whether a server message is waiting (a job offer, typically)."""
        return not self._inbox.empty()

    async def nothing_within(self, seconds: float) -> bool:
        """True if the server sends nothing for `seconds`."""
        try:
            message = await asyncio.wait_for(self._inbox.get(), seconds)
        except TimeoutError:
            return True
        self._inbox.put_nowait(message)
        return False

    async def sync(self) -> None:
        """Ping and wait for the pong: everything sent before has been handled."""
        await self.send(agent.WorkerMessage(ping=agent.WorkerPing(timestamp=1)))
        await self.receive("pong")

    async def offer(self) -> agent.Job:
        """The job of the next availability request."""
        return (await self.receive("availability")).availability.job

    async def answer(
        self,
        job: agent.Job,
        *,
        available: bool = True,
        terminate: bool = False,
        identity: str = "",
        name: str = "",
        attributes: dict[str, str] | None = None,
    ) -> None:
        response = agent.AvailabilityResponse(
            job_id=job.id,
            available=available,
            terminate=terminate,
            participant_identity=identity or f"agent-{job.id}",
            participant_name=name,
        )
        response.participant_attributes.update(attributes or {})
        await self.send(agent.WorkerMessage(availability=response))

    async def accept(self, job: agent.Job, identity: str = "") -> agent.JobAssignment:
        await self.answer(job, identity=identity)
        return (await self.receive("assignment")).assignment

    async def report_load(
        self, load: float, status: agent.WorkerStatus = agent.WorkerStatus.WS_AVAILABLE
    ) -> None:
        await self.send(
            agent.WorkerMessage(update_worker=agent.UpdateWorkerStatus(load=load, status=status))
        )
        await self.sync()

    async def job_ended(
        self, job_id: str, status: agent.JobStatus = agent.JobStatus.JS_SUCCESS
    ) -> None:
        await self.send(
            agent.WorkerMessage(update_job=agent.UpdateJobStatus(job_id=job_id, status=status))
        )

    async def close(self) -> None:
        await self._ws.close()
        await self._session.close()
        await asyncio.gather(self._reader, return_exceptions=True)


async def next_offer(
    workers: list[RawWorker], *, within: float = _RECEIVE_TIMEOUT_S
) -> tuple[RawWorker, agent.Job]:
    """The worker the server offered a job to, and the job."""
    deadline = asyncio.get_running_loop().time() + within
    while not any(worker.has_message() for worker in workers):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("no worker was offered a job")
        await asyncio.sleep(0.01)
    worker = next(worker for worker in workers if worker.has_message())
    return worker, await worker.offer()
