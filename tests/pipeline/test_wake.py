"""Wake-word engines on real synthesized speech: real models, no mocks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from device.evals.speech import espeak_speech, noise, piper_speech, silence
from device.evals.wake import builtin_models, run_clip
from device.pipeline.audio import SAMPLE_RATE, frames
from device.pipeline.stages import WakeWord
from device.pipeline.wake.base import WakeModelError
from device.pipeline.wake.keyphrase import KeyphraseWakeWord
from device.pipeline.wake.micro import MicroWakeWord
from device.pipeline.wake.openwakeword import OpenWakeWord

pytestmark = pytest.mark.models

LEAD_S = 1.0
MODELS = builtin_models()


def _trim(audio: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > 200)
    return audio[loud[0] : loud[-1] + 1]


def make_oww() -> WakeWord:
    return OpenWakeWord(MODELS["oww-hey_jarvis"], MODELS["oww-melspectrogram"], MODELS["oww-embedding"])


def make_micro() -> WakeWord:
    return MicroWakeWord(MODELS["mww-hey_jarvis"])


def make_kws() -> WakeWord:
    # Two syllables fewer than "hey samantha", so it needs a lower threshold than the default 1e-10
    # (at 1e-10 it missed 2 of 12 Piper renderings; at 1e-15 to 1e-25, none).
    return KeyphraseWakeWord("hey jarvis", kws_threshold=1e-20)


ENGINES = {"openwakeword": make_oww, "microwakeword": make_micro, "pocketsphinx": make_kws}


feed = run_clip  # reset, then frame by frame, resetting after each wake as the pipeline does


def spoken(wake: np.ndarray, request: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
    """(clip, start of the wake phrase, end of the wake phrase) with silence around it."""
    parts = [silence(LEAD_S), wake]
    if request is not None:
        parts += [silence(0.25), request]
    parts.append(silence(1.0))
    return np.concatenate(parts), LEAD_S, LEAD_S + len(wake) / SAMPLE_RATE


@pytest.fixture(scope="module")
def jarvis() -> tuple[np.ndarray, float, float]:
    return spoken(_trim(piper_speech("Hey Jarvis.")), _trim(piper_speech("What time is it?")))


@pytest.fixture(scope="module")
def negative_speech() -> list[np.ndarray]:
    texts = [
        "I'd like to check the weather.",
        "Remind me to call my sister on Sunday.",
        "Harvest season is finally here.",
    ]
    clips = [spoken(_trim(piper_speech(t)))[0] for t in texts]
    clips += [spoken(_trim(espeak_speech(t, "en-gb-x-rp", 170, 55)))[0] for t in texts]
    return clips


@pytest.mark.parametrize("kind", ENGINES)
def test_fires_once_near_the_end_of_a_piper_hey_jarvis(kind, jarvis):
    audio, start, end = jarvis
    fired = feed(ENGINES[kind](), audio)
    assert len(fired) == 1, f"{kind}: expected one wake, got {fired}"
    t, score = fired[0]
    assert start + 0.3 < t <= end + 1.5, f"{kind}: woke at {t:.2f} s; phrase at {start:.2f}-{end:.2f} s"
    assert score > 0


@pytest.mark.parametrize("kind", ENGINES)
def test_any_frame_length_works(kind, jarvis):
    audio, _, end = jarvis
    for size in (160, 1000, 4096):
        fired = feed(ENGINES[kind](), audio, size)
        assert len(fired) == 1 and fired[0][0] <= end + 1.5, f"{kind}, {size}-sample frames: {fired}"


@pytest.mark.parametrize("kind", ENGINES)
def test_reset_forgets_a_phrase_in_progress(kind, jarvis):
    audio, _, _ = jarvis
    chunks = frames(audio)
    engine = ENGINES[kind]()
    first = next(i for i, f in enumerate(chunks) if engine.process(f) is not None)
    engine = ENGINES[kind]()
    for f in chunks[:first]:
        assert engine.process(f) is None
    engine.reset()  # just before the frame that would have fired
    assert [f for f in chunks[first:] if engine.process(f) is not None] == []


@pytest.mark.parametrize("kind", ENGINES)
def test_quiet_on_other_speech(kind, negative_speech):
    engine = ENGINES[kind]()
    for i, clip in enumerate(negative_speech):
        engine.reset()
        assert feed(engine, clip) == [], f"{kind} woke on negative clip {i}"


@pytest.mark.parametrize("kind", ENGINES)
def test_quiet_on_noise_and_silence(kind):
    engine = ENGINES[kind]()
    audio = np.concatenate([noise(20, -30.0, seed=1), silence(5), noise(10, -20.0, seed=2)])
    assert feed(engine, audio) == []


def test_keyphrase_spots_a_custom_phrase():
    wake = _trim(piper_speech("Hey Samantha."))
    audio, start, end = spoken(wake, _trim(piper_speech("What time is it?")))
    engine = KeyphraseWakeWord("Hey  Samantha")
    assert engine.phrase == "hey samantha"
    fired = feed(engine, audio)
    assert len(fired) == 1 and start + 0.3 < fired[0][0] <= end + 1.5, fired
    for text in ("I'd like to check the weather.", "Hey Jarvis. What time is it?"):
        engine.reset()
        assert feed(engine, spoken(_trim(piper_speech(text)))[0]) == [], text


# --- broken or missing models: one clear line, never a crash ------------------------------------


def _one_line_error(make, path: Path) -> str:
    with pytest.raises(WakeModelError) as err:
        make()
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg, msg
    assert err.value.__cause__ is None and (err.value.__context__ is None or err.value.__suppress_context__)
    return msg


def test_missing_models(tmp_path):
    gone = tmp_path / "nope.tflite"
    assert "not found" in _one_line_error(lambda: MicroWakeWord(gone), gone)
    gone = tmp_path / "nope.onnx"
    m = MODELS
    assert "not found" in _one_line_error(
        lambda: OpenWakeWord(gone, m["oww-melspectrogram"], m["oww-embedding"]), gone
    )
    assert "not found" in _one_line_error(
        lambda: OpenWakeWord(m["oww-hey_jarvis"], gone, m["oww-embedding"]), gone
    )
    _one_line_error(lambda: KeyphraseWakeWord("hey jarvis", model_dir=tmp_path), tmp_path)


def test_corrupt_models(tmp_path):
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"this is not a model" * 50)
    _one_line_error(lambda: MicroWakeWord(garbage), garbage)

    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(MODELS["mww-hey_jarvis"].read_bytes()[:5000])
    assert "corrupt" in _one_line_error(lambda: MicroWakeWord(truncated), truncated)

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(MODELS["oww-hey_jarvis"].read_bytes()[:3000])
    m = MODELS
    _one_line_error(lambda: OpenWakeWord(broken, m["oww-melspectrogram"], m["oww-embedding"]), broken)

    empty = tmp_path / "empty.onnx"
    empty.touch()
    msg = _one_line_error(lambda: OpenWakeWord(m["oww-hey_jarvis"], m["oww-melspectrogram"], empty), empty)
    assert "empty" in msg


def test_corrupt_pocketsphinx_model(tmp_path):
    import pocketsphinx

    hmm = tmp_path / "en-us"
    shutil.copytree(pocketsphinx.get_model_path("en-us/en-us"), hmm)
    means = (hmm / "means").read_bytes()
    (hmm / "means").write_bytes(means[: len(means) // 2])  # pocketsphinx would exit() on this
    assert "corrupt" in _one_line_error(lambda: KeyphraseWakeWord("hey jarvis", model_dir=hmm), hmm)


def test_wrong_kind_of_model():
    m = MODELS
    wrong = m["oww-melspectrogram"]  # a real ONNX model, but not a wake-word classifier
    assert "not an openWakeWord classifier" in _one_line_error(
        lambda: OpenWakeWord(wrong, m["oww-melspectrogram"], m["oww-embedding"]), wrong
    )
    wrong = m["oww-hey_jarvis"].with_suffix(".tflite")  # a real TFLite model, but float, not microWakeWord
    assert wrong.is_file()
    _one_line_error(lambda: MicroWakeWord(wrong), wrong)


def test_phrase_outside_the_dictionary():
    with pytest.raises(WakeModelError, match="zorblax"):
        KeyphraseWakeWord("hey zorblax")
