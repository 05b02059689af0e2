"""Split streamed LLM text into speakable pieces: a short first clause, then whole sentences.

Never splits inside a number ("3.5"), an abbreviation ("Dr.", "e.g.") or an ellipsis.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "mt",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "approx",
    "no",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "u.s",
    "u.k",
    "a.m",
    "p.m",
}
# Words that need more after them: a sentence (or a first chunk) does not end on one.
TRAILING_WORDS = {
    "a",
    "an",
    "the",
    "of",
    "to",
    "and",
    "or",
    "but",
    "with",
    "my",
    "your",
    "in",
    "on",
    "at",
    "for",
    "from",
    "about",
    "is",
    "are",
    "was",
    "um",
    "uh",
    "like",
    "so",
    "because",
    "that",
    "if",
    "when",
}
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)")
_CLAUSE_END = re.compile(r"[,;:—–](?=\s)")


def _is_real_sentence_end(text: str, end: int) -> bool:
    """Whether the terminator ending at `end` closes a sentence (not "Dr." or "3.")."""
    punct_start = end
    while punct_start > 0 and text[punct_start - 1] in ".!?\"')]":
        punct_start -= 1
    if text[punct_start:end].startswith("..") and not text[punct_start:end].startswith("..."):
        return False
    word = re.search(r"([\w.]+)$", text[:punct_start])
    if word and text[punct_start] == ".":
        w = word.group(1).lower()
        if w in ABBREVIATIONS or (len(w) == 1 and w.isalpha() and w != "i"):
            return False  # "Dr." or an initial ("J. Smith")
    return True


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
        for m in _SENTENCE_END.finditer(self._buf):
            if _is_real_sentence_end(self._buf, m.end()):
                return m.end()
        if self.first_clause and self._emitted == 0:
            for m in _CLAUSE_END.finditer(self._buf):
                before = self._buf[: m.start()]
                if len(before.split()) >= self.first_min_words and not re.search(r"\d$", before):
                    return m.end()
            # Whole words only: the word after the cut must have started, so the last one is complete.
            words = list(re.finditer(r"\S+(?=\s+\S)", self._buf))
            for i, w in enumerate(words[self.first_max_words - 1 :] if self.first_max_words else []):
                if re.search(r"[\d.]$", w.group()):  # not after "Dr." or "3" ("3 kilos" stays together)
                    continue
                bare = re.sub(r"[^a-z']", "", w.group().lower())
                if bare not in TRAILING_WORDS or self.first_max_words + i >= self.first_cap_words:
                    return w.end()
        return None


_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_ASIDE = re.compile(r"\(([^)]*)\)|\*([^*]+)\*|\[([^\]]*)\]")
_MARKUP = re.compile(r"[#_`~>|]+|^\s*[-•]\s+", re.MULTILINE)


def _aside(m: re.Match[str]) -> str:
    """A short aside without numbers is a stage direction ("(laughs)", "*smiles*"): drop it.
    A longer one carries content: keep its words, lose the brackets."""
    inner = next(g for g in m.groups() if g is not None)
    is_direction = len(inner.split()) <= 3 and not re.search(r"\d", inner)
    return " " if is_direction else f" {inner} "


def speakable(text: str) -> str:
    """What a voice should say: no stage directions, markdown or emoji."""
    text = _BOLD.sub(r"\1", text)
    text = _ASIDE.sub(_aside, text)
    text = _MARKUP.sub(" ", text)
    text = "".join(ch for ch in text if ord(ch) < 0x2190 or ch in "–—…")  # drop emoji and symbols
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def chunk_text(pieces: Iterable[str], **kwargs: object) -> list[str]:
    """Convenience: all chunks of a finished stream."""
    c = Chunker(**kwargs)  # type: ignore[arg-type]
    out = [x for p in pieces for x in c.feed(p)]
    return out + list(c.flush())
