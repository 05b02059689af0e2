"""The Smart Turn end-of-turn model on real synthesized speech, and the loop ending a finished request
after a short pause with it, without cutting off a speaker who pauses mid-sentence."""

from __future__ import annotations

import importlib.util
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from device.app.assemble import feed_frames, make_loop
from device.app.engines import Engines, load_all
from device.config.schema import Config
from device.drivers.audio_files import FileEarpiece
from device.evals.speech import espeak_speech, join, piper_speech, piper_split, silence
from device.intents.router import IntentRouter
from device.models.catalog import _module_dir, resolve, verify
from device.pipeline.audio import FRAME_MS, frames
from device.pipeline.events import Turn
from device.pipeline.turn import SmartTurn, features, last_window

pytestmark = pytest.mark.models

QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def model() -> SmartTurn:
    return SmartTurn(resolve("smart-turn-v3"))


def _pipecat_features() -> ModuleType:
    """pipecat's own numpy feature code, loaded by file path (importing pipecat pulls in its deps)."""
    base = _module_dir("pipecat")
    assert base is not None, "pip install --no-deps pipecat-ai==1.14.0"
    found = importlib.util.spec_from_file_location(
        "pipecat_whisper_features", base / "audio/turn/smart_turn/_whisper_features.py"
    )
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module


def test_model_is_catalogued_with_its_hash() -> None:
    assert resolve("smart-turn-v3").name == "smart-turn-v3.2-cpu.onnx"
    assert verify("smart-turn-v3") == "SHA-256 OK"


def test_features_match_pipecats(model: SmartTurn) -> None:
    reference = _pipecat_features()
    short = join(silence(0.3), piper_speech(QUESTION), silence(0.2))  # padded at the start
    long = join(*[espeak_speech("Tell me a long story about the sea and a lighthouse.")] * 4)  # > 8 s
    assert len(long) > 8 * 16000
    for audio in (short, long):
        ours = features(audio)
        theirs = reference.compute_whisper_log_mel_features(last_window(audio), do_normalize=True)
        assert ours.shape == (80, 800) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    # The window keeps the end of a long utterance and pads a short one at the start.
    assert np.array_equal(last_window(long), long[-8 * 16000 :].astype(np.float32) / 32768.0)
    assert not last_window(short)[: 8 * 16000 - len(short)].any()


def test_finished_question_scores_high_and_unfinished_speech_lower(model: SmartTurn) -> None:
    tail = silence(0.2)  # the loop asks after ~200 ms of silence
    for voice in (piper_speech(QUESTION), espeak_speech(QUESTION)):
        assert model.probability(join(silence(0.3), voice, tail)) > 0.9
    assert 0 < model.last_ms < 5000
    # Said in one breath and stopped at a word boundary: the words carry unfinished intonation.
    before, _ = piper_split(QUESTION, 5)  # "What is the capital of"
    full = model.probability(join(silence(0.3), piper_speech(QUESTION), tail))
    assert model.probability(join(silence(0.3), before, tail)) < full
    hesitating, _ = piper_split("Tell me, um, something nice about the sea.", 3)
    assert model.probability(join(silence(0.3), hesitating, tail)) < 0.5


@pytest.fixture(scope="module")
def engines() -> Engines:
    return load_all(Config.model_validate({"vad": {"smart_turn_ms": 200}}))


def _turns(engines: Engines, audio: np.ndarray, out: Path, smart_turn_ms: int) -> list[Turn]:
    """One request through the real loop, fed faster than real time but stamped with the recording's
    own time (so the end-of-turn delay is the one a live mic would see); the reply is a fixed sentence
    from the intent hook so the LLM does not slow the test down."""
    cfg = Config()
    turns: list[Turn] = []
    loop = make_loop(cfg, engines, FileEarpiece(out, realtime=False), turns.append)
    loop.reconfigure(intents=IntentRouter([lambda _text: "Okay."]))
    # The end-of-turn rule alone (early replies: tests/pipeline/test_loop.py).
    loop.update_settings(replace(loop.settings, smart_turn_ms=smart_turn_ms, early_reply_ms=0, follow_up_s=0))
    t0 = time.monotonic()
    loop.addressed(t0)
    stamped = ((f, t0 + (i + 1) * FRAME_MS / 1000) for i, f in enumerate(frames(join(audio, silence(1.5)))))
    feed_frames(loop, stamped, threading.Event(), wait_for_reply=True)
    loop.wait_reply(30)
    return turns


def test_loop_ends_a_finished_request_sooner(engines: Engines, tmp_path: Path) -> None:
    assert engines.turn is not None
    request = join(silence(0.4), piper_speech(QUESTION))
    off = _turns(engines, request, tmp_path / "off.wav", 0)
    on = _turns(engines, request, tmp_path / "on.wav", 200)
    assert len(off) == len(on) == 1
    assert "smart_turn" not in off[0].timings_ms
    assert off[0].timings_ms["end_of_turn"] >= 550
    assert on[0].stats["smart_turn_p"] > 0.5 and on[0].timings_ms["smart_turn"] > 0
    assert on[0].timings_ms["end_of_turn"] < off[0].timings_ms["end_of_turn"] - 250
    assert "capital of france" in on[0].transcript.lower()


def test_loop_waits_through_a_mid_sentence_pause(engines: Engines, tmp_path: Path) -> None:
    # A pause the model hears as unfinished (it does not always: see `python -m device.evals.end_of_turn`).
    before, after = piper_split("How many legs does a spider have?", 3)
    request = join(silence(0.4), before, silence(0.45), after)
    turns = _turns(engines, request, tmp_path / "pause.wav", 200)
    assert len(turns) == 1, [t.transcript for t in turns]
    assert "spider" in turns[0].transcript.lower()
    # The model was asked in the pause, said "not finished", and asked again at the end.
    assert turns[0].stats["smart_turn_checks"] >= 2
