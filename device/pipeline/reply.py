"""One reply as an object with an explicit phase, and the worker that turns a transcript into sound.

    MAKING --first sound synthesized--> HELD --allowed to be heard--> AUDIBLE --spoken--> DONE
    any phase before DONE --cancel(reason)--> CUT (the owner heard some of it, or it was sure)
                                          or DROPPED (an early reply the owner talked on over)

`Reply.cancel(reason)` is the only way a reply ends early. An early reply (made before the turn was
certain) is held until `authorize()` (early_reply_ms of quiet) and, for words that read unfinished,
until `confirm()` (the full silence window). `worker.ReplyWorker` makes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum

from device.pipeline import events as ev
from device.pipeline.events import Steer, Turn
from device.pipeline.settings import LoopSettings
from device.pipeline.stages import AudioSink, Dialogue, Intents, SpeechToText, TextToSpeech
from device.pipeline.voice_check import Verdict

log = logging.getLogger("os1.reply")


class Phase(StrEnum):
    MAKING = "making"
    HELD = "held"
    AUDIBLE = "audible"
    DONE = "done"
    CUT = "cut"
    DROPPED = "dropped"


@dataclass(frozen=True)
class ReplyStages:
    """What one reply is made with, taken when it begins: a live reload changes the next reply."""

    stt: SpeechToText | None
    """None for typed turns only (the text door has no microphone)."""
    dialogue: Dialogue
    tts: TextToSpeech | None
    """None for typed turns only, never spoken."""
    sink: AudioSink | None
    settings: LoopSettings
    system_prompt: str
    wake_phrase: str = ""
    """The words of the wake phrase, to strip from transcripts."""
    intents: Intents | None = None
    """Asked before the LLM; None lets the LLM answer everything."""
    context: Callable[[str], str] | None = None
    """What memory recalls for a request, sent with it."""
    steer: Callable[[str], Steer | None] | None = None
    """How the reply should go, from the owner's words (their mood); None: as the LLM says it."""


@dataclass(eq=False)
class Reply:
    """One reply in flight: its turn, its phase and what has been sent to the earpiece."""

    turn: Turn
    stages: ReplyStages
    early: bool = False
    """Made before the end of the turn was certain (LoopSettings.early_reply_ms)."""
    continues: Turn | None = None
    """The request this one goes on with (LoopSettings.continue_within_s)."""
    played_at_start: float = 0.0
    """The earpiece's playback total when the reply began: what was heard is the difference."""
    context: str = ""
    """What memory recalled for the request, sent with it."""
    steer: Steer | None = None
    """How this reply is steered (its opening, what it must not say), if at all."""
    unfinished: bool = False
    """An early reply to words that read unfinished ("What is the capital of?"): made at once but
    heard only once the turn is sure, since the owner is probably going on."""
    typed: bool = False
    """The owner's words came typed: the transcript is the turn's, no STT."""
    speak: bool = True
    """Say it through the earpiece; False: text only (os1 ask / chat)."""
    on_text: Callable[[str], None] | None = None
    """Each piece of the reply as it is made (spoken: as it goes to the earpiece)."""
    voice: Future[Verdict] | None = None
    """The check of whose voice the request was in (made while the end-of-turn silence ran)."""
    chunks: list[tuple[str, float]] = field(default_factory=list)
    """(text, seconds of audio) per chunk sent to the earpiece (0 s for a text-only reply)."""
    phase: Phase = Phase.MAKING
    cancel_reason: str = ""
    _cancelled: threading.Event = field(default_factory=threading.Event)
    _first_sound: threading.Event = field(default_factory=threading.Event)
    _sure: threading.Event = field(default_factory=threading.Event)
    _authorized: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.early:  # nothing to wait for
            self._sure.set()
            self._authorized.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def cancel_event(self) -> threading.Event:
        """Set once the reply is cancelled: the LLM stream watches it."""
        return self._cancelled

    @property
    def dropped(self) -> bool:
        return self.phase is Phase.DROPPED

    def cancel(self, reason: str) -> bool:
        """End the reply now. Before the turn was sure it is DROPPED (never heard: no history, no
        turn), after it CUT. Releases everything that waits on the reply. False if it had ended."""
        with self._lock:
            if self.phase in (Phase.DONE, Phase.CUT, Phase.DROPPED):
                return False
            self.phase = Phase.CUT if self._sure.is_set() else Phase.DROPPED
            self.cancel_reason = reason
            self._cancelled.set()
        for event in (self._first_sound, self._sure, self._authorized):
            event.set()  # an LLM waiting for the first chunk's speech, a held first sound
        return True

    def cut(self, source: str, t: float, stop: Callable[[], None], clock: Callable[[], float]) -> None:
        """Interrupted (a tap, the owner's voice, mute): playback stops first, then the work in flight.
        Called under the loop's lock, so no chunk is played in between."""
        self.turn.marks[ev.INTERRUPT] = t
        self.turn.interrupted = source
        stop()  # this frees the worker, which may finish the turn before the lines below have run
        stopped = self.turn.marks[ev.PLAYBACK_STOPPED] = clock()
        self.turn.timings_ms["barge_in_stop"] = (stopped - t) * 1000
        self.cancel(source)

    def confirm(self) -> None:
        """The turn has certainly ended: this is the answer."""
        self._sure.set()

    def authorize(self) -> None:
        """The reply may be heard (an early one, after early_reply_ms of quiet)."""
        self._authorized.set()

    def wait_until_sure(self) -> bool:
        """Block until the turn has certainly ended; False if the owner went on (dropped)."""
        self._sure.wait()
        return not self.dropped

    def wait_until_audible(self) -> None:
        """Hold the first sound until it may be heard."""
        with self._lock:
            if self.phase is Phase.MAKING:
                self.phase = Phase.HELD
        self._authorized.wait()
        if self.unfinished:
            self._sure.wait()

    def sounded(self) -> None:
        """The first sound is going to the earpiece (called under the loop's lock)."""
        with self._lock:
            self.phase = Phase.AUDIBLE
        self._sure.set()  # from here the owner's voice is a barge-in, not a pause
        self._first_sound.set()

    def wait_first_sound(self, timeout_s: float) -> None:
        self._first_sound.wait(timeout=timeout_s)

    def mark_first_sound(self) -> None:
        """Release an LLM waiting for the first chunk even if it had nothing to say ("(laughs)")."""
        self._first_sound.set()

    def finish(self) -> None:
        with self._lock:
            if self.phase not in (Phase.CUT, Phase.DROPPED):
                self.phase = Phase.DONE
