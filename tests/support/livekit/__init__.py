"""A LiveKit server double for tests: the real `livekit-api` client and real `livekit-agents`
workers talk to it unchanged over LiveKit's own wire protocols.

The real livekit-server now runs in the tests (`shared.livekit_local`, `tests/e2e/`): everything
that happens in a room is tested there. This double remains for what the real server cannot be
made to do on cue — scripted workers that send malformed frames or fall silent
(`raw_worker.py`), room timeouts on a clock the test moves, data packets kept after a room is
deleted — and for the in-process backend, spawner and Voxie worker tests not yet moved to the
real server. It follows livekit-server's source (pkg/service, pkg/agent, pkg/rtc) and
livekit/protocol.

Emulated:

- **Twirp API** (`twirp.py`): RoomService CreateRoom, ListRooms, DeleteRoom, ListParticipants,
  GetParticipant, RemoveParticipant, UpdateParticipant, UpdateRoomMetadata, SendData (recorded,
  not delivered); AgentDispatchService CreateDispatch, ListDispatch, DeleteDispatch. Protobuf or
  JSON bodies, the server's JWT checks and grant checks, its error codes and messages.
- **The agent-worker websocket `/agent`** (`workers.py`): registration, load-weighted job
  offers, assignment with a join token, status and job updates, termination, ping/pong.
- **Dispatch as the server does it** (`server.py`): a room's explicit agents (or, with none, one
  dispatch to unnamed workers) are launched when the room is created; every CreateDispatch adds
  a job; a dispatch to a missing room creates the room; jobs no worker takes are dropped.
- **Rooms and participants** (`rooms.py`): `join()`/`leave()` and `join_with_token()` for
  humans; an agent participant is in the room from its job's assignment until the job ends, is
  terminated or its worker disconnects. `empty_timeout`/`departure_timeout` close rooms by a
  clock tests move with `advance()`; agents and recorders never keep a room open.
- **Webhooks** (`webhooks.py`): room_started, participant_joined, participant_left and
  room_finished, encoded and signed exactly as the server does, so `WebhookReceiver` verifies.

Where it cannot be the server: with no SFU, an agent participant exists from its job's
assignment (not from its own connection) until the job ends; token expiry is checked against
real time while rooms age by the test clock; `max_participants` counts humans only, and an empty
room name is refused (neither is confirmed against the server's source).

Not emulated: media and the SFU — `/rtc` (and `/rtc/validate`, `/rtc/v1`) answer 501 with a
message saying so, so a job that calls `ctx.connect()` fails fast and visibly; participants
come only from the test-side API and job assignments. Also not: tracks and track webhooks,
egress/ingress/SIP, publisher and participant job types (workers of those types register but
get no jobs), namespaces beyond equality, Cloud-only dispatch fields (`deployment`,
`restart_policy`), job migration on worker reconnect, data delivery to participants, regions and
failover, multi-node routing. Room state lives in memory for the double's lifetime.
"""

from tests.support.livekit.double import NO_SFU, LiveKitDouble
from tests.support.livekit.server import JobView, RoomConfig
from tests.support.livekit.webhooks import ReceivedWebhook, WebhookSink
from tests.support.livekit.workers import WorkerView

__all__ = [
    "NO_SFU",
    "JobView",
    "LiveKitDouble",
    "ReceivedWebhook",
    "RoomConfig",
    "WebhookSink",
    "WorkerView",
]
