"""The whole voice loop on real models: a spoken request in, a spoken reply out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from device.config import Config
from device.engines import Engines, load_all
from device.pipeline.audio import frames
from device.pipeline.events import State, Turn
from device.pipeline.loop import strip_wake_phrase
from device.runner import make_loop
from device.synth import espeak_speech, join, noise, piper_speech, silence
from device.wavfile import read_wav, write_wav
from tests.conftest import run_os1

REQUEST = "Hey Jarvis. What is the capital of France?"


@pytest.fixture(scope="module")
def engines() -> Engines:
    return load_all(Config())


@pytest.fixture(scope="module")
def request_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    audio = join(silence(0.5), piper_speech(REQUEST), silence(0.3))
    return write_wav(tmp_path_factory.mktemp("req") / "request.wav", audio)


def test_os1_run_wav_in_wav_out(request_wav: Path, tmp_path: Path) -> None:
    out = tmp_path / "reply.wav"
    r = run_os1("run", "--input", str(request_wav), "--output", str(out), "--json")
    assert r.returncode == 0, r.stderr
    turns = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(turns) == 1
    turn = turns[0]
    assert set(turn) >= {"wake", "transcript", "reply", "timings_ms"}
    assert turn["wake"]
    assert "capital of france" in turn["transcript"].lower()
    assert "jarvis" not in turn["transcript"].lower()
    assert "paris" in turn["reply"].lower()
    timings = turn["timings_ms"]
    for key in ("wake", "end_of_turn", "stt", "llm_first_token", "tts_first_audio", "response_gap"):
        assert key in timings and timings[key] >= 0, key
    # The gap includes the end-of-turn silence window, so it cannot be shorter than it.
    assert timings["response_gap"] >= timings["end_of_turn"]
    reply = read_wav(out)
    words = len(turn["reply"].split())
    assert 0.15 * words < len(reply) / 16000 < 1.0 * words + 1


def test_no_wake_treats_the_recording_as_addressed(engines: Engines) -> None:
    audio = join(silence(0.3), espeak_speech("What is the capital of France?"), silence(1.0))
    turns: list[Turn] = []
    states: list[State] = []
    sink = _Collect()
    loop = make_loop(Config(), engines, sink, turns.append)
    loop.on_state = states.append
    loop.wake = None
    loop.addressed()
    _feed(loop, audio)
    assert len(turns) == 1
    assert "capital" in turns[0].transcript.lower()
    assert states == [State.LISTENING, State.THINKING, State.SPEAKING, State.IDLE]
    assert sink.seconds() > 0.5


def test_speech_without_the_wake_word_gets_no_reply(engines: Engines) -> None:
    audio = join(silence(0.3), piper_speech("I wonder what the weather will be like tomorrow."),
                 noise(1.0, dbfs=-45), silence(1.0))
    turns: list[Turn] = []
    sink = _Collect()
    loop = make_loop(Config(), engines, sink, turns.append)
    _feed(loop, audio)
    assert turns == [] and sink.seconds() == 0
    assert loop.state is State.IDLE


def test_cli_says_when_nothing_woke_it(tmp_path: Path) -> None:
    quiet = write_wav(tmp_path / "quiet.wav", noise(2.0, dbfs=-50))
    r = run_os1("run", "--input", str(quiet), "--output", str(tmp_path / "o.wav"), "--fast")
    assert r.returncode == 1
    assert "no turn" in r.stderr


@pytest.mark.parametrize(
    "heard, expected",
    [
        ("Hey Jarvis, what is the capital of France?", "What is the capital of France?"),
        ("Hey, Travis. What time is it?", "What time is it?"),
        ("Jarvis what time is it", "What time is it"),
        ("What is the capital of France?", "What is the capital of France?"),
    ],
)
def test_wake_phrase_is_stripped_from_the_transcript(heard: str, expected: str) -> None:
    assert strip_wake_phrase(heard, "hey jarvis") == expected


class _Collect:
    """An earpiece that keeps what it is given (the loop's AudioSink protocol)."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, int]] = []

    def play(self, audio: np.ndarray, rate: int) -> None:
        self.parts.append((audio, rate))

    def drain(self) -> None:
        pass

    def seconds(self) -> float:
        return sum(len(a) / r for a, r in self.parts)


def _feed(loop, audio: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    t = 0.0
    for f in frames(audio):
        t += 0.032
        loop.feed(f, t)
        if loop.state in (State.THINKING, State.SPEAKING):
            assert loop.wait_reply(timeout_s=60)
