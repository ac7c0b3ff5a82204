"""A LiveKit server double for tests: the real `livekit-api` client and real `livekit-agents`
workers talk to it unchanged over LiveKit's own wire protocols.

LiveKit's behaviour has one source of truth in the tests: the real livekit-server
(`voxiectl.livekit_local`, `tests/e2e/`). Registration, routing refusals, deployments sharing an
agent name, a second agent leaving, spawn and join, unrunnable agents telling the room, and
everything else that happens in a room run there. The double remains only for what the real
server cannot be made to do on cue:

- **Scripted workers** (`raw_worker.py`, `test_workers.py`): a worker that sends malformed or
  out-of-order frames, answers a job it was not offered, reports a given load or falls silent.
- **Faults on demand**: a LiveKit outage (`outage()`: the API and `/agent` answer 503), which
  the backend's admission, spawn and system tests meet with a clear error; and a store outage
  while a real spawner process takes a job (tests/spawner/test_recording.py), whose
  `spawner.error` data packet the double keeps to be read back.
- **The backend's in-process tests** (tests/backend, tests/deploy, tests/shared/test_presence):
  a fresh server per test, simulated participants of any kind without media (`join()`,
  `join_with_token()`), signed webhooks to a sink the test chooses, reconciler runs against
  real worker processes (`processes.py`), and room timeouts on a clock the test moves
  (`advance()`) rather than in real time.

It follows livekit-server's source (pkg/service, pkg/agent, pkg/rtc) and livekit/protocol.

Emulated:

- **Twirp API** (`twirp.py`): RoomService CreateRoom, ListRooms, DeleteRoom, ListParticipants,
  GetParticipant, RemoveParticipant, UpdateParticipant, UpdateRoomMetadata, SendData (recorded,
  not delivered); AgentDispatchService CreateDispatch, ListDispatch, DeleteDispatch. Protobuf or
  JSON bodies, the server's JWT checks and grant checks, its error codes and messages.
- **The agent-worker websocket `/agent`** (`workers.py`): registration, load-weighted job
  offers, assignment with a join token, status and job updates, termination, ping/pong; real
  `AgentServer` processes (`agent_worker.py`, `processes.py`) prove the SDK works with it.
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

Not emulated: media and the SFU — `/rtc` answers 501 so a stray `ctx.connect()` fails fast
(no test relies on that any more: joining rooms is the real server's job). Also not: tracks and
track webhooks, egress/ingress/SIP, publisher and participant job types (workers of those types
register but get no jobs), namespaces beyond equality, Cloud-only dispatch fields
(`deployment`, `restart_policy`), job migration on worker reconnect, data delivery to
participants, regions and failover, multi-node routing. Room state lives in memory for the
double's lifetime.
"""

from tests.support.livekit.double import LiveKitDouble
from tests.support.livekit.server import JobView, RoomConfig
from tests.support.livekit.webhooks import ReceivedWebhook, WebhookSink
from tests.support.livekit.workers import WorkerView

__all__ = [
    "JobView",
    "LiveKitDouble",
    "ReceivedWebhook",
    "RoomConfig",
    "WebhookSink",
    "WorkerView",
]
