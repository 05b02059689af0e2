"""Commands that reach what is stored (memories, letters, reminders, the profile) answer the owner's
voice only. Another voice that asks gets one polite line that reveals nothing of what is stored.

Whose turn it is comes from the reply thread (`events.SPEAKER`, set by the worker from the voice
check): "other" is refused; the owner, a typed or tapped turn, and a turn with no check at all (no
voiceprint, or owner.voice_check off) pass."""

from __future__ import annotations

from device.intents.router import Handler
from device.pipeline.events import SPEAKER
from device.pipeline.voice_check import OTHER

REFUSAL = "Sorry, that's private to the person I belong to, so I can't help with that."


def from_another_voice() -> bool:
    return SPEAKER.get() == OTHER


class OwnerOnly:
    """`handler`, for the owner's voice; for another voice, the refusal wherever it would act."""

    def __init__(self, handler: Handler):
        self.handler = handler
        inner = getattr(handler, "__qualname__", None) or type(handler).__name__
        self.__qualname__ = f"OwnerOnly({inner})"  # the router's log names the handler inside

    def claims(self, text: str) -> bool:
        claims = getattr(self.handler, "claims", None)
        return True if claims is None else bool(claims(text))

    def __call__(self, text: str) -> str | None:
        if not from_another_voice():
            return self.handler(text)
        return REFUSAL if self.claims(text) else None
