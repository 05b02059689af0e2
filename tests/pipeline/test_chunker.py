import re

import pytest

from device.pipeline.chunker import Chunker, chunk_text
from device.pipeline.text import speakable


def stream(text: str) -> list[str]:
    """Feed text a few characters at a time, as LLM tokens arrive."""
    return [text[i : i + 3] for i in range(0, len(text), 3)]


@pytest.mark.parametrize(
    "text",
    [
        "Dr. Smith lives at No. 5 Baker St. in London.",
        "It costs 3.5 euros and weighs 2.75 kilos.",
        "We met at 10 a.m. on Jan. 3 and left.",
        "Take e.g. apples or i.e. fruit.",
        "J. R. R. Tolkien wrote it.",
    ],
)
def test_never_splits_inside_numbers_or_abbreviations(text: str) -> None:
    chunks = chunk_text(stream(text))
    assert " ".join(chunks) == text
    assert all(not re.search(r"[\d.]$", c) for c in chunks[:-1]), chunks  # no cut after "Dr." or "3.5"


def test_sentences_split_and_first_clause_comes_early() -> None:
    text = "Paris is the capital of France, and it is lovely. Have you been there? I would love to go!"
    chunks = chunk_text(stream(text))
    assert chunks == [
        "Paris is the capital of France,",
        "and it is lovely.",
        "Have you been there?",
        "I would love to go!",
    ]


def test_short_first_clause_is_not_split() -> None:
    assert chunk_text(stream("Yes, of course. Sure.")) == ["Yes, of course.", "Sure."]


def test_chunk_is_emitted_before_the_stream_ends() -> None:
    c = Chunker()
    got = []
    for piece in stream("The capital of France is Paris. And"):
        got += list(c.feed(piece))
    assert got == ["The capital of France is Paris."]
    assert list(c.flush()) == ["And"]


@pytest.mark.parametrize(
    "raw, spoken",
    [
        (
            "The capital of France... (laughs) I'm afraid it's Paris!",
            "The capital of France... I'm afraid it's Paris!",
        ),
        ("*smiles* Hello there 😊", "Hello there"),
        ("**Paris** is lovely.", "Paris is lovely."),
        ("It costs 3.5 euros (about 4 dollars).", "It costs 3.5 euros about 4 dollars."),
    ],
)
def test_speakable_drops_stage_directions_and_markup(raw: str, spoken: str) -> None:
    assert speakable(raw) == spoken


def test_a_long_first_sentence_is_cut_early_and_the_rest_stays_whole() -> None:
    text = (
        "The capital of France is the beautiful city of Paris on the Seine. It has many bridges and museums."
    )
    chunks = chunk_text(stream(text))
    assert chunks == [
        "The capital of France is the beautiful",
        "city of Paris on the Seine.",
        "It has many bridges and museums.",
    ]


def test_the_early_cut_never_splits_a_number_or_abbreviation() -> None:
    chunks = chunk_text(stream("It weighs about 3.25 kilos says Dr. Smith from the lab. Yes."))
    assert chunks[0].split()[-1] not in ("3.", "Dr.") and " ".join(chunks[:-1]).count("3.25") == 1


def test_the_early_cut_comes_after_five_words_but_not_on_a_word_that_needs_more() -> None:
    chunks = chunk_text(stream("The capital city of France is Paris and it is lovely in spring. Yes."))
    assert chunks[0] == "The capital city of France"
    chunks = chunk_text(stream("Here is what I think of the plan you made for us. Yes."))
    assert chunks[0] == "Here is what I think"
    chunks = chunk_text(stream("So it is in the end of a long and winding road. Yes."))
    assert chunks[0].split()[-1] not in ("the", "of", "a", "and", "in")
