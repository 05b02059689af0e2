"""The owner's mood steers the reply: the real mood reader (MiniLM) on the owner's words."""

from __future__ import annotations

import re

import pytest

from device.persona.mood import MoodReader
from device.persona.persona import Persona
from device.persona.steer import Steering
from device.persona.tone import Tone, TonedTTS

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def steering() -> Steering:
    return Steering(MoodReader.load(), TonedTTS(None, Persona()))


def _says(patterns: tuple[str, ...], text: str) -> bool:
    return any(re.search(p, text, re.I) for p in patterns)


def test_bad_news_opens_with_sorrow_and_cheer_is_forbidden(steering: Steering) -> None:
    steer = steering("I had a rough day at work today.")
    assert steer is not None and steer.mood in ("sad", "anxious")
    assert re.search(r"sorry|hard|stressful", steer.opening, re.I)
    assert _says(steer.avoid, "Awesome! I'm glad to hear that you're enjoying your day so far.")
    assert not _says(steer.avoid, steer.opening) and not _says(steer.avoid, steer.fallback)
    assert steering.voice is not None and steering.voice.mood_tone in (Tone.SAD, Tone.CALM)


def test_good_news_gets_warmth_and_no_condolences(steering: Steering) -> None:
    steer = steering("I got the job!")
    assert steer is not None and steer.mood == "happy"
    assert _says(steer.avoid, "I'm sorry for your loss.") and not _says(steer.avoid, steer.opening)
    assert steering.voice is not None and steering.voice.mood_tone is Tone.EXCITED


def test_anger_gets_calm(steering: Steering) -> None:
    steer = steering("I'm furious, someone stole my bike from outside the shop.")
    assert steer is not None and steer.mood == "angry"
    assert (
        _says(steer.avoid, "Calm down!")
        and "frustrat" in steer.opening + steer.fallback
        or "upset" in (steer.opening + steer.fallback)
    )


def test_a_plain_request_is_not_steered(steering: Steering) -> None:
    assert steering("What's the capital of France?") is None
    assert steering.voice is not None and steering.voice.mood_tone is None
