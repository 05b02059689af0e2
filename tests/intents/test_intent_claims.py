"""`claims(text)`: whether an intent might take the words, asked without acting. The voice loop
starts an early reply before it is sure the owner has finished, and runs a claimed command only
once the turn has certainly ended, so it must never say no to words a handler would act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.intents.assemble import build_intents
from device.intents.camera import CameraIntent
from device.intents.router import Claimed, IntentRouter
from device.memory.intent import claims as memory_claims

COMMANDS = [
    "What time is it?",
    "What's the date today?",
    "Remind me to call my sister at six.",
    "Remind me tomorrow at nine to water the plants.",
    "Snooze it.",
    "What are my reminders?",
    "Write a letter to Anna about the garden.",
    "Are you a real person?",
    "I want to end my life.",
]
CHAT = [
    "What is the capital of France?",
    "Tell me a story about a lighthouse keeper.",
    "Why is the sky blue?",
    "I had a great time at the beach.",
    "How far away is the moon?",
]


@pytest.fixture
def router(tmp_path: Path) -> IntentRouter:
    def letter_writer(system: str, user: str) -> str:
        return "Dear Anna, the garden is lovely this spring. I planted roses by the gate."

    intents = build_intents(tmp_path, letter_writer, helpline="116 123")
    intents.scheduler.stop()
    return intents.router


@pytest.mark.parametrize("text", COMMANDS)
def test_every_command_a_handler_answers_is_claimed_first(router: IntentRouter, text: str) -> None:
    claimed = router.claims(text)
    assert router(text) is not None, text  # the handlers do take it ...
    assert claimed, text  # ... so the loop must have been told to wait


@pytest.mark.parametrize("text", CHAT)
def test_conversation_is_not_claimed_and_gets_the_llm(router: IntentRouter, text: str) -> None:
    assert not router.claims(text)
    assert router(text) is None


def test_an_open_letter_or_a_pending_question_claims_the_next_words(router: IntentRouter) -> None:
    assert router("Remind me to call the dentist.") is not None  # "When should I remind you?"
    assert router.claims("Tomorrow.")  # the answer to that question is the reminder's
    router("Tomorrow at ten.")
    router("Write a letter to Anna about the garden.")
    assert router.claims("Make it warmer.")  # an edit, while the letter is open


def test_memory_and_camera_commands_are_claimed() -> None:
    assert memory_claims("Forget what I told you about Anna.")
    assert memory_claims("What do you remember about me?")
    assert memory_claims("Remember that my sister lives in Paris.")
    assert not memory_claims("My sister lives in Paris.")  # mined after the turn, not a command
    camera = CameraIntent(capture=lambda: (_ for _ in ()).throw(RuntimeError("no camera")))
    assert camera.claims("Read this.") and camera.claims("What am I looking at?")
    assert not camera.claims("What is the capital of France?")


def test_a_handler_that_cannot_say_is_taken_to_claim_everything() -> None:
    assert IntentRouter([lambda text: None]).claims("What is the capital of France?")
    assert not IntentRouter([Claimed(lambda text: None, lambda text: False)]).claims("Hello.")
    assert not IntentRouter([Claimed(lambda text: None, lambda text: False)]).claims("  ")
