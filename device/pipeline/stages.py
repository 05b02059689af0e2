"""Every stage contract of the pipeline, in one place. Audio is 16 kHz mono int16 (`audio.py`).

An engine implements one of these Protocols; the loop and the reply worker know engines only through
them. Optional abilities are declared, not probed: an engine says what it can do in its
`capabilities`, and the loop asks that instead of looking for methods.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from device.pipeline.audio import PlaybackLog
    from device.pipeline.events import DialogueStats, Message
    from device.pipeline.settings import DialogueSettings


class Vad(Protocol):
    """Voice activity: the probability that a frame is speech."""

    def probability(self, frame: np.ndarray) -> float:
        """Speech probability of one 512-sample (32 ms) frame."""
        ...

    def reset(self) -> None:
        """Forget the audio heard so far (its recurrent state)."""
        ...


class WakeWord(Protocol):
    """Spots the wake phrase in a stream of frames of any length."""

    name: str

    def process(self, frame: np.ndarray) -> float | None:
        """Feed int16 16 kHz samples; the detection score when the phrase is heard, else None."""
        ...

    def reset(self) -> None:
        """Forget what was heard, so one utterance cannot fire twice."""
        ...


@dataclass(frozen=True)
class SttCapabilities:
    """What a speech-to-text engine can do besides start/accept/finish."""

    hypothesis: bool = False
    """It can say what it has heard so far without ending the utterance (`hypothesis()`), safe to call
    from another thread while `accept()` goes on: early replies need this."""
    speculate: bool = False
    """It can start transcribing when the words stop (`speculate()`) and drop the guess if more
    speech comes: a segment engine (Whisper) hides its cost in the end-of-turn silence."""


class CannotHear(Exception):
    """`finish()` had no way to hear the utterance (the server's ears gone, none on the board). The
    message is one short sentence for the owner, saying so."""


class SpeechToText(Protocol):
    """An utterance is `start()`, `accept()` per frame, then `finish()` (which may raise CannotHear)."""

    capabilities: SttCapabilities

    def start(self) -> None:
        """Begin an utterance (drops anything left from the previous one)."""
        ...

    def accept(self, frame: np.ndarray) -> None:
        """Feed int16 16 kHz mono samples (any length)."""
        ...

    def partial(self) -> str:
        """The best current hypothesis, "" if none yet (cheap; from the caller's thread)."""
        ...

    def hypothesis(self) -> str:
        """What was heard so far, decoded now, the utterance going on (if capabilities.hypothesis)."""
        ...

    def speculate(self) -> None:
        """The words have stopped: start on the transcript now (a no-op unless capabilities.speculate)."""
        ...

    def finish(self) -> str:
        """The final transcript of the utterance."""
        ...

    def drop(self) -> None:
        """Abandon the utterance with no transcript (no speech came, or the owner muted). Cheap: the
        microphone's thread calls it, so it never decodes and never waits on a server."""
        ...


@dataclass(frozen=True)
class DialogueCapabilities:
    """What a dialogue engine can do besides streaming a reply."""

    prime: bool = False
    """It keeps a prompt's KV cache between calls, so `prime()` (prefill the next prompt while the
    owner thinks) makes the next reply start sooner."""


class Dialogue(Protocol):
    """Chat messages in, speakable text out, streamed piece by piece."""

    capabilities: DialogueCapabilities
    last_stats: DialogueStats
    settings: DialogueSettings

    def stream(
        self,
        messages: Sequence[Message],
        cancel: threading.Event | None = None,
        settings: DialogueSettings | None = None,
        prefix: str = "",
    ) -> Iterator[str]:
        """Yield the reply as text pieces, as soon as each is safe to speak. `settings` overrides the
        engine's own for this reply only; `prefix` is how the reply starts (yielded first)."""
        ...

    def reply(
        self,
        messages: Sequence[Message],
        cancel: threading.Event | None = None,
        settings: DialogueSettings | None = None,
        prefix: str = "",
    ) -> str:
        """The whole reply as one string."""
        ...

    def prime(self, messages: Sequence[Message]) -> int:
        """Prefill the prompt the next reply will start with; returns the tokens now cached."""
        ...


class TextToSpeech(Protocol):
    """Text in, audio out sentence by sentence."""

    sample_rate: int

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield int16 mono chunks at `sample_rate`, one per sentence, as soon as each is ready."""
        ...


class AudioSink(Protocol):
    """The earpiece (or a file standing in for it)."""

    playback: PlaybackLog
    """What was played and when: the echo reference, and how much of a reply was heard."""

    def play(self, audio: np.ndarray, rate: int) -> None:
        """Queue int16 mono audio; returns at once."""
        ...

    def drain(self) -> None:
        """Block until everything queued has been played (returns early after stop())."""
        ...

    def stop(self) -> None:
        """Drop everything not yet played; returns once the device has stopped taking it."""
        ...


class EchoCanceller(Protocol):
    """Takes the earpiece's echo out of the microphone before anything listens."""

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """The microphone frame with the echo of `reference` (what was played over it) removed."""
        ...


class TurnModel(Protocol):
    """Judges from the audio whether the speaker has finished (`turn.SmartTurn`)."""

    last_ms: float
    """How long the last call took."""

    def probability(self, audio: np.ndarray) -> float:
        """P(turn complete) for 16 kHz int16 audio ending now."""
        ...


class Intents(Protocol):
    """Replies the LLM must not make (the clock, reminders, memory commands, care): the companion's
    intent layer, asked before the LLM."""

    def __call__(self, text: str) -> str | None:
        """The reply to `text`, or None to let the LLM answer."""
        ...

    def claims(self, text: str) -> bool:
        """Whether `text` is a command some handler would take, without acting on it: an early reply
        never acts on half a sentence."""
        ...
