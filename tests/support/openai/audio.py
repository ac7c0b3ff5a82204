"""The double's ears and mouth: speech synthesised with espeak-ng, and an energy-based VAD.

Everything here is PCM16 mono at 24 kHz, the only format the realtime API and the pipeline's
TTS speak in this platform. Without espeak-ng (`apt-get install espeak-ng`) the mouth falls back
to voiced tones — not words, but audio that is clearly not silence — and `SYNTHESIS` says so.
"""

from __future__ import annotations

import functools
import io
import logging
import math
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np
from livekit import rtc

log = logging.getLogger(__name__)

SAMPLE_RATE: Final = 24_000
BYTES_PER_MS: Final = SAMPLE_RATE * 2 // 1000  # PCM16 mono
_ESPEAK: Final = shutil.which("espeak-ng")
SYNTHESIS: Literal["espeak-ng", "tones"] = "espeak-ng" if _ESPEAK else "tones"
# Women's and men's voices sound apart, so a listener (or a test) can tell voices changed.
_HIGHER_VOICES: Final = frozenset({"alloy", "coral", "sage", "shimmer", "marin", "ballad"})


def duration_ms(pcm: bytes) -> float:
    return len(pcm) / BYTES_PER_MS


def silence(ms: float) -> bytes:
    return b"\x00\x00" * int(SAMPLE_RATE * ms / 1000)


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def has_speech(pcm: bytes, threshold: float) -> bool:
    """Any 20 ms of `pcm` loud enough to be speech (long silences around it do not dilute it)."""
    step = BYTES_PER_MS * 20
    return any(rms(pcm[i : i + step]) >= threshold for i in range(0, len(pcm), step))


@functools.lru_cache(maxsize=256)
def speech(text: str, voice: str = "alloy") -> bytes:
    """`text` spoken, as PCM16 mono 24 kHz (cached: scripts repeat their lines)."""
    if not text.strip():
        return b""
    if _ESPEAK is None:
        return _tones(text)
    variant = "en-us+f3" if voice in _HIGHER_VOICES else "en-us+m3"
    with tempfile.TemporaryDirectory(prefix="openai-double-") as folder:
        # Through a file, never argv: a line starting with "-" would be read as an option.
        script, out = Path(folder, "text.txt"), Path(folder, "speech.wav")
        script.write_text(text, encoding="utf-8")
        subprocess.run(
            [_ESPEAK, "-v", variant, "-s", "175", "-f", str(script), "-w", str(out)],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return _to_24k(out.read_bytes())


def _to_24k(wav_bytes: bytes) -> bytes:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    if rate == SAMPLE_RATE:
        return samples.tobytes()
    count = int(len(samples) * SAMPLE_RATE / rate)
    positions = np.linspace(0, len(samples) - 1, count)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.int16).tobytes()


def _tones(text: str) -> bytes:
    """Voiced bursts, one per word: audible, with the pauses a VAD expects between words."""
    log.warning("espeak-ng is missing: the OpenAI double speaks tones instead of words")
    parts: list[bytes] = []
    for index, word in enumerate(text.split()):
        ms = 90 + 45 * len(word)
        t = np.arange(int(SAMPLE_RATE * ms / 1000)) / SAMPLE_RATE
        pitch = 140 + 25 * (index % 4)
        wave_ = sum(np.sin(2 * math.pi * pitch * h * t) / h for h in (1, 2, 3))
        envelope = np.sin(np.pi * t / t[-1]) if t.size > 1 else np.ones_like(t)
        parts.append((wave_ * envelope * 6000).astype(np.int16).tobytes())
        parts.append(silence(60))
    return b"".join(parts)


def frames(pcm: bytes, ms: int = 20) -> list[rtc.AudioFrame]:
    """PCM16 mono 24 kHz as the `ms`-long frames a microphone track delivers."""
    step = BYTES_PER_MS * ms
    return [
        rtc.AudioFrame(pcm[i : i + step], SAMPLE_RATE, 1, len(pcm[i : i + step]) // 2)
        for i in range(0, len(pcm), step)
    ]


def wav(pcm: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """PCM16 mono as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def pcm_of_wav(data: bytes) -> bytes:
    """A WAV file's samples as PCM16 mono 24 kHz."""
    return _to_24k(data)


def mp3(pcm: bytes) -> bytes:
    import av  # livekit-agents' decoder dependency; only the mp3 answers need it

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=SAMPLE_RATE)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            np.frombuffer(pcm, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buffer.getvalue()


@dataclass
class VadEvent:
    kind: Literal["started", "stopped"]
    at_ms: int


class EnergyVad:
    """Server-side voice activity detection on appended audio, by energy alone.

    Speech starts after `min_speech_ms` of 10 ms windows above `threshold` (RMS of PCM16) and
    stops after `silence_ms` below it — measured in audio time, not wall time, so a test that
    pushes audio faster than real time gets the same turns.
    """

    WINDOW_MS: Final = 10

    def __init__(
        self,
        *,
        threshold: float = 500.0,
        silence_ms: int = 500,
        prefix_padding_ms: int = 300,
        min_speech_ms: int = 60,
    ) -> None:
        self.threshold = threshold
        self.silence_ms = silence_ms
        self.prefix_padding_ms = prefix_padding_ms
        self.min_speech_ms = min_speech_ms
        self.speaking = False
        self.position_ms = 0
        self._pending = b""
        self._voiced_ms = 0
        self._quiet_ms = 0

    def push(self, pcm: bytes) -> list[VadEvent]:
        events: list[VadEvent] = []
        data = self._pending + pcm
        step = BYTES_PER_MS * self.WINDOW_MS
        whole = len(data) // step * step
        self._pending = data[whole:]
        for offset in range(0, whole, step):
            voiced = rms(data[offset : offset + step]) >= self.threshold
            self.position_ms += self.WINDOW_MS
            if not self.speaking:
                self._voiced_ms = self._voiced_ms + self.WINDOW_MS if voiced else 0
                if self._voiced_ms >= self.min_speech_ms:
                    self.speaking, self._quiet_ms = True, 0
                    start = self.position_ms - self._voiced_ms - self.prefix_padding_ms
                    events.append(VadEvent("started", max(0, start)))
            else:
                self._quiet_ms = 0 if voiced else self._quiet_ms + self.WINDOW_MS
                if self._quiet_ms >= self.silence_ms:
                    self.speaking, self._voiced_ms = False, 0
                    events.append(VadEvent("stopped", self.position_ms - self._quiet_ms))
        return events

    def clear(self) -> None:
        """The buffer was cleared or committed: a turn in progress is forgotten."""
        self.speaking, self._pending, self._voiced_ms, self._quiet_ms = False, b"", 0, 0
