"""The double's speech and VAD: what the other tests rely on when they say "speech"."""

from __future__ import annotations

import io
import wave

import av
import numpy as np
import pytest

from tests.support.missing import missing
from tests.support.openai import audio


def test_espeak_speech_is_24k_and_clearly_not_silence() -> None:
    if audio.SYNTHESIS != "espeak-ng":
        missing("espeak-ng", "apt-get install espeak-ng (.ci/run does); the double speaks tones")
    pcm = audio.speech("Your appointment is at ten.")
    assert 1000 < audio.duration_ms(pcm) < 5000 and audio.rms(pcm) > 1000


def test_without_espeak_the_double_speaks_tones_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(audio, "_ESPEAK", None)
    audio.speech.cache_clear()
    try:
        pcm = audio.speech("three short words")
    finally:
        audio.speech.cache_clear()
    assert audio.rms(pcm) > 1000 and audio.duration_ms(pcm) > 500
    assert "espeak-ng is missing" in caplog.text
    # Words are bursts with pauses between them: a VAD hears one turn, not three.
    vad = audio.EnergyVad()
    events = vad.push(audio.silence(300) + pcm + audio.silence(600))
    assert [e.kind for e in events] == ["started", "stopped"]


def test_the_vad_takes_turns_in_audio_time_with_prefix_padding() -> None:
    speech = audio.speech("Book me at ten please")
    vad = audio.EnergyVad(silence_ms=500, prefix_padding_ms=300)
    # Pushed in odd-sized pieces, faster than real time: the turn is the same.
    stream = audio.silence(1000) + speech + audio.silence(800)
    events = [e for i in range(0, len(stream), 3333) for e in vad.push(stream[i : i + 3333])]
    started, stopped = events
    assert (started.kind, stopped.kind) == ("started", "stopped")
    assert 600 <= started.at_ms <= 1000  # speech began after 1 s, less 300 ms of padding
    assert started.at_ms < stopped.at_ms <= 1000 + audio.duration_ms(speech)
    # A 20 ms click is not speech.
    click = np.full(480, 20_000, dtype=np.int16).tobytes()
    assert vad.push(click + audio.silence(1000)) == []


def test_wav_and_mp3_encodings_decode_back_to_the_speech() -> None:
    pcm = audio.speech("Ten o'clock")
    with wave.open(io.BytesIO(audio.wav(pcm))) as decoded:
        assert (decoded.getframerate(), decoded.getnchannels()) == (24_000, 1)
    assert audio.pcm_of_wav(audio.wav(pcm)) == pcm
    with av.open(io.BytesIO(audio.mp3(pcm))) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.rate) == (
            "mp3float",
            24_000,
        ) or stream.rate == 24_000


def test_speech_is_found_however_long_the_silence_around_it() -> None:
    speech = audio.speech("Yes")
    assert audio.has_speech(audio.silence(120_000) + speech + audio.silence(1000), 500)
    assert not audio.has_speech(audio.silence(120_000), 500)
    # The whole buffer's energy would call this silence; the turn still has a word in it.
    assert audio.rms(audio.silence(600_000) + speech) < 500
