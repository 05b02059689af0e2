"""The board's own LLM and voice raising mid-reply, in the whole loop on the real models: a fault is
injected into the real engine (it raises where onnxruntime or Piper would), the rest is real. The owner
hears what was said, then a line that says what happened, and the next request is answered."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device.app.assemble import make_loop
from device.app.engines import Engines, load_all
from device.config.schema import Config
from device.drivers.audio_files import FileEarpiece
from device.pipeline.events import State, Turn
from device.pipeline.loop import VoiceLoop
from device.pipeline.worker import LOST_THREAD, LOST_WORDS

pytestmark = pytest.mark.models

STORY = "Tell me a long story about a lighthouse keeper and the sea."


@pytest.fixture(scope="module")
def engines() -> Engines:
    return load_all(Config(), use_wake=False)


class RaisingDialogue:
    """The real dialogue model, raising RuntimeError (as onnxruntime does) after `after` pieces of
    its next stream; every other call goes to the real one."""

    def __init__(self, real: Any, after: int):
        self.real, self.after = real, after

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        for n, piece in enumerate(self.real.stream(*args, **kwargs)):
            if n == self.after:
                self.after = -1  # once: the next turn is answered
                raise RuntimeError("onnxruntime_genai: Non-zero status code returned (injected)")
            yield piece

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class RaisingVoice:
    """The real Piper voice, raising on its `nth` sentence (counted from 1) `times` times in a row."""

    def __init__(self, real: Any, nth: int, times: int):
        self.real, self.nth, self.times, self.calls = real, nth, times, 0
        self.failed_on: list[str] = []
        """The text of each call that raised."""
        self.said: list[str] = []
        """The text of each call that went through."""

    def synthesize(self, text: str, *args: Any, **kwargs: Any) -> Iterator[np.ndarray]:
        self.calls += 1
        if self.calls >= self.nth and self.times > 0:
            self.times -= 1
            self.failed_on.append(text)
            raise RuntimeError("piper: onnxruntime failed (injected)")
        self.said.append(text)
        yield from self.real.synthesize(text, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def loop_on(engines: Engines, out: Path, **swap: Any) -> tuple[VoiceLoop, list[Turn]]:
    turns: list[Turn] = []
    loop = make_loop(Config(), Engines(**{**engines.__dict__, **swap}), FileEarpiece(out), turns.append)
    return loop, turns


def ask(loop: VoiceLoop, text: str) -> Turn:
    turn = loop.begin_typed(text, speak=True)
    assert turn is not None and loop.wait_reply(120), "the reply never ended"
    assert loop.state is not State.SPEAKING
    return turn


def test_the_llm_raising_mid_reply_keeps_what_was_said_and_says_it_lost_its_thread(
    engines: Engines, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loop, _ = loop_on(engines, tmp_path / "out.wav", dialogue=RaisingDialogue(engines.dialogue, after=12))
    with caplog.at_level(logging.ERROR, "os1.reply"):
        turn = ask(loop, STORY)
    assert turn.reply.endswith(LOST_THREAD), turn.reply
    assert len(turn.reply) > len(LOST_THREAD) + 10  # the first words were said before it
    assert [r.getMessage() for r in caplog.records] == [
        "the LLM failed mid-reply (RuntimeError: onnxruntime_genai: Non-zero status code returned "
        "(injected)); the reply ends there"
    ]
    assert [m.content for m in loop.history if m.role == "assistant"][-1] == turn.reply
    print(f"{STORY!r} -> {turn.reply!r}")
    after = ask(loop, "What is the capital of France?")  # the same model, working again
    assert after.answered_by == "llm" and after.reply and LOST_THREAD not in after.reply, after.reply


def test_the_llm_raising_before_any_word_asks_again(engines: Engines, tmp_path: Path) -> None:
    loop, _ = loop_on(engines, tmp_path / "out.wav", dialogue=RaisingDialogue(engines.dialogue, after=0))
    turn = ask(loop, STORY)
    assert turn.reply == LOST_WORDS
    assert turn.marks.get("first_audio")  # said aloud, not only written


def test_the_voice_failing_once_says_the_sentence_again(engines: Engines, tmp_path: Path) -> None:
    voice = RaisingVoice(engines.tts, nth=2, times=1)
    loop, _ = loop_on(engines, tmp_path / "out.wav", tts=voice)
    whole = ask(loop, "Write a letter to Anna about the rain.").reply
    assert whole.startswith("Here's a draft") and whole.count("Dear Anna") == 1, whole
    assert len(voice.failed_on) == 1  # it did fail once ...
    assert voice.said.count(voice.failed_on[0]) == 1  # ... and that sentence was said on the second go
    assert voice.said[-1] != voice.failed_on[0]  # and the reply went on after it


def test_the_voice_failing_for_good_ends_the_reply_and_the_loop_goes_on(
    engines: Engines, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    voice = RaisingVoice(engines.tts, nth=2, times=2)
    loop, turns = loop_on(engines, tmp_path / "out.wav", tts=voice)
    with caplog.at_level(logging.WARNING, "os1.reply"):
        cut = ask(loop, "Write a letter to Anna about the rain.")
    said = [m.content for m in loop.history if m.role == "assistant"]
    assert said and said[-1] == cut.reply and cut.reply.startswith("Here's a draft")
    logged = [r.getMessage() for r in caplog.records]
    assert logged[0].startswith("the voice failed (RuntimeError: piper: onnxruntime failed (injected))")
    assert logged[-1].startswith("the voice failed on ") and logged[-1].endswith("; the reply ends there")
    failed_on = logged[-1].split("'")[1]
    assert failed_on not in cut.reply  # the sentence was not said, and nothing after it
    assert not any(r.exc_info for r in caplog.records)  # one line each, no traceback
    assert ask(loop, "What time is it?").reply.startswith("It's")
    assert len(turns) == 2
