"""The camera's voice commands: "read this" and "what am I looking at".

`CameraIntent` is a VoiceLoop `intents` hook: called with the owner's transcript, it returns the
sentence to speak, or None when the words are not a camera command (the LLM answers those). Only
whole requests match ("can you read this for me?" does, "read me a story" does not), so ordinary
conversation never takes a picture.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Literal

import numpy as np

from device.drivers.camera import CameraError
from device.pipeline.text import plain
from device.pipeline.vision import TOO_DARK, Vision, brightness, spoken_text

log = logging.getLogger("os1.camera")

Kind = Literal["read", "describe"]

_THING = (
    r"(?:this|that|it|these|the (?:sign|label|text|writing|words|page|menu|note|screen|letter|card|book))"
)
_READ = (
    rf"read {_THING}(?: out)?(?: (?:out )?(?:loud|aloud))?",
    rf"what (?:does|do) {_THING} say",
    r"what is written (?:here|there|on (?:this|that|it))",
)
_DESCRIBE = (
    r"what am i looking at",
    r"what (?:do|can) you see",
    r"what is (?:this|that|in front of me)",
    r"describe (?:this|that|what you see|what i am looking at)",
    r"(?:take|have) a look",
    r"look at (?:this|that)",
)
_BEFORE = r"(?:(?:hey|ok|okay|so|um|uh|please|and|now|samantha|can you|could you|would you|will you)\s+)*"
_AFTER = r"(?:\s+(?:please|for me|to me|now|right now|here|there))*"
_CONTRACTIONS = {"what's": "what is", "i'm": "i am", "whats": "what is", "that's": "that is"}
_PATTERNS: list[tuple[re.Pattern[str], Kind]] = [
    (re.compile(rf"^{_BEFORE}{core}{_AFTER}$"), kind)
    for cores, kind in ((_READ, "read"), (_DESCRIBE, "describe"))
    for core in cores
]

CANT_SEE = "I can't see right now."
NO_WRITING = "I can't see any writing."
DARK = "It's too dark for me to read anything."


def normalise(text: str) -> str:
    """`text.plain` without its clock colons and hyphens, contractions spelled out ("what's" ->
    "what is")."""
    return " ".join(_CONTRACTIONS.get(w, w) for w in re.sub(r"[-:]", " ", plain(text)).split())


def match(text: str) -> Kind | None:
    """Which camera command `text` is, if it is one."""
    said = normalise(text)
    for pattern, kind in _PATTERNS:
        if pattern.match(said):
            return kind
    return None


class CameraIntent:
    """`capture` takes one picture (a camera driver's `capture`); `on_capture(True/False)` brackets it,
    for the status indicator. Long text is cut to `max_words` so a page is not read out for minutes."""

    def __init__(
        self,
        capture: Callable[[], np.ndarray],
        vision: Vision | None = None,
        on_capture: Callable[[bool], None] | None = None,
        max_words: int = 60,
    ) -> None:
        self.capture = capture
        self.vision = vision or Vision()
        self.on_capture = on_capture
        self.max_words = max_words

    def __call__(self, text: str) -> str | None:
        return self.look(text)

    def claims(self, text: str) -> bool:
        return match(text) is not None

    def look(self, text: str) -> str | None:
        kind = match(text)
        if kind is None:
            return None
        try:
            image = self._take_picture()
        except CameraError as e:
            log.warning("camera: %s", e)
            return CANT_SEE
        try:
            if kind == "describe":
                return self.vision.describe(image)
            if brightness(image) < TOO_DARK:
                return DARK
            read = self.vision.read_text(image)
        except Exception:  # a broken picture or OCR must not take the conversation down with it
            log.exception("vision failed")
            return "Sorry, something went wrong when I looked."
        return f"It says: {self._cut(spoken_text(read))}" if read else NO_WRITING

    def _take_picture(self) -> np.ndarray:
        self._signal(True)
        try:
            return self.capture()
        finally:
            self._signal(False)

    def _signal(self, active: bool) -> None:
        if self.on_capture is not None:
            try:
                self.on_capture(active)
            except Exception:
                log.exception("on_capture failed")

    def _cut(self, text: str) -> str:
        words = text.split()
        if len(words) <= self.max_words:
            return text
        return " ".join(words[: self.max_words]).rstrip(".,;:") + "… and there's more."
