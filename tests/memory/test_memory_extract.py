"""Extraction: what counts as a fact about the owner, and what must never be stored. Pure text, but for
one test of the LLM path on the real starter LLM."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from device.memory.extract import Fact, extract, grounded, validate_llm_lines
from device.memory.speech import second_person

pytestmark = pytest.mark.models

TODAY = date(2025, 11, 22)  # a Saturday


def _one(text: str, **kw: object) -> Fact:
    facts = extract(text, "", today=TODAY, **kw)  # type: ignore[arg-type]
    assert len(facts) == 1, (text, facts)
    return facts[0]


@pytest.mark.parametrize(
    "said, kind, subject, key, text",
    [
        ("My sister Anna lives in Lyon.", "fact", "anna", "home", "My sister Anna lives in Lyon."),
        ("Call me Sam.", "fact", "me", "name", "My name is Sam."),
        ("my name is sam", "fact", "me", "name", "My name is Sam."),
        ("I love jazz.", "preference", "me", "opinion:jazz", "I love jazz."),
        ("I really hate mushrooms", "preference", "me", "opinion:mushrooms", "I hate mushrooms."),
        (
            "I don't like country music.",
            "preference",
            "me",
            "opinion:country music",
            "I don't like country music.",
        ),
        ("I'm allergic to peanuts.", "fact", "me", "allergy:peanuts", "I'm allergic to peanuts."),
        ("I work as a nurse.", "fact", "me", "job", "I work as a nurse."),
        ("I live in Manchester now.", "fact", "me", "home", "I live in Manchester."),
        (
            "My favourite colour is green.",
            "preference",
            "me",
            "favorite:colour",
            "My favourite colour is green.",
        ),
        ("My dog's name is Rex.", "fact", "rex", "who", "My dog is called Rex."),
        ("My birthday is on May 3rd.", "fact", "me", "my:birthday", "My birthday is on May 3rd."),
        (
            "Well, actually, my brother Tom lives in Berlin.",
            "fact",
            "tom",
            "home",
            "My brother Tom lives in Berlin.",
        ),
        ("my sister anna lives in new york", "fact", "anna", "home", "My sister Anna lives in New York."),
    ],
)
def test_statements_become_first_person_facts(
    said: str, kind: str, subject: str, key: str, text: str
) -> None:
    f = _one(said)
    assert (f.kind, f.subject, f.key, f.text) == (kind, subject, key, text)


def test_an_interview_tomorrow_is_an_open_thread_with_a_date() -> None:
    f = _one("I have an interview tomorrow.")
    assert (f.kind, f.key, f.due) == ("thread", "thread:interview", "2025-11-23")
    assert f.text == "I have an interview on Sunday 23 November."
    f = _one("Guess what, I've got a job interview at Google on Friday")
    assert (f.key, f.due) == ("thread:interview", "2025-11-28")
    assert "at Google" in f.text
    done = _one("The interview went really well!")
    assert done.close and done.key == "thread:interview"


@pytest.mark.parametrize(
    "said",
    [
        "Where does my sister live?",
        "Do you know my sister Anna lives in Lyon?",
        "is my name Sam",  # a question without its question mark (as an STT may write it)
        "What if my sister lived in Lyon?",
        "If I loved jazz, would you play it?",
        "Imagine my name is Bond.",
        "Maybe I'll move to Paris.",
        "My sister doesn't live in Lyon.",
        "You said my sister lives in Lyon.",
        "She told me my brother works as a pilot.",
        "My head is killing me.",
        "My day is going badly.",
        "I love the weather today.",
        "My mom is visiting tomorrow.",
        "I love you.",
        "I'd like a coffee.",
        "Tell me a joke about my cat.",
        "Let's say I work as a spy.",
        "anna moved to paris",  # a lower-case word is not a name unless Anna is already known
    ],
)
def test_questions_hypotheticals_and_others_words_are_not_facts(said: str) -> None:
    assert extract(said, "", today=TODAY) == []


def test_the_companions_reply_is_never_a_source() -> None:
    reply = "Your sister Anna lives in Lyon and you love jazz. I work as a nurse."
    assert extract("What do you think?", reply, today=TODAY) == []
    assert extract("", reply, today=TODAY) == []
    # The owner's own fact is taken from the owner, not mixed with the reply's.
    facts = extract("I love opera.", reply, today=TODAY)
    assert [f.text for f in facts] == ["I love opera."]


def test_a_known_person_moving_keeps_the_relation() -> None:
    f = _one("anna moved to paris", relation_of=lambda n: "sister" if n == "anna" else None)
    assert (f.subject, f.key, f.text) == ("anna", "home", "My sister Anna lives in Paris.")
    f = _one("Anna moved to Paris.")  # a capitalised name from the STT, relation unknown
    assert (f.subject, f.key, f.text) == ("anna", "home", "Anna lives in Paris.")


def test_several_facts_in_one_breath_and_the_last_word_wins() -> None:
    facts = extract(
        "I hate mushrooms and I'm allergic to peanuts. I love jazz. Well, I hate jazz.", today=TODAY
    )
    assert sorted(f.text for f in facts) == ["I hate jazz.", "I hate mushrooms.", "I'm allergic to peanuts."]


def test_llm_output_is_kept_only_when_grounded_in_the_owners_words() -> None:
    user = "Honestly the thing about me is that I collect old stamps from Peru."
    out = (
        "I collect old stamps from Peru.\nMy sister lives in Lyon.\nDo you like stamps?\nYou are kind.\nNONE"
    )
    facts = validate_llm_lines(out, user)
    assert [f.text for f in facts] == ["I collect old stamps from Peru."]
    assert not grounded("My sister lives in Lyon.", user)
    assert validate_llm_lines("I collect stamps.", "Do I collect stamps?") == []  # only a question was asked


def test_the_llm_path_stores_the_owners_words_that_the_rules_miss(tmp_path: Path) -> None:
    """With use_llm_extraction the real starter LLM finds a fact the rules do not: it is stored, in the
    owner's first person, and nothing of the companion's reply is; a question stores nothing."""
    from device.config import paths
    from device.config.schema import MemoryConfig
    from device.memory import Memory
    from device.memory.embed import Embedder
    from device.memory.store import MemoryStore
    from device.models.catalog import ModelMissing, resolve
    from device.pipeline.llm.onnx import OnnxDialogue
    from device.pipeline.settings import DialogueSettings

    try:
        model = resolve("smollm2-135m-instruct-int4", paths.models_dir())
    except ModelMissing:
        pytest.skip("the starter LLM is not converted (make test-models)")
    user, reply = "The thing about me is that I collect old stamps from Peru.", "You love opera in Lyon."
    assert extract(user, reply, today=TODAY) == []  # the rules find nothing: what is stored is the LLM's
    llm = OnnxDialogue(model, DialogueSettings(max_new_tokens=40, max_sentences=3))
    cfg = MemoryConfig(use_llm_extraction=True, summaries=False)
    m = Memory(MemoryStore(tmp_path / "m"), Embedder.load(), cfg, llm=llm)
    try:
        stored = m.after_turn(user, reply)
        assert stored, "the LLM path stored nothing"
        for text in stored:
            assert text.startswith(("I", "My")) and "stamps" in text and "Peru" in text, stored
            assert "Lyon" not in text and "opera" not in text, stored
        assert m.after_turn("Do you think I should collect stamps?", "Yes, you collect stamps.") == []
    finally:
        m.store.close()


def test_second_person_for_speaking_back() -> None:
    assert second_person("My sister Anna lives in Lyon.") == "your sister Anna lives in Lyon"
    assert second_person("I'm allergic to peanuts.") == "you're allergic to peanuts"
    assert second_person("I have an interview on Sunday.") == "you have an interview on Sunday"
