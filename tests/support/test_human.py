"""The test human against the real server: what one client publishes (speech from a WAV, text
streams, attributes) another one receives — the paths the end-to-end tests rely on."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.human import SAMPLE_RATE, Human, speech_wav
from tests.support.livekit_server import join_token, livekit_server
from voxiectl.livekit_local import LiveKitServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitServer]:
    with livekit_server(tmp_path_factory.mktemp("livekit")) as running:
        yield running


def test_speech_is_a_48khz_mono_wav_of_some_length(tmp_path: Path) -> None:
    path = speech_wav(tmp_path / "hello.wav", "Hello there.")
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        assert 0.5 < wav.getnframes() / SAMPLE_RATE < 10


@pytest.mark.timeout(90)
async def test_one_human_hears_reads_and_sees_the_other(
    server: LiveKitServer, tmp_path: Path
) -> None:
    room = "support-human"
    alice = await Human.join(server.url, join_token(server, room, "alice"), text_topics=("notes",))
    bob = await Human.join(server.url, join_token(server, room, "bob"))
    try:
        await alice.until(lambda: alice.others(), what="bob")
        await bob.speak(speech_wav(tmp_path / "bob.wav", "Hi Alice, this is Bob."))
        await alice.until(lambda: alice.audio_frames > 10, what="bob's audio frames")
        assert alice.subscribed == [("bob", "microphone")]

        await bob.room.local_participant.send_text("see you at ten", topic="notes")
        await alice.until(lambda: alice.texts, what="bob's note")
        assert alice.texts == [("notes", "bob", "see you at ten")]

        await bob.room.local_participant.set_attributes({"mood": "cheerful"})
        await alice.until(
            lambda: alice.others()[0].attributes.get("mood") == "cheerful", what="bob's mood"
        )
    finally:
        await bob.leave()
        await alice.leave()
    assert not alice.agents()
