"""Questions about the owner's life are answered from what they said (stored, earlier in this
conversation, or in a summary) and never invented: with nothing there the answer says so. Real
store, real MiniLM, real extraction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device.config.schema import MemoryConfig
from device.memory.core import Memory
from device.memory.embed import Embedder
from device.memory.questions import answer

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.load()


@pytest.fixture
def memory(tmp_path: Path, embedder: Embedder) -> Iterator[Memory]:
    m = Memory.open(tmp_path / "state", MemoryConfig(), embedder=embedder)
    yield m
    m.close()


def test_with_nothing_stored_it_says_so_and_names_nobody(memory: Memory) -> None:
    assert answer(memory, "Where does my sister live?") == "You haven't told me about your sister yet."
    assert answer(memory, "Who's my best friend?") == "You haven't told me about your best friend yet."
    assert answer(memory, "How old am I?") == "You haven't told me that yet."
    said = answer(memory, "What did we talk about yesterday?")
    assert said is not None and "first conversation" in said


def test_a_stored_fact_is_read_back_in_the_second_person(memory: Memory) -> None:
    memory.after_turn("My sister Anna lives in Lyon.")
    memory.end_conversation()  # as a restart would: only the store knows it now
    assert answer(memory, "Where does my sister live?") == "You told me your sister Anna lives in Lyon."
    assert answer(memory, "Where does Anna live?") == "You told me your sister Anna lives in Lyon."
    assert answer(memory, "Where does my brother live?") == "You haven't told me about your brother yet."


def test_the_newest_words_win(memory: Memory) -> None:
    memory.after_turn("My dog is called Rex.")
    memory.after_turn("Sorry, I got that wrong: my dog is called Max.")
    said = answer(memory, "What's my dog's name?")
    assert said is not None and "Max" in said and "Rex" not in said
    memory.end_conversation()
    said = answer(memory, "What's my dog's name?")  # from the store: the correction is the newest
    assert said is not None and "Max" in said and "Rex" not in said


def test_what_was_said_in_this_conversation_counts_before_it_is_stored(memory: Memory) -> None:
    memory.after_turn("I parked on level three today.")  # no pattern stores this
    assert answer(memory, "Which level did I park on?") == "You told me you parked on level three today."


def test_past_conversations_come_from_the_summaries(memory: Memory) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    memory.store.import_records(
        [{"kind": "summary", "subject": "conversation", "key": f"summary:{yesterday}", "created": yesterday,
          "updated": yesterday, "source": "", "due": "",
          "text": "On Monday we talked about: My dad's knee operation went well."}],
        memory.embedder.embed(["My dad's knee operation went well."]),
    )  # fmt: skip
    said = answer(memory, "What did we talk about yesterday?")
    assert said == "Yesterday, you told me your dad's knee operation went well."


@pytest.mark.parametrize(
    "text",
    ["What's the capital of France?", "What should I cook tonight?", "How do I fix a puncture?",
     "What's your favourite colour?", "I went to Lyon last week.", "Where is Lyon?"],
)  # fmt: skip
def test_the_world_and_advice_are_not_personal_questions(memory: Memory, text: str) -> None:
    memory.after_turn("My sister Anna lives in Lyon.")
    assert answer(memory, text) is None


@pytest.mark.parametrize(
    "text",
    ["Can you help me write a letter to my friend Tom about his birthday?",
     "Remind me to call my mum at six.", "Could you set a timer for my tea?",
     "What is a good name for a great cat?"],
)  # fmt: skip
def test_requests_about_my_people_are_not_questions_about_them(memory: Memory, text: str) -> None:
    assert answer(memory, text) is None


def test_asking_to_be_told_is_still_a_question(memory: Memory) -> None:
    memory.after_turn("My sister Anna lives in Lyon.")
    said = answer(memory, "Can you tell me where my sister lives?")
    assert said is not None and "Lyon" in said
