"""Split streamed LLM text into speakable pieces: a short first clause, then whole sentences.

Sentences end where `text.sentence_ends` says: never inside a number ("3.5"), an abbreviation
("Dr.", "e.g.") or at an ellipsis.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from device.pipeline.text import TRAILING_WORDS, sentence_ends

_CLAUSE_END = re.compile(r"[,;:—–](?=\s)")


@dataclass
class Chunker:
    """Feed text pieces; get back chunks to synthesize.

    The first chunk may end at a clause (comma) once it has `first_min_words`, so speech starts early.
    Later chunks are whole sentences, so the prosody stays natural.
    """

    first_min_words: int = 2  # "Well, …" is a first chunk; "Yes, …" is not
    # A long first sentence is cut after this many words, at a word boundary, so speech starts early;
    # the cut moves on past "the", "of" or "is", which cannot end a phrase, up to `first_cap_words`.
    first_max_words: int = 5
    first_cap_words: int = 9
    first_clause: bool = True
    _buf: str = field(default="", init=False)
    _emitted: int = field(default=0, init=False)

    def feed(self, piece: str) -> Iterator[str]:
        self._buf += piece
        while True:
            cut = self._find_cut()
            if cut is None:
                return
            chunk, self._buf = self._buf[:cut].strip(), self._buf[cut:]
            if chunk:
                self._emitted += 1
                yield chunk

    def flush(self) -> Iterator[str]:
        chunk, self._buf = self._buf.strip(), ""
        if chunk:
            self._emitted += 1
            yield chunk

    def _find_cut(self) -> int | None:
        ends = [e for e in sentence_ends(self._buf) if not _inside_aside(self._buf[:e])]
        if ends:
            return ends[0]
        if self.first_clause and self._emitted == 0:
            for m in _CLAUSE_END.finditer(self._buf):
                before = self._buf[: m.start()]
                if len(before.split()) >= self.first_min_words and not re.search(r"\d$", before):
                    if not _inside_aside(before):
                        return m.end()
            # Whole words only: the word after the cut must have started, so the last one is complete.
            words = list(re.finditer(r"\S+(?=\s+\S)", self._buf))
            for i, w in enumerate(words[self.first_max_words - 1 :] if self.first_max_words else []):
                if re.search(r"[\d.]$", w.group()):  # not after "Dr." or "3" ("3 kilos" stays together)
                    continue
                if _inside_aside(self._buf[: w.end()]):
                    continue
                bare = re.sub(r"[^a-z']", "", w.group().lower())
                if bare not in TRAILING_WORDS or self.first_max_words + i >= self.first_cap_words:
                    return w.end()
        return None


def _inside_aside(text: str) -> bool:
    """Whether `text` ends inside a bracket or *asterisks*: a stage direction cut in two would be
    spoken ("(smiling" dropped, "mischievously)" said), since only a whole one is recognised."""
    return text.count("(") > text.count(")") or text.count("[") > text.count("]") or text.count("*") % 2 == 1


def chunk_text(pieces: Iterable[str], **kwargs: object) -> list[str]:
    """Convenience: all chunks of a finished stream."""
    c = Chunker(**kwargs)  # type: ignore[arg-type]
    out = [x for p in pieces for x in c.feed(p)]
    return out + list(c.flush())
