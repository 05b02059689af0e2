"""Names, said right: its own ("what's your name?", "who are you?") and the owner's ("what's my
name?"), from the persona and what the owner has said. A tiny model gets these wrong often enough
(it called the owner "Theo: …" and itself anything) that they are not left to it."""

from __future__ import annotations

import re
from collections.abc import Callable

from device.intents.private import TAP_FIRST, refusal
from device.pipeline.text import plain

_LEAD = r"^(?:(?:hey|ok|okay|so|and|um|uh|sorry|remind me|tell me|please|actually)[,\s]+)*"
_OWN = re.compile(
    _LEAD + r"(?:what(?:'s| is) your name|who are you|who am i (?:talking|speaking) (?:to|with)"
    r"|what (?:should|do|can|shall) i call you|what are you called|what do people call you"
    r"|(?:can you )?tell me your name|do you have a name|what was your name again)"
    r"(?: again| please)*$"
)
_OWNER = re.compile(
    _LEAD + r"(?:what(?:'s| is) my name|do you know my name|(?:can|could) you say my name|who am i"
    r"|what do you call me|what am i called|do you remember my name|say my name|what was my name)"
    r"(?: again| please)*$"
)


class IdentityIntent:
    """`companion()` and `owner()` give the names as they are now (onboarding or a reload may change
    them); an empty owner name means nobody has said it yet."""

    def __init__(self, companion: Callable[[], str], owner: Callable[[], str]):
        self.companion = companion
        self.owner = owner

    def __call__(self, text: str) -> str | None:
        t = plain(text)
        if _OWN.match(t):
            return f"I'm {self.companion()}. I'm an AI, here in your ear whenever you want to talk."
        if _OWNER.match(t) and (line := refusal()) is not None:  # not known to be the owner
            return line if line == TAP_FIRST else "I don't think we've met, so I don't know your name."
        if _OWNER.match(t):
            name = self.owner().strip()
            if name:
                return f"You're {name}."
            return "You haven't told me your name yet. What should I call you?"
        return None

    def claims(self, text: str) -> bool:
        t = plain(text)
        return bool(_OWN.match(t) or _OWNER.match(t))
