"""One sentence rule for the chunker (what the voice gets), the tone splitter (one prosody a sentence)
and the output guard (how many sentences were said)."""

from __future__ import annotations

import pytest

from device.persona.persona import Persona
from device.persona.tone import TonedTTS
from device.pipeline.chunker import chunk_text
from device.pipeline.guard import ReplyGuard
from device.pipeline.settings import DialogueSettings
from device.pipeline.text import complete_sentences, sentence_ends, split_sentences

CASES = [
    ("Dr. Smith is in. He will see you.", ["Dr. Smith is in.", "He will see you."]),
    ("It weighs 3.5 kilos. That is heavy.", ["It weighs 3.5 kilos.", "That is heavy."]),
    ("Bring fruit, e.g. apples. Thanks.", ["Bring fruit, e.g. apples.", "Thanks."]),
    ("Well… I think so. Maybe.", ["Well… I think so.", "Maybe."]),
    ("Hmm... let me see. Paris.", ["Hmm... let me see.", "Paris."]),
]


class _Voice:  # only the sentence splitting of TonedTTS is used here; no audio is made
    sample_rate = 22050


def _guard_sentences(text: str) -> int:
    guard = ReplyGuard(DialogueSettings(max_sentences=0))
    guard.feed(text)
    guard.finish("eos")
    return len(sentence_ends(guard.text + " "))


@pytest.mark.parametrize(("text", "sentences"), CASES)
def test_chunker_tone_and_guard_agree(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences
    # The chunker: after its first chunk (cut early, mid-sentence), chunks end where sentences end.
    chunks = chunk_text([text], first_clause=False, first_max_words=0)
    assert chunks == sentences
    tone = TonedTTS(_Voice(), Persona())  # type: ignore[arg-type]
    assert [body for _, body in tone.sentences(text)] == sentences
    assert _guard_sentences(text) == len(sentences)


def test_a_half_sentence_at_the_end_is_not_complete() -> None:
    assert complete_sentences("Dear Anna, I miss you. See you") == ["Dear Anna, I miss you."]
    assert split_sentences("Dear Anna, I miss you. See you") == ["Dear Anna, I miss you.", "See you"]
