"""The router, the clock and the care guardrails: exact answers before the LLM, and only when meant."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from device.intents.care import CareIntent, ConversationNudge, is_crisis
from device.intents.clock import ClockIntent, system_now
from device.intents.router import IntentRouter

LONDON = ZoneInfo("Europe/London")


# ---- router ---------------------------------------------------------------------------------------


def test_first_answer_wins_and_a_failing_handler_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def broken(text: str) -> str | None:
        calls.append("broken")
        raise RuntimeError("boom")

    def silent(text: str) -> str | None:
        calls.append("silent")
        return None

    def answers(text: str) -> str | None:
        calls.append("answers")
        return "first"

    def never(text: str) -> str | None:
        calls.append("never")
        return "second"

    router = IntentRouter([broken, silent, answers, never])
    with caplog.at_level(logging.ERROR, logger="os1.intents"):
        assert router("hello") == "first"
    assert calls == ["broken", "silent", "answers"]
    assert "broken" in caplog.text and "boom" in caplog.text
    assert IntentRouter([silent])("hello") is None
    assert IntentRouter([answers])("   ") is None  # nothing said: nothing to route


# ---- clock ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "asked",
    ["What time is it?", "what's the time", "Hey, what time is it now?", "Can you tell me what time it is?"],
)
def test_time(asked: str) -> None:
    clock = ClockIntent(lambda: datetime(2026, 11, 22, 21, 41, tzinfo=LONDON))
    assert clock(asked) == "It's 9:41 in the evening."


@pytest.mark.parametrize(
    ("hour", "minute", "said"),
    [
        (9, 0, "It's 9 o'clock in the morning."),
        (12, 0, "It's noon."),
        (0, 0, "It's midnight."),
        (14, 5, "It's 2:05 in the afternoon."),
        (23, 30, "It's 11:30 at night."),
    ],
)
def test_time_is_spoken_naturally(hour: int, minute: int, said: str) -> None:
    assert ClockIntent(lambda: datetime(2026, 1, 1, hour, minute, tzinfo=LONDON))("what time is it") == said


@pytest.mark.parametrize(
    "asked", ["What's the date?", "What day is it?", "what day is it today", "what's the date today"]
)
def test_date(asked: str) -> None:
    clock = ClockIntent(lambda: datetime(2026, 11, 22, 9, 0, tzinfo=LONDON))
    assert clock(asked) == "It's Sunday, the 22nd of November."


@pytest.mark.parametrize(
    "said",
    [
        "I had a great time",
        "the date went well",
        "what time should I leave for the station",
        "it's about time",
        "what a day it is",
        "tell me about the time you went to Paris",
    ],
)
def test_clock_stays_out_of_conversation(said: str) -> None:
    assert ClockIntent(lambda: datetime(2026, 11, 22, 9, 0, tzinfo=LONDON))(said) is None


def test_system_clock_is_in_a_real_zone() -> None:
    now = system_now()
    assert now.tzinfo is not None and now.utcoffset() is not None
    assert abs((now - datetime.now().astimezone()).total_seconds()) < 5


# ---- care -----------------------------------------------------------------------------------------

CRISIS = [
    "I want to kill myself",
    "I don't want to be here anymore",
    "I'm thinking of ending it",
    "I want to hurt myself",
    "What's the point of living?",
    "I feel like I can't go on anymore",
    "Sometimes I wish I was dead",
    "I've been having suicidal thoughts",
    "Everyone would be better off without me",
    "I just want to die",
    "I keep thinking about ending my life",
    "I've been cutting myself again",
    "There's no reason to live",
    "I want to end it all",
    "I don't want to wake up tomorrow",
    "Nobody would miss me",
]
FIGURES_OF_SPEECH = [
    "This traffic is killing me",
    "I killed it at the presentation",
    "Kill the lights",
    "I'm dying to see that film",
    "My feet are killing me",
    "I could kill for a coffee",
    "The suspense is killing me",
    "I'm going to end it with my boyfriend",
    "I want to dye my hair",
    "I want to die my hair blue",
    "I nearly died laughing",
    "I hurt my back lifting boxes",
    "What's the point of living in London if you never go out?",
    "I don't want to be here when he arrives",
    "I don't want to live in the city anymore",
    "Let's end the call",
    "The battery died",
    "I'd die for a pizza",
]


@pytest.mark.parametrize("said", CRISIS)
def test_crisis_gets_the_helpline(said: str) -> None:
    reply = CareIntent("Samaritans on 116 123")(said)
    assert reply is not None and "Samaritans on 116 123" in reply
    assert "emergency" in reply


@pytest.mark.parametrize("said", FIGURES_OF_SPEECH)
def test_figures_of_speech_pass_through(said: str) -> None:
    assert not is_crisis(said)
    assert CareIntent("Samaritans on 116 123")(said) is None


def test_crisis_wins_in_the_router_over_everything_after_it() -> None:
    router = IntentRouter([CareIntent("Lifeline on 13 11 14"), lambda text: "the LLM would have said this"])
    assert "Lifeline on 13 11 14" in (router("honestly I don't want to be here anymore") or "")
    assert router("this traffic is killing me") == "the LLM would have said this"


@pytest.mark.parametrize(
    "asked",
    [
        "Are you human?",
        "Are you a real person?",
        "Am I talking to a robot?",
        "Are you real?",
        "Are you conscious?",
        "Are you alive?",
        "Do you have feelings?",
        "Can you feel anything?",
    ],
)
def test_it_says_honestly_that_it_is_an_ai(asked: str) -> None:
    reply = CareIntent("x")(asked)
    assert reply is not None and "I'm an AI" in reply
    assert "language model" not in reply


def test_identity_answers_vary() -> None:
    care = CareIntent("x")
    assert len({care("Are you human?") for _ in range(3)}) == 3


@pytest.mark.parametrize(
    "said", ["Are you happy today?", "Do you think it will rain?", "are you coming with me"]
)
def test_identity_stays_out_of_conversation(said: str) -> None:
    assert CareIntent("x")(said) is None


def test_nudge_is_off_by_default() -> None:
    t = [0.0]
    nudge = ConversationNudge(clock=lambda: t[0])
    for minute in range(0, 300, 2):
        t[0] = minute * 60.0
        assert nudge.observe() is None


def test_nudge_once_per_continuous_session() -> None:
    t = [0.0]
    nudge = ConversationNudge(after_min=30, people=["Anna", "Tom"], gap_min=10, clock=lambda: t[0])
    said = []
    for minute in [*range(0, 40, 5), *range(60, 100, 5)]:  # two sessions, 20 minutes apart
        t[0] = minute * 60.0
        said.append((minute, nudge.observe()))
    nudges = [(m, s) for m, s in said if s]
    assert [m for m, _ in nudges] == [30, 90]
    assert "call Anna" in nudges[0][1] and "call Tom" in nudges[1][1]
