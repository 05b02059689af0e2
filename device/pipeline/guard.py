"""The small-model defences on a reply as it streams: hold back only the words that might still turn
out to be a repeat or an echo of the system prompt, and stop the reply when one is confirmed or
enough sentences have been said. SmolLM2-135M loops on one sentence and recites its own prompt
(measured: asked about a rough day, it recited the system prompt), so every reply passes here.
Pure text: no model needed.
"""

from __future__ import annotations

import re
from typing import Protocol

from device.pipeline.text import normalize_word, sentence_ends


class GuardLimits(Protocol):
    """The limits a guard applies (DialogueSettings has them)."""

    max_sentences: int
    no_repeat_ngram: int
    echo_words: int


# A word is a run without spaces or ellipses: SmolLM2 writes "blue...blue...blue..." with no space,
# and that must count as three words for the repetition check.
_WORD = re.compile(r"(?:[^\s.…]|\.(?![.\s]|$))+")


def words(text: str, complete_only: bool = True) -> list[tuple[str, int]]:
    """(normalized word, start offset) pairs; a word is complete once whitespace follows it."""
    out = []
    matches = list(_WORD.finditer(text))
    for i, m in enumerate(matches):
        last = i == len(matches) - 1
        if complete_only and last and not any(c.isspace() for c in text[m.end() :]):
            break  # the next token may still extend it ("3." + "5")
        w = normalize_word(m.group())
        if w:
            out.append((w, m.start()))
    return out


def _occurs_earlier(seq: list[str], m: int) -> bool:
    """Do the last m words also appear, in order, starting earlier in seq?"""
    tail = seq[-m:]
    return any(seq[j : j + m] == tail for j in range(len(seq) - m))


def repeat_start(seq: list[str], n: int) -> int | None:
    """Index where a repeated n-word run starts, if the last n words already occurred earlier."""
    if n <= 0 or len(seq) <= n or not _occurs_earlier(seq, n):
        return None
    return len(seq) - n


def prompt_grams(prompt: str, k: int) -> set[tuple[str, ...]]:
    """Every run of 1..k words in the prompt, for the echo check."""
    seq = [w for w, _ in words(prompt, complete_only=False)]
    return {tuple(seq[i : i + m]) for m in range(1, k + 1) for i in range(len(seq) - m + 1)}


def echo_start(seq: list[str], grams: set[tuple[str, ...]], k: int) -> int | None:
    """Index where an echo starts, if the last k words are a run of the system prompt."""
    if k <= 0 or len(seq) < k or tuple(seq[-k:]) not in grams:
        return None
    return len(seq) - k


def held_words(seq: list[str], n: int, grams: set[tuple[str, ...]], k: int) -> int:
    """How many trailing words could still grow into a repeat or an echo, and so must not be spoken yet."""
    held = 0
    for m in range(1, max(n, k)):
        repeat = m < n and len(seq) > m and _occurs_earlier(seq, m)
        echo = m < k and len(seq) >= m and tuple(seq[-m:]) in grams
        if not (repeat or echo):
            break  # both checks are monotone: a longer tail can't match if this one doesn't
        held = m
    return held


class ReplyGuard:
    """Fed the generated text piece by piece; hands back what may be spoken, and decides when to stop."""

    def __init__(self, settings: GuardLimits, system_prompt: str = ""):
        self.s = settings
        self.text = ""
        self.released = 0  # chars of self.text already handed out
        self.stop_reason: str | None = None
        self._grams = prompt_grams(system_prompt, settings.echo_words) if settings.echo_words > 0 else set()

    def feed(self, piece: str) -> str:
        """Add generated text; return the text that is now safe to speak ('' if none yet)."""
        if self.stop_reason:
            return ""
        self.text += piece
        return self._check(final=False)

    def finish(self, reason: str) -> str:
        """The model stopped on its own (eos/budget): check the last word too, then hand out the rest."""
        if self.stop_reason:
            return ""
        out = self._check(final=True)
        if self.stop_reason and self.text[self.released :].strip():
            return out  # a defence cut the tail off
        self.stop_reason = reason
        return out + self._release(len(self.text))

    def _check(self, final: bool) -> str:
        found = words(self.text, complete_only=not final)
        seq = [w for w, _ in found]
        ends = sentence_ends(self.text + " " if final else self.text)
        if (i := repeat_start(seq, self.s.no_repeat_ngram)) is not None:
            return self._stop("repeat", self._cut(found, ends, i))
        if (i := echo_start(seq, self._grams, self.s.echo_words)) is not None:
            return self._stop("echo", self._cut(found, ends, i))
        if self.s.max_sentences > 0 and len(ends) >= self.s.max_sentences:
            return self._stop("sentences", min(ends[self.s.max_sentences - 1], len(self.text)))
        held = held_words(seq, self.s.no_repeat_ngram, self._grams, self.s.echo_words)
        # Also hold the word still being written: its next token may extend it.
        partial = None if final else re.search(r"\S+$", self.text)
        safe = found[-held][1] if held else (partial.start() if partial else len(self.text))
        return self._release(safe)

    @staticmethod
    def _cut(found: list[tuple[str, int]], ends: list[int], i: int) -> int:
        """Where to cut a repeat/echo that starts at word i: before it, unless a sentence ends inside
        it, in which case the sentence may finish ("I'm a caring friend." may echo 3 words)."""
        start, last = found[i][1], found[-1][1]
        return next((e for e in ends if start < e <= last), start)

    def _stop(self, reason: str, at: int) -> str:
        self.stop_reason = reason
        return self._release(at)

    def _release(self, upto: int) -> str:
        if upto <= self.released:
            return ""
        out, self.released = self.text[self.released : upto], upto
        return out
