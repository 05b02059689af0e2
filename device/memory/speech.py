"""Turning the owner's first-person memories into what the companion says back ("your sister ...")."""

from __future__ import annotations

import re

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
]
_SWAP = re.compile("|".join(f"({p})" for p, _ in _SWAPS), re.IGNORECASE)


def second_person(text: str) -> str:
    """'My sister Anna lives in Lyon.' -> 'your sister Anna lives in Lyon' (for the middle of a sentence)."""

    def swap(m: re.Match[str]) -> str:
        return _SWAPS[m.lastindex - 1][1] if m.lastindex else m.group(0)

    return _SWAP.sub(swap, text).rstrip(" .!")


def join_spoken(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
