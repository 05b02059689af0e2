"""Commands that reach what is stored (memories, letters, reminders, the profile) answer the owner's
voice only. Another voice that asks gets one polite line that reveals nothing of what is stored.

Whose turn it is comes from the reply thread (`events.SPEAKER`, set by the worker from the voice
check): "other" is refused, and "unsure" (borderline, or too loud to tell) is asked for a tap. The
owner, a typed or tapped turn, and a turn with no check at all (no voiceprint, or owner.voice_check
off) pass."""

from __future__ import annotations

from device.intents.router import Handler
from device.pipeline.events import SPEAKER
from device.pipeline.voice_check import OTHER, UNSURE

REFUSAL = "Sorry, that's private to the person I belong to, so I can't help with that."
TAP_FIRST = "I can't be sure that's you. Tap the button, then ask me again."
NOT_YOURS = "Sorry, only the person I belong to can change how I work."


def refusal(for_other: str = REFUSAL) -> str | None:
    """The line for this turn's voice if what is private is closed to it, else None."""
    return {OTHER: for_other, UNSURE: TAP_FIRST}.get(SPEAKER.get())


def from_another_voice() -> bool:
    """Not known to be the owner: another voice, or too noisy to tell."""
    return refusal() is not None


class OwnerOnly:
    """`handler`, for the owner's voice; for another voice, the refusal wherever it would act.
    `read_only_beyond_claims`: the handler also answers questions its `claims` does not cover, without
    acting on them (memory: "Where does my sister live?"); for another voice it is asked, and any
    answer becomes the refusal. `for_other`: what another voice is told."""

    def __init__(self, handler: Handler, read_only_beyond_claims: bool = False, for_other: str = REFUSAL):
        self.handler = handler
        self.peek = read_only_beyond_claims
        self.for_other = for_other
        inner = getattr(handler, "__qualname__", None) or type(handler).__name__
        self.__qualname__ = f"OwnerOnly({inner})"  # the router's log names the handler inside

    def claims(self, text: str) -> bool:
        claims = getattr(self.handler, "claims", None)
        return True if claims is None else bool(claims(text))

    def __call__(self, text: str) -> str | None:
        line = refusal(self.for_other)
        if line is None:
            return self.handler(text)
        if self.claims(text) or (self.peek and self.handler(text) is not None):
            return line
        return None
