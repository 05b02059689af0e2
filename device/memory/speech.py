"""Turning the owner's first-person memories into what the companion says back ("your sister ...")."""

from __future__ import annotations

from device.intents.text import second_person as owner_to_you


def second_person(text: str) -> str:
    """'My sister Anna lives in Lyon.' -> 'your sister Anna lives in Lyon' (for the middle of a sentence)."""
    return owner_to_you(text).rstrip(" .!")


def join_spoken(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
