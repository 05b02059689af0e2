"""Small text helpers shared by the intents (the word lists and sentence rules are `pipeline/text.py`)."""

from __future__ import annotations

import re


def ordinal(n: int) -> str:
    """1 -> '1st', 22 -> '22nd', 13 -> '13th'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


_SWAPS = [
    (r"\bI am\b", "you are"),
    (r"\bI'm\b", "you're"),
    (r"\bI've\b", "you've"),
    (r"\bI'd\b", "you'd"),
    (r"\bI'll\b", "you'll"),
    (r"\bI was\b", "you were"),
    (r"\bI\b", "you"),
    (r"\bmyself\b", "yourself"),
    (r"\bmine\b", "yours"),
    (r"\bmy\b", "your"),
    (r"\bme\b", "you"),
    (r"\bours\b", "yours"),
    (r"\bour\b", "your"),
    (r"\bwe\b", "you"),
    (r"\bam\b", "are"),
]
_SWAP = re.compile("|".join(f"({p})" for p, _ in _SWAPS), re.IGNORECASE)


def second_person(text: str) -> str:
    """What the owner said about themselves, said back to them: 'call my mum' -> 'call your mum',
    'I was in Lyon' -> 'you were in Lyon'. The one place this is done (reminders, letters, memory)."""
    return _SWAP.sub(lambda m: _SWAPS[m.lastindex - 1][1] if m.lastindex else m[0], text)


def storage_problem(e: BaseException) -> str:
    """What went wrong with saving, in words for the owner."""
    text = str(e).lower()
    if "full" in text or getattr(e, "errno", None) == 28:
        return "my storage is full"
    if "read-only" in text or "readonly" in text or getattr(e, "errno", None) == 30:
        return "my storage has turned read-only"
    return "something went wrong with my storage"
