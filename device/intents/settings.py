"""Settings by voice: "mute", "speak louder", "talk more slowly". The owner's voice only (wrapped in
`private.OwnerOnly` by the assembly): another voice near the earpiece must not silence it or change
how it sounds.

Only a request that *is* the command is taken ("Speak up, please", "Could you talk slower?"), never
a sentence that mentions one ("my neighbours are louder than ever"): the LLM answers those."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from device.pipeline.text import plain


class SettingsControls(Protocol):
    """What the running companion lets the voice change (app/voice_settings.py)."""

    def mute(self) -> None:
        """Stop listening once this reply has been said."""

    def value(self, key: str) -> float:
        """The current value of a live config key."""

    def change(self, key: str, value: float) -> str:
        """Set a live key from the next reply on; '' if it is also saved in the config file, else why
        not, in words for the owner ("my storage is full")."""


@dataclass(frozen=True)
class Knob:
    """One setting a spoken word turns a step at a time."""

    key: str
    """The config key (a live key: config.edit.LIVE_KEYS)."""
    step: float
    """How far one request turns it (signed: this way is the word's way)."""
    limit: float
    """The furthest it goes this way."""
    done: str
    """What is said once it has turned."""
    at_limit: str
    """What is said when it is already as far as it goes."""

    def turn(self, now: float) -> float | None:
        """The value one request turns `now` to, or None if it is already at the limit."""
        toward = now + self.step
        new = min(toward, self.limit) if self.step > 0 else max(toward, self.limit)
        return None if (new - now) * self.step <= 1e-9 else round(new, 2)


LOUDER = Knob("audio.volume", 0.25, 2.0, "Okay, I'll speak louder.", "That's as loud as I can go.")
QUIETER = Knob("audio.volume", -0.25, 0.25, "Okay, I'll speak more quietly.", "That's as quiet as I can go.")
# Piper's length_scale: more is slower.
SLOWER = Knob("tts.length_scale", 0.15, 1.9, "Okay, I'll talk more slowly.", "That's as slow as I can talk.")
FASTER = Knob("tts.length_scale", -0.15, 0.7, "Okay, I'll talk faster.", "That's as fast as I can talk.")
MUTE_LINE = "Okay, I'll stop listening. Hold the button, or run os1 unmute, when you want me back."
NOT_SAVED = " That lasts until I restart: I couldn't save it, {why}."

_ASK = r"(?:(?:please|can you|could you|would you|will you|can|could|ok|okay|hey)\s+)*"
_THANKS = (
    r"(?:\s+(?:please|a bit|a little|a little bit|now|for now|for a while|for a bit|for me|"
    r"thanks|thank you))*"
)
_MORE = r"(?:a (?:bit|little|little bit)\s+)?"
_TALK = r"(?:speak|talk|be)\s+" + _MORE
_RULES: tuple[tuple[str, Knob | None], ...] = (
    (r"(?:mute(?: yourself)?|stop listening|don't listen|go to sleep|go quiet)", None),
    (rf"(?:{_TALK}(?:louder|up|more loudly)|turn (?:it|yourself|the volume) up|volume up|louder)", LOUDER),
    (
        rf"(?:{_TALK}(?:quieter|softer|more (?:quietly|softly)|down)|turn (?:it|yourself|the volume) down"
        r"|volume down|quieter|softer)",
        QUIETER,
    ),
    (rf"(?:{_TALK}(?:slower|more slowly)|slow down)", SLOWER),
    (rf"(?:{_TALK}(?:faster|quicker|more quickly)|speed up)", FASTER),
)
_PATTERNS = [(re.compile(rf"^{_ASK}{rule}{_THANKS}$"), knob) for rule, knob in _RULES]
MUTE = object()
"""What `command` returns for a mute."""


def command(text: str) -> Knob | object | None:
    """The knob `text` asks to turn, MUTE for a mute, or None: not a settings command."""
    words = plain(text)
    for pattern, knob in _PATTERNS:
        if pattern.match(words):
            return MUTE if knob is None else knob
    return None


class SettingsIntent:
    """Mute, volume and speaking speed by voice. With no `controls` (a text-only companion: `os1 ask`
    with no daemon running) it claims nothing, and the LLM answers."""

    def __init__(self, controls: SettingsControls | None = None) -> None:
        self.controls = controls

    def claims(self, text: str) -> bool:
        return self.controls is not None and command(text) is not None

    def __call__(self, text: str) -> str | None:
        controls = self.controls
        asked = command(text) if controls is not None else None
        if controls is None or asked is None:
            return None
        if asked is MUTE:
            controls.mute()
            return MUTE_LINE
        assert isinstance(asked, Knob)
        new = asked.turn(controls.value(asked.key))
        if new is None:
            return asked.at_limit
        why = controls.change(asked.key, new)
        return asked.done + (NOT_SAVED.format(why=why) if why else "")
