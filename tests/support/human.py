"""The human in a room: a real LiveKit client (the `livekit` rtc SDK) joining with the token the
backend minted, speaking from a WAV file, and seeing what a browser would see — the other
participants and their attributes, the agent's audio tracks, text streams and data packets.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import wave
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from livekit import rtc

SAMPLE_RATE = 48_000
FRAME_MS = 20
PER_FRAME = SAMPLE_RATE * FRAME_MS // 1000
WAIT_TIMEOUT_S = 30.0
# A received frame counts as sound above this peak (PCM16): codec noise on silence stays far
# below it, speech far above.
LOUD_PEAK = 500


def speech_wav(path: Path, text: str = "Hello, I would like to book a cleaning.") -> Path:
    """A mono 48 kHz WAV of `text` spoken by espeak-ng (Debian's `espeak-ng`), or, where it is
    not installed, a tone of the same length range (the audio path is what is tested)."""
    espeak = shutil.which("espeak-ng")
    if espeak is not None:
        raw = path.with_suffix(".espeak.wav")
        subprocess.run([espeak, "-w", str(raw), text], check=True, timeout=30)
        _resample(raw, path)
        raw.unlink()
    else:
        t = np.arange(int(SAMPLE_RATE * 1.5)) / SAMPLE_RATE
        tone = (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16)
        _write(path, tone, SAMPLE_RATE)
    return path


def _resample(source: Path, target: Path) -> None:
    with wave.open(str(source), "rb") as wav:
        rate, width = wav.getframerate(), wav.getsampwidth()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        if wav.getnchannels() > 1:
            samples = samples[:: wav.getnchannels()]
    assert width == 2, f"espeak-ng wrote {width * 8}-bit audio"
    count = int(len(samples) * SAMPLE_RATE / rate)
    resampled = np.interp(
        np.linspace(0, len(samples) - 1, count), np.arange(len(samples)), samples
    ).astype(np.int16)
    _write(target, resampled, SAMPLE_RATE)


def _write(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())


@dataclass
class Human:
    """One connected client; `leave()` disconnects it (the room sees it leave)."""

    identity: str
    room: rtc.Room = field(default_factory=rtc.Room)
    texts: list[tuple[str, str, str]] = field(default_factory=list)  # (topic, sender, text)
    data: list[tuple[str, bytes]] = field(default_factory=list)  # (topic, payload)
    audio_frames: int = 0
    # Frames with sound in them, per speaker, and when the first arrived (loop time).
    loud_frames: dict[str, int] = field(default_factory=dict)
    first_loud_at: dict[str, float] = field(default_factory=dict)
    subscribed: list[tuple[str, str]] = field(default_factory=list)  # (participant, track name)
    _mic: rtc.AudioSource | None = None
    _to_say: asyncio.Queue[tuple[np.ndarray, asyncio.Future[None]]] = field(
        default_factory=asyncio.Queue
    )
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    async def join(
        cls, url: str, token: str, *, text_topics: tuple[str, ...] = (), listen: bool = True
    ) -> Human:
        """Connects to the room; with `listen=False` the human takes no one's tracks (a silent
        caller that decodes nothing: the fleet tests open dozens of calls from one process)."""
        room = rtc.Room()
        human = cls(identity="", room=room)
        human._listen(text_topics)
        options = rtc.RoomOptions(auto_subscribe=listen)
        await asyncio.wait_for(room.connect(url, token, options), WAIT_TIMEOUT_S)
        human.identity = room.local_participant.identity
        return human

    def _listen(self, text_topics: tuple[str, ...]) -> None:
        def changed(*_: object) -> None:
            self._changed.set()

        for event in (
            "participant_connected",
            "participant_disconnected",
            "participant_attributes_changed",
            "track_published",
            "disconnected",
        ):
            self.room.on(event, changed)

        def data_received(packet: rtc.DataPacket) -> None:
            self.data.append((packet.topic or "", packet.data))
            changed()

        self.room.on("data_received", data_received)

        def subscribed(
            track: rtc.Track, _: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
        ) -> None:
            self.subscribed.append((participant.identity, track.name))
            if track.kind == rtc.TrackKind.KIND_AUDIO:
                self._spawn(self._count_audio(participant.identity, rtc.AudioStream(track)))
            changed()

        self.room.on("track_subscribed", subscribed)
        for topic in text_topics:
            self.room.register_text_stream_handler(topic, self._on_text)

    def _on_text(self, reader: rtc.TextStreamReader, sender: str) -> None:
        async def read() -> None:
            text = await reader.read_all()
            self.texts.append((reader.info.topic, sender, text))
            self._changed.set()

        self._spawn(read())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _count_audio(self, speaker: str, stream: rtc.AudioStream) -> None:
        loop = asyncio.get_running_loop()
        async for event in stream:
            self.audio_frames += 1
            samples = np.frombuffer(event.frame.data, dtype=np.int16)
            if samples.size and int(np.abs(samples).max()) > LOUD_PEAK:
                self.loud_frames[speaker] = self.loud_frames.get(speaker, 0) + 1
                if speaker not in self.first_loud_at:
                    self.first_loud_at[speaker] = loop.time()
                    self._changed.set()

    # --- what the human does --------------------------------------------------------------------

    async def speak(self, wav_path: Path) -> None:
        """Says the WAV into the microphone, in real time; returns once it was played.

        The microphone is one track, published at the first `speak` and fed without pause
        until `leave()`: silence between utterances, as a real microphone sends it (a turn
        detector only hears the end of a turn in the silence after it)."""
        with wave.open(str(wav_path), "rb") as wav:
            assert wav.getframerate() == SAMPLE_RATE and wav.getnchannels() == 1
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        await self.open_mic()
        played: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._to_say.put((samples, played))
        await played

    async def open_mic(self) -> None:
        if self._mic is not None:
            return
        # A short queue: `speak` returns when its last frame is about to leave, as a person
        # stops talking (the source's default buffers a whole second ahead).
        self._mic = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=100)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", self._mic)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await self.room.local_participant.publish_track(track, options)
        self._spawn(self._feed_mic(self._mic))

    async def _feed_mic(self, source: rtc.AudioSource) -> None:
        silence = np.zeros(PER_FRAME, dtype=np.int16)
        while True:
            try:
                samples, played = self._to_say.get_nowait()
            except asyncio.QueueEmpty:
                samples, played = silence, None
            # capture_frame waits while the source's buffer is full: this plays in real time.
            for start in range(0, len(samples) - PER_FRAME + 1, PER_FRAME):
                chunk = samples[start : start + PER_FRAME]
                await source.capture_frame(
                    rtc.AudioFrame(chunk.tobytes(), SAMPLE_RATE, 1, PER_FRAME)
                )
            if played is not None and not played.done():
                played.set_result(None)

    async def type(self, text: str) -> None:
        """Typed input, as the dashboard's chat box sends it (the `lk.chat` text stream)."""
        await self.room.local_participant.send_text(text, topic="lk.chat")

    async def leave(self) -> None:
        self._mic = None
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await self.room.disconnect()

    # --- what the human sees ---------------------------------------------------------------------

    def agents(self) -> list[rtc.RemoteParticipant]:
        return [
            p
            for p in self.room.remote_participants.values()
            if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        ]

    def heard(self, speaker: str) -> int:
        """How many frames with sound came from `speaker`."""
        return self.loud_frames.get(speaker, 0)

    def read(self, topic: str, sender: str | None = None) -> list[str]:
        """The texts received on `topic` (from `sender`), oldest first."""
        return [text for t, who, text in self.texts if t == topic and sender in (None, who)]

    def others(self) -> list[rtc.RemoteParticipant]:
        return [
            p
            for p in self.room.remote_participants.values()
            if p.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        ]

    async def until(
        self, condition: Callable[[], object], *, what: str, within: float = WAIT_TIMEOUT_S
    ) -> None:
        """Waits for `condition()` to hold, re-checking at every room event (and every 0.2 s)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self.identity} waited {within:.0f} s for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))

    async def one_agent(self, *, within: float = WAIT_TIMEOUT_S) -> rtc.RemoteParticipant:
        await self.until(lambda: self.agents(), what="an agent to join", within=within)
        [agent] = self.agents()
        return agent

    async def agent_attribute(
        self, name: str, value: str, *, within: float = WAIT_TIMEOUT_S
    ) -> rtc.RemoteParticipant:
        """The (single) agent once its attribute `name` is `value`."""

        def has() -> bool:
            return any(a.attributes.get(name) == value for a in self.agents())

        await self.until(has, what=f"the agent's {name} = {value}", within=within)
        [agent] = [a for a in self.agents() if a.attributes.get(name) == value]
        return agent
