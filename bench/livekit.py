"""The LiveKit test double's cost: `python -m bench.livekit [--n 500] [--concurrency 8]`.

Measures, with the real livekit-api client, Twirp `ListRooms`, `CreateRoom` and
`ListParticipants`, and the dispatch path, one at a time and then `--concurrency` at once:
`CreateRoom` with one agent dispatch until a scripted worker on `/agent` holds the
`JobAssignment` (offer, answer, join token). These bound how much of a test's time the double
takes; they are not LiveKit's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools

from livekit import api

from bench.timing import measure, row
from shared.logging import configure_logging
from tests.support.livekit import LiveKitDouble
from tests.support.livekit.raw_worker import RawWorker


async def accept_forever(worker: RawWorker, assigned: dict[str, asyncio.Future[None]]) -> None:
    while True:
        message = await worker.receive()
        if message.HasField("availability"):
            await worker.answer(message.availability.job)
        elif message.HasField("assignment"):
            assigned[message.assignment.job.room.name].set_result(None)


async def main(n: int, concurrency: int) -> None:
    with LiveKitDouble() as livekit:
        async with livekit.api() as client:
            for index in range(20):
                await client.room.create_room(api.CreateRoomRequest(name=f"seed-{index}"))
            await livekit.join("seed-0", "caller")

            async def list_rooms(_: int) -> None:
                await client.room.list_rooms(api.ListRoomsRequest())

            async def create_room(index: int) -> None:
                await client.room.create_room(api.CreateRoomRequest(name=f"plain-{index}"))

            async def list_participants(_: int) -> None:
                await client.room.list_participants(api.ListParticipantsRequest(room="seed-0"))

            print(f"LiveKit double, n={n}, concurrency 1 and {concurrency}")
            for name, op in [
                ("Twirp ListRooms", list_rooms),
                ("Twirp CreateRoom", create_room),
                ("Twirp ListParticipants", list_participants),
            ]:
                print(row(name, *await measure(n, 1, op)))

            worker = await RawWorker.connect(livekit, "bench-agent")
            assigned: dict[str, asyncio.Future[None]] = {}
            acceptor = asyncio.create_task(accept_forever(worker, assigned))

            async def dispatch(index: int, *, prefix: str) -> None:
                name = f"{prefix}-{index}"
                assigned[name] = asyncio.get_running_loop().create_future()
                await client.room.create_room(
                    api.CreateRoomRequest(
                        name=name, agents=[api.RoomAgentDispatch(agent_name="bench-agent")]
                    )
                )
                await assigned[name]

            for label, prefix, in_flight in [
                ("dispatch -> assignment", "agent", 1),
                (f"dispatch -> assignment x{concurrency}", "agent-c", concurrency),
            ]:
                results = await measure(n, in_flight, functools.partial(dispatch, prefix=prefix))
                print(row(label, *results))
            acceptor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acceptor
            await worker.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    arguments = parser.parse_args()
    configure_logging("error", "console")
    asyncio.run(main(arguments.n, arguments.concurrency))
