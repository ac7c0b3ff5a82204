"""Telling the room why its agent cannot run (topic `spawner.error`, see room_messages).

Both workers use it: the spawner for every refusal, Voxie when no model is configured — the
dashboard shows the same sentence on either page.

Once the agent is in the room the message is a text stream from its participant; before that
(the usual case: the config fails to load before `ctx.connect()`) the agent never joins, and the
message goes as a reliable data packet on the same topic through the server API, so a failing
job costs no WebRTC connection. Either way the payload is one `SpawnerError` JSON object.
A LiveKit outage (or a LiveKit that never answers) here is logged, never raised: the job is
ending anyway.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from livekit import api, rtc

from shared.contracts.room_messages import SPAWNER_ERROR, SpawnerError, SpawnerErrorCode
from shared.logging import get_logger

log = get_logger(__name__)

MESSAGES: dict[SpawnerErrorCode, str] = {
    SpawnerErrorCode.AGENT_NOT_FOUND: "This agent does not exist. It may have been deleted.",
    SpawnerErrorCode.AGENT_ARCHIVED: "This agent was archived and can no longer be run.",
    SpawnerErrorCode.AGENT_NOT_ACTIVE: "This agent is still a draft; activate it to take calls.",
    SpawnerErrorCode.AGENT_NOT_PUBLISHED: "This agent has no published version yet; publish it "
    "to take calls.",
    SpawnerErrorCode.VERSION_NOT_FOUND: "The agent version this call asked for does not exist.",
    SpawnerErrorCode.INVALID_CONFIG: (
        "This agent's configuration is not valid. Open it in the editor and save it again."
    ),
    SpawnerErrorCode.STORE_UNAVAILABLE: (
        "The agent could not be loaded right now. Please try again in a minute."
    ),
    # Only a dev platform starts without a model (elsewhere the workers refuse to start), so the
    # person reading it is the one who started it: say how to fix it.
    SpawnerErrorCode.NO_MODEL_CONFIGURED: (
        "No voice model is configured on this platform (OPENAI_API_KEY is not set), so the "
        "agent cannot talk. Restart the platform with OPENAI_API_KEY=… (for an "
        "OpenAI-compatible server, also OPENAI_BASE_URL=…, with any key such as EMPTY), then "
        "try again."
    ),
    SpawnerErrorCode.MODEL_UNAVAILABLE: (
        "The agent's voice model could not be reached, so the call ended. Please try again "
        "in a minute."
    ),
    SpawnerErrorCode.INTERNAL: "Something went wrong starting this agent. Please try again.",
}


async def tell_room(
    livekit: api.LiveKitAPI,
    room: rtc.Room,
    room_name: str,
    code: SpawnerErrorCode,
    agent_id: UUID | None,
    *,
    timeout_s: float,
) -> None:
    """`timeout_s` (LIVEKIT_API_TIMEOUT_S) bounds the send: a LiveKit that never answers must
    not keep a job that is ending anyway."""
    payload = SpawnerError(code=code, message=MESSAGES[code], agent_id=agent_id).to_json()
    try:
        async with asyncio.timeout(timeout_s):
            if room.isconnected():
                await room.local_participant.send_text(payload, topic=SPAWNER_ERROR)
            else:
                await livekit.room.send_data(
                    api.SendDataRequest(
                        room=room_name,
                        data=payload.encode(),
                        kind=api.DataPacket.Kind.RELIABLE,
                        topic=SPAWNER_ERROR,
                    )
                )
    except Exception as exc:  # LiveKit unreachable: the failure is in the logs and the session row
        log.warning("room_not_told", code=code, error=repr(exc))
