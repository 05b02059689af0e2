"""Small text helpers shared by the intents: what a transcript looks like once STT punctuation is gone."""

from __future__ import annotations

import re

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'"})


def plain(text: str, lower: bool = True) -> str:
    """Words, digits and apostrophes only, single-spaced: 'What's the time?' -> "what's the time"."""
    t = text.translate(_APOSTROPHES)
    t = t.lower() if lower else t
    t = re.sub(r"\b([apAP])\.\s?[mM]\b\.?", lambda m: m[1].lower() + "m", t)  # "5 p.m." -> "5 pm"
    t = re.sub(r"[^\w':\s-]|_", " ", t)
    t = re.sub(r"(?<![\w])'|'(?![a-zA-Z])", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def ordinal(n: int) -> str:
    """1 -> '1st', 22 -> '22nd', 13 -> '13th'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


_YOU = {
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself", "i'm": "you're",
    "i've": "you've", "i'll": "you'll", "i'd": "you'd", "am": "are", "we": "you", "our": "your",
}  # fmt: skip


def second_person(text: str) -> str:
    """What the owner said about themselves, said back to them: 'call my mum' -> 'call your mum'."""
    return re.sub(r"\b[\w']+\b", lambda m: _YOU.get(m[0].lower(), m[0]), text)
