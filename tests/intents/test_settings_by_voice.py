"""Which words are a settings command (intents/settings.py), and how far one request turns a knob.
Through the whole companion: tests/app/test_owner_voice.py (only the owner's voice) and
tests/app/test_daemon_live.py (applied live and saved by the running daemon)."""

from __future__ import annotations

import pytest

from device.intents.settings import FASTER, LOUDER, MUTE, QUIETER, SLOWER, command


@pytest.mark.parametrize(
    ("said", "what"),
    [
        ("Please mute.", MUTE),
        ("Stop listening.", MUTE),
        ("Could you stop listening for a while?", MUTE),
        ("Go to sleep.", MUTE),
        ("Speak up, please.", LOUDER),
        ("Could you talk a bit louder?", LOUDER),
        ("Okay, volume up.", LOUDER),
        ("Turn it down a little.", QUIETER),
        ("Can you speak more softly please", QUIETER),
        ("Talk more slowly.", SLOWER),
        ("Slow down.", SLOWER),
        ("Talk faster, thanks.", FASTER),
    ],
)
def test_a_request_that_is_the_command_is_taken(said: str, what: object) -> None:
    assert command(said) is what


@pytest.mark.parametrize(
    "said",
    [
        "My neighbours are louder than ever.",
        "I need to slow down.",
        "What does mute mean?",
        "Speak up for yourself at work.",
        "Start listening to more music.",
        "I want to go to sleep early tonight.",
        "The kids should be quieter.",
    ],
)
def test_a_sentence_that_mentions_one_is_left_to_the_conversation(said: str) -> None:
    assert command(said) is None


def test_a_knob_turns_a_step_and_stops_at_its_limit() -> None:
    assert LOUDER.turn(1.0) == 1.25
    assert LOUDER.turn(1.9) == 2.0
    assert LOUDER.turn(2.0) is None
    assert QUIETER.turn(0.25) is None
    assert SLOWER.turn(1.0) == 1.15
    assert FASTER.turn(0.7) is None
    assert FASTER.turn(0.6) is None  # set lower by hand: "faster" never slows it down
