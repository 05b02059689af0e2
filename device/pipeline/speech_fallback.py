"""The server's ears and voice in front, the board's behind them, as the mind's are (llm/fallback.py).

Each has a deadline: the transcript within `deadline_s` of the end of speech, each sentence's audio
starting within it and never pausing longer. When the server misses it (or is unreachable, or errs),
the board's engine does the same work at once, the failure is logged once per outage, and the
server is retried in the background (ServerHealth), never on the owner's turn.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from device.pipeline.server_health import ServerHealth
from device.pipeline.stages import CannotHear, SpeechToText, SttCapabilities
from device.pipeline.text import split_sentences
from device.pipeline.tts import Prosody, VoiceTTS
from device.pipeline.wyoming import WyomingError, WyomingSTT, WyomingTTS

log = logging.getLogger("os1.wyoming")

# What a board with no ears of its own says when the server's are gone (a Pi Zero front end).
NO_EARS = "I can't reach my home server right now, so I couldn't hear that. Try again in a minute."


class FallbackSTT:
    """`stages.SpeechToText`: the server transcribes while it is up; the board's engine when not.

    While the server is used, the utterance's audio is kept, so a failure at the end is transcribed on
    the board from the same audio. With no board engine (`local` None), a failure raises CannotHear:
    the board says so.
    """

    capabilities = SttCapabilities()  # the server answers only at the end: no early reply over it

    def __init__(
        self, remote: WyomingSTT, local: SpeechToText | None, health: ServerHealth, deadline_s: float
    ):
        self.remote = remote
        self.local = local
        self.health = health
        self.deadline_s = deadline_s
        self.last_engine = ""
        """"server" or "board": who transcribed the last utterance."""
        self.takeovers = 0
        self._on_server = False
        self._audio: list[np.ndarray] = []

    def start(self) -> None:
        self._on_server = self.health.up or self.local is None
        self._audio = []
        if self._on_server:
            self.remote.start()
        elif self.local is not None:
            self.local.start()

    def accept(self, frame: np.ndarray) -> None:
        if self._on_server:
            self._audio.append(np.array(frame, copy=True))
            self.remote.accept(frame)
        elif self.local is not None:
            self.local.accept(frame)

    def partial(self) -> str:
        return "" if self._on_server or self.local is None else self.local.partial()

    def hypothesis(self) -> str:
        return ""

    def speculate(self) -> None:
        if not self._on_server and self.local is not None:
            self.local.speculate()

    def finish(self) -> str:
        if not self._on_server:
            self.last_engine = "board"
            return self.local.finish() if self.local is not None else ""
        try:
            text = self.remote.finish(self.deadline_s)
            self.last_engine = "server"
            return text
        except WyomingError as e:
            self.health.failed(str(e))
            self.takeovers += 1
            self.last_engine = "board"
            if self.local is None:
                raise CannotHear(NO_EARS) from e
            self.local.start()  # the same frames, as they came
            for frame in self._audio:
                self.local.accept(frame)
            return self.local.finish()
        finally:
            self._audio = []

    def drop(self) -> None:
        self._audio = []
        if self._on_server:
            self.remote.drop()
        elif self.local is not None:
            self.local.drop()

    def status(self) -> dict[str, object]:
        return _status(self.last_engine, self.health, self.takeovers)


class FallbackTTS:
    """`VoiceTTS`: each sentence from the server while it keeps the deadline, else from the board's
    Piper. A sentence's audio comes whole, so a failure mid-sentence says that sentence once, on the
    board. With no board voice (`local` None), a failed sentence is not heard."""

    def __init__(self, remote: WyomingTTS, local: VoiceTTS | None, health: ServerHealth, deadline_s: float):
        self.remote = remote
        self.local = local
        self.health = health
        self.deadline_s = deadline_s
        self.sample_rate = remote.sample_rate
        self.last_engine = ""
        self.takeovers = 0

    @property
    def prosody(self) -> Prosody:
        return self.local.prosody if self.local is not None else self.remote.prosody

    def synthesize(self, text: str, prosody: Prosody | None = None) -> Iterator[np.ndarray]:
        for sentence in split_sentences(text):
            if self.health.up:
                try:
                    audio = list(self.remote.synthesize(sentence, prosody, self.deadline_s))
                    self.last_engine = "server"
                    yield from audio
                    continue
                except WyomingError as e:
                    self.health.failed(str(e))
                    self.takeovers += 1
            self.last_engine = "board"
            if self.local is not None:
                yield from self.local.synthesize(sentence, prosody)

    def synthesize_all(self, text: str) -> np.ndarray:
        parts = list(self.synthesize(text))
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)

    def status(self) -> dict[str, object]:
        return _status(self.last_engine, self.health, self.takeovers)


def _status(last: str, health: ServerHealth, takeovers: int) -> dict[str, object]:
    out: dict[str, object] = {"last": last or "none yet", "server": "up" if health.up else "down"}
    if not health.up and health.last_error:
        out["server_error"] = health.last_error
    out["takeovers"] = takeovers
    return out
