"""Piper and Silero on real audio."""

from __future__ import annotations

import numpy as np
import pytest

from device.evals.speech import join, noise, piper_speech, silence
from device.models.catalog import resolve, resolve_piper_voice
from device.pipeline.audio import SAMPLE_RATE, frames, rms_dbfs, trim_leading_quiet
from device.pipeline.end_of_turn import EndOfTurn
from device.pipeline.tts import PiperTTS, Prosody
from device.pipeline.vad import SileroVad, VadModelError

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def tts() -> PiperTTS:
    return PiperTTS(*resolve_piper_voice("en_US-joe-medium"))


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad(resolve("silero-vad"))


def test_tts_duration_is_plausible(tts: PiperTTS) -> None:
    text = "The capital of France is Paris, a city of about two million people."
    chunks = list(tts.synthesize(text))
    seconds = sum(len(c) for c in chunks) / tts.sample_rate
    words = len(text.split())
    assert 1.5 < words / seconds < 4.5  # people speak about 2.5 words a second
    assert tts.sample_rate == 22050


def test_tts_yields_one_chunk_per_sentence(tts: PiperTTS) -> None:
    assert len(list(tts.synthesize("Hello there. How are you today? I am fine."))) == 3
    assert list(tts.synthesize("   ")) == []


def test_a_replys_first_sound_loses_the_voices_lead_in(tts: PiperTTS) -> None:
    """Piper starts "Tell me a story" with ~160 ms of near-silence; the loop trims it from a reply's
    first chunk so the first sound comes sooner, keeping 10 ms and every loud sample. Piper's noise
    is off here: with it the lead-in varies from ~20 to ~170 ms from one synthesis to the next."""
    audio = np.concatenate(
        list(tts.synthesize("Tell me a story.", Prosody(noise_scale=0.0, noise_w_scale=0.0)))
    )
    trimmed = trim_leading_quiet(audio, tts.sample_rate)
    cut_ms = 1000 * (len(audio) - len(trimmed)) / tts.sample_rate
    assert cut_ms > 50, cut_ms
    assert np.array_equal(trimmed, audio[-len(trimmed) :])  # only the start is cut
    assert rms_dbfs(audio[: len(audio) - len(trimmed)]) < -45  # and it was quiet
    assert len(trim_leading_quiet(np.zeros(2205, np.int16), tts.sample_rate)) == 2205  # silence stays


def test_vad_tells_speech_from_silence_and_noise(vad: SileroVad) -> None:
    speech = piper_speech("This is a test of the voice activity detector.")
    vad.reset()
    p_speech = [vad.probability(f) for f in frames(speech)]
    vad.reset()
    p_noise = [vad.probability(f) for f in frames(noise(2.0, dbfs=-35))]
    assert np.mean(np.array(p_speech) > 0.5) > 0.5
    assert max(p_noise) < 0.5


def test_end_of_turn_waits_for_the_silence_window(vad: SileroVad) -> None:
    audio = join(silence(0.5), piper_speech("What is the capital of France?"), silence(1.5))
    eot = EndOfTurn(silence_ms=600)
    vad.reset()
    ended_at = next(i for i, f in enumerate(frames(audio)) if eot.update(vad.probability(f)))
    speech_end = (len(audio) - int(1.5 * SAMPLE_RATE)) / SAMPLE_RATE
    ended_s = (ended_at + 1) * 512 / SAMPLE_RATE
    assert 0.5 <= ended_s - speech_end <= 0.9


def test_missing_vad_model_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(VadModelError, match="pip install"):
        SileroVad(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(VadModelError, match="unreadable"):
        SileroVad(bad)
