"""The conversation state machine: mic frames in, spoken replies out.

    IDLE --wake word / tap--> LISTENING --end of turn--> THINKING --first sound--> SPEAKING
      --reply done--> LISTENING for a follow-up (no wake word) --quiet--> IDLE
    any state <--mute / unmute--> MUTED (the microphone is ignored; confirmations are still spoken)

A tap, the owner's voice (when it is not our own echo) or a stop phrase interrupts THINKING and
SPEAKING: playback stops at once, the work in flight is cancelled, only the words actually played stay
in the history, and the companion listens. An early reply is made while still LISTENING and may be
heard from there (LISTENING -> SPEAKING). Every change of state is checked against `TRANSITIONS`.

The other jobs live beside this file: when the owner has finished (`end_of_turn.Endpointer`), one
reply and the worker that makes it (`reply.py`), the history and prompt (`history.py`), and timing a
turn (`metrics.py`).

Threads, and what each owns:
- the microphone thread (`feed`): the endpointer, the echo gate, the pre-roll and recent frames, the
  barge-in and quiet counters, and the listening turn (`_turn`);
- the reply thread: its `Reply`'s chunks and turn marks; it writes the history (`Conversation` has
  its own lock) and changes state only through `_on_first_audio` and `_on_reply_done`;
- any thread (button, control socket): `tap`, `interrupt`, `set_muted`, `announce`.
Every state change, and the hand-off of `_reply`, happens under `_lock`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from device.pipeline import events as ev
from device.pipeline import metrics
from device.pipeline.announce import MUTED, UNMUTED, Announcements
from device.pipeline.audio import FRAME_MS
from device.pipeline.end_of_turn import Endpointer
from device.pipeline.events import State, Steer, Turn
from device.pipeline.hearing import CUT_LEAD, Hearing
from device.pipeline.history import Conversation
from device.pipeline.reply import Reply, ReplyStages
from device.pipeline.settings import LoopSettings
from device.pipeline.stages import (
    AudioSink,
    Dialogue,
    EchoCanceller,
    Intents,
    SpeechToText,
    TextToSpeech,
    TurnModel,
    Vad,
    WakeWord,
)
from device.pipeline.voice_check import OwnerVoice
from device.pipeline.worker import ReplyWorker

log = logging.getLogger("os1.loop")

S = State
TRANSITIONS: dict[State, frozenset[State]] = {
    S.IDLE: frozenset({S.LISTENING, S.THINKING, S.MUTED}),
    S.LISTENING: frozenset({S.IDLE, S.THINKING, S.SPEAKING, S.MUTED}),
    S.THINKING: frozenset({S.SPEAKING, S.LISTENING, S.IDLE, S.MUTED}),
    S.SPEAKING: frozenset({S.LISTENING, S.IDLE, S.MUTED}),
    S.MUTED: frozenset({S.IDLE, S.THINKING}),  # unmute; a confirmation spoken while muted
}


class BadTransition(RuntimeError):
    """A change of state the machine does not allow: a bug, never the owner's doing."""


@dataclass(frozen=True)
class LoopParts:
    """What the loop is made of: its engines and the companion's hooks into each reply. Frozen: the
    loop takes changes whole (`VoiceLoop.reconfigure`), and a reply keeps the parts it began with."""

    vad: Vad
    stt: SpeechToText
    dialogue: Dialogue
    tts: TextToSpeech
    sink: AudioSink
    wake: WakeWord | None
    system_prompt: str
    wake_phrase: str = ""
    """The words of the wake phrase, to strip from transcripts."""
    aec: EchoCanceller | None = None
    """Takes the earpiece's echo out of the mic before anything listens."""
    intents: Intents | None = None
    """Replies for requests that must not be left to a tiny model (the clock, reminders, memory
    commands, care). None lets the LLM answer."""
    context: Callable[[str], str] | None = None
    """Extra system text for a request (memories about it), put just before the owner's words so the
    cached prefix of system prompt and history still matches."""
    turn_model: TurnModel | None = None
    """Ends the turn after a short pause when the audio sounds finished (settings.smart_turn_ms)."""
    steer: Callable[[str], Steer | None] | None = None
    """How a reply should go, from the owner's words (their mood); None: as the LLM says it."""
    voice: OwnerVoice | None = None
    """Tells the owner's voice from others; None when there is no voiceprint or the check is off."""

    def for_reply(self, settings: LoopSettings) -> ReplyStages:
        """What a reply begun now is made with."""
        return ReplyStages(
            self.stt, self.dialogue, self.tts, self.sink, settings, self.system_prompt,
            self.wake_phrase, self.intents, self.context, self.steer,
        )  # fmt: skip


@dataclass
class VoiceLoop:
    parts: LoopParts
    settings: LoopSettings = field(default_factory=LoopSettings)
    on_turn: Callable[[Turn], None] | None = None
    """Each finished turn (heard, answered, or cut off), on the reply thread."""
    on_state: Callable[[State], None] | None = None
    """Each change of state (the LED), under the loop's lock."""
    clock: Callable[[], float] = time.monotonic

    state: State = field(default=State.IDLE, init=False)

    def __post_init__(self) -> None:
        p = self.parts
        self._lock = threading.RLock()
        self.conversation = Conversation(self.settings.history_turns)
        self._endpoint = Endpointer(self.settings, p.turn_model)
        self._hearing = Hearing(p.vad, p.sink.playback, p.aec, self.settings.preroll_ms)
        self._worker = ReplyWorker(
            self.conversation,
            self._lock,
            lambda _reply: self._set_state(State.SPEAKING),
            self._on_reply_done,
            self.clock,
        )  # the first sound of a reply: SPEAKING, under the lock
        self._not_replying = threading.Event()  # cleared while a reply is being made
        self._not_replying.set()
        self._reply: Reply | None = None  # the reply in flight, until it ends or is interrupted
        self._reply_thread: threading.Thread | None = None
        self._turn: Turn | None = None  # the turn being listened to
        self._continues: Turn | None = None  # the cut-off request the one being listened to goes on with
        self._announcements = Announcements()
        self._muted = False
        self._barge_ms = 0
        # One handler per state (feed returns before MUTED's: nothing is listened to then).
        on = {S.IDLE: self._on_idle, S.LISTENING: self._on_listening, S.MUTED: lambda *_: None}
        self._handlers = {**on, S.THINKING: self._on_replying, S.SPEAKING: self._on_replying}

    history = property(lambda self: self.conversation.messages, doc="The conversation, as the LLM reads it.")

    def update_settings(self, settings: LoopSettings) -> None:
        """New timings and thresholds (a reload), from the next request on."""
        with self._lock:
            self.settings = settings
            self.conversation.max_turns = settings.history_turns

    def reconfigure(self, **changes: object) -> None:
        """New parts (`system_prompt=`, `wake=`, …); a reply in flight keeps the ones it began with."""
        with self._lock:
            self.parts = replace(self.parts, **changes)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- input: every frame
    def feed(self, frame: np.ndarray, t: float | None = None) -> None:
        t = self.clock() if t is None else t
        if self._announcements:
            self._maybe_announce(t)
        if self._muted:
            return  # privacy: nothing the mic hears is listened to
        heard = self._hearing.hear(frame, t, self.state is State.IDLE, self.settings)
        with self._lock:
            self._handlers[self.state](heard.frame, heard.p, heard.speech, heard.echo_possible, t)

    def _on_idle(self, frame: np.ndarray, _p: float, _speech: bool, echo_possible: bool, t: float) -> None:
        # Gated while our own voice may be in the mic: the companion must not wake itself.
        if self.parts.wake is not None and not echo_possible:
            score = self.parts.wake.process(frame)
            if score is not None:
                log.info("wake word %s (score %.2f)", self.parts.wake.name, score)
                last_speech_t = self._hearing.last_speech_t
                turn = self._start_listening(self.parts.wake.name, score, t, preroll=True)
                turn.timings_ms["wake"] = max(0.0, (t - last_speech_t) * 1000) if last_speech_t else 0.0
                turn.marks[ev.WAKE] = t

    def _on_replying(self, frame: np.ndarray, _p: float, speech: bool, _echo: bool, t: float) -> None:
        """THINKING or SPEAKING: the owner talking over the reply (not our own echo) interrupts it."""
        self._barge_ms = self._barge_ms + FRAME_MS if speech else 0
        if self.settings.barge_in and self._barge_ms >= self.settings.barge_in_ms:
            log.info("barge-in: the user is speaking")
            self._barge_ms = 0
            self.interrupt("voice", t)

    def _on_listening(self, frame: np.ndarray, p: float, _speech: bool, _echo: bool, t: float) -> None:
        turn = self._turn
        assert turn is not None
        self.parts.stt.accept(frame)
        early = self._reply if self._reply is not None and self._reply.early else None
        pending = early is not None and ev.AUDIBLE not in early.turn.marks  # not yet allowed to be heard
        ep = self._endpoint.update(frame, p, t, list(self._hearing.recent), self.parts.stt.partial, pending)
        if ep.speaking and ev.SPEECH_START not in turn.marks:
            turn.marks[ev.SPEECH_START] = t - FRAME_MS / 1000
        if ep.words_stopped and self.parts.stt.capabilities.speculate and not self.settings.sequential:
            self.parts.stt.speculate()  # Whisper transcribes during the silence window
        if ep.smart_turn is not None:
            metrics.smart_turn_verdict(turn, *ep.smart_turn)
        if early is not None and ep.speaking:
            self._drop_early_reply(early)  # the owner went on: the utterance continues
            early = None
        if ep.timed_out:
            log.info("no speech; back to idle")
            self.parts.stt.drop()
            self._set_state(State.IDLE)
            return
        if early is not None and ep.early_audible:
            early.turn.marks[ev.AUDIBLE] = t
            early.authorize()
        if ep.done:
            if early is not None:  # the early reply is now the answer, heard or not yet
                early.turn.marks[ev.TURN_SURE] = t
                self._set_state(State.THINKING)
                early.authorize()
                early.confirm()
                return
            self._begin_reply(t, early=False)
        elif early is None and ep.early_due and self.parts.stt.capabilities.hypothesis:
            self._begin_reply(t, early=True)

    # ---------------------------------------------------------------- starting to listen
    def tap(self, t: float | None = None) -> None:
        """The button: attention when idle, an interrupt while thinking or speaking."""
        with self._lock:
            if self.state is State.IDLE:
                self.addressed(t, source="tap")
            elif self.state in (State.THINKING, State.SPEAKING):
                self.interrupt("tap")

    def addressed(self, t: float | None = None, source: str = "tap") -> None:
        """Listen without a wake word: a button tap, or a recording already addressed to us."""
        with self._lock:
            if self.state is State.IDLE:
                turn = self._start_listening(None, None, self.clock() if t is None else t, preroll=False)
                turn.tapped = source == "tap"  # a hand on the device (settings.tap_is_owner)
                log.info("listening (%s)", source)

    # fmt: off
    def _start_listening(
        self, wake: str | None, score: float | None, t: float, preroll: bool,
        timeout_s: float | None = None, preroll_ms: int | None = None, speech_ms: int = 0,
    ) -> Turn:
        # fmt: on
        """Listen; with `preroll`, what was said just before (its last `preroll_ms`) goes first."""
        self._set_state(State.LISTENING)
        self._turn = turn = Turn(wake=wake, transcript="", wake_score=score)
        self._continues = None
        turn.marks[ev.LISTEN] = t
        self.parts.stt.start()
        cut = wake is not None and self.settings.cut_wake_phrase  # the request starts after the phrase
        frames = self._hearing.take_preroll(preroll_ms if preroll else 0, after_wake=cut)
        if cut:
            self.parts.stt.accept(CUT_LEAD)
        for f in frames:
            self.parts.stt.accept(f)
        self._endpoint.start(t, self.settings, timeout_s, frames, speech_ms, voice=self.parts.voice)
        return turn

    # ---------------------------------------------------------------- replies
    def _begin_reply(self, t: float, early: bool) -> None:
        """Start the reply; an early one leaves the loop listening, and speech again drops it."""
        turn = self._turn
        assert turn is not None
        metrics.reply_began(turn, self._endpoint.speech_end_t, t, early)
        if not early:
            self._set_state(State.THINKING)
        self._launch(turn, early=early, continues=self._continues, voice=self._endpoint.voice_verdict())

    def _launch(self, turn: Turn, text: str | None = None, **how: object) -> None:
        """A reply to `turn` (or `text` to say), made on its own thread with the parts of this moment."""
        played = self.parts.sink.playback.played_s
        reply = Reply(turn, self.parts.for_reply(self.settings), played_at_start=played, **how)  # type: ignore[arg-type]
        self._not_replying.clear()
        self._reply = reply
        self._reply_thread = self._worker.start(reply, self._reply_thread, text)

    def _drop_early_reply(self, reply: Reply) -> None:
        """Cancel an early reply before it is heard; the listening turn goes on as a fresh one."""
        reply.cancel("the owner went on")
        self._reply = None
        self._turn = reply.turn.restart()
        log.info("early reply dropped: the owner went on")

    def _on_reply_done(self, reply: Reply, follow_up: bool) -> None:
        """The reply thread: the reply has been spoken, cut off, or dropped."""
        with self._lock:
            if reply.dropped:  # never heard: no history, no turn; the loop is still listening
                return self._not_replying.set() if self._reply is None else None
            if (wake := self.parts.wake) is not None:
                wake.reset()
            if self._reply is reply:  # not interrupted (an interrupt already moved on to listening)
                self._reply = None
                if follow_up and not reply.typed and not self._muted and self.settings.follow_up_s > 0:
                    turn = self._start_listening(None, None, self.clock(), False, self.settings.follow_up_s)
                    turn.follow_up = True
                else:
                    self._set_state(State.MUTED if self._muted else State.IDLE)
        if self.on_turn is not None:  # before wait_reply() returns: a caller then finds the turn
            self.on_turn(reply.turn)
        with self._lock:
            if self._reply is None:
                self._not_replying.set()

    # ---------------------------------------------------------------- interrupt
    def interrupt(self, source: str, t: float | None = None) -> None:
        """Stop the reply now: playback first, then the work in flight. Then listen to the owner."""
        with self._lock:
            reply = self._reply
            if reply is not None and reply.early and self.state is State.LISTENING:
                self._drop_early_reply(reply)  # nothing has been said yet: nothing to stop
                return
            if reply is None or self.state not in (State.THINKING, State.SPEAKING):
                return
            t = self.clock() if t is None else t
            reply.cut(source, t, self.parts.sink.stop, self.clock)  # playback first, then the work
            self._reply = None
            log.info("interrupted by %s", source)
            # Listen at once, with only the speech that triggered a voice barge-in (earlier frames hold echo).
            voice, ms = source == "voice", self.settings.barge_in_ms
            turn = self._start_listening(
                None, None, t, voice, preroll_ms=ms + 320, speech_ms=ms if voice else 0
            )
            if voice:  # the owner is mid-sentence: the turn has speech already
                turn.marks[ev.SPEECH_START] = t - self.settings.barge_in_ms / 1000
                heard_s = t - reply.turn.marks.get(ev.FIRST_AUDIO, t)
                if heard_s <= self.settings.continue_within_s:
                    self._continues = reply.turn  # they had only paused: the same request goes on
                    log.info("the owner went on after %.1f s of the reply: one request", heard_s)

    # ---------------------------------------------------------------- typed turns
    def begin_typed(
        self, text: str, speak: bool = False, on_text: Callable[[str], None] | None = None
    ) -> Turn | None:
        """A typed turn (os1 ask / chat), answered as a spoken one is, begun now if the loop is free
        (else None); `speak` also says it, unless muted. `wait_reply()` then waits for it."""
        turn = Turn(wake=None, transcript=text.strip(), typed=True)
        return (
            turn
            if self._launch_if_free(turn, typed=True, speak=speak and not self._muted, on_text=on_text)
            else None
        )

    def _launch_if_free(self, turn: Turn, text: str | None = None, **how: object) -> bool:
        """Begin `turn` (or say `text`) now if the loop is idle or muted with no reply in flight."""
        with self._lock:
            if self.state not in (State.IDLE, State.MUTED) or not self._not_replying.is_set():
                return False
            turn.marks[ev.LISTEN] = turn.marks[ev.SPEECH_END] = turn.marks[ev.END_OF_TURN] = self.clock()
            self._set_state(State.THINKING)
            self._launch(turn, text, **how)
            return True

    # ---------------------------------------------------------------- unprompted speech and mute
    def announce(self, text: str, even_if_muted: bool = False) -> None:
        """Say `text` at the next pause: not over the owner or a reply, not while muted. Thread-safe."""
        self._announcements.add(text, even_if_muted)

    def _maybe_announce(self, t: float) -> None:
        with self._lock:
            free = self.state in (State.IDLE, State.MUTED) and self._not_replying.is_set()
            text = self._announcements.take(free, self._muted, self._hearing.quiet_ms)
            if text is not None:
                self._launch_if_free(Turn(wake=None, transcript="", answered_by="announce"), text)

    muted = property(lambda self: self._muted, doc="Privacy mute is on.")

    def set_muted(self, muted: bool, confirm: bool = True, after_reply: bool = False) -> None:
        """Privacy mute: the mic is ignored until unmuted. A reply stops first (ends first: `after_reply`)."""
        with self._lock:
            if muted == self._muted:
                return
            if muted and not after_reply:
                self.interrupt("mute")
                if self.state is State.LISTENING:
                    self.parts.stt.drop()
            self._muted = muted
            if self.state in (State.IDLE, State.LISTENING, State.MUTED):
                self._set_state(State.MUTED if self._muted else State.IDLE)
            log.info("muted" if muted else "unmuted")
            if confirm:
                self.announce(MUTED if muted else UNMUTED, True)

    # ---------------------------------------------------------------- state
    def _set_state(self, state: State) -> None:
        if state is self.state:
            return
        if state not in TRANSITIONS[self.state]:
            raise BadTransition(f"{self.state.value} -> {state.value}")
        log.debug("state %s -> %s", self.state.value, state.value)
        self.state = state
        if self.on_state is not None:
            self.on_state(state)

    mid_request = property(
        lambda self: self.state is State.LISTENING and self._endpoint.heard_speech,
        doc="Listening, and the owner has started speaking.",
    )

    def wait_reply(self, timeout_s: float | None = None) -> bool:
        """Block until the reply being made (if any) has been spoken or cut off."""
        return self._not_replying.wait(timeout_s)

    def wait_turn_check(self, timeout_s: float | None = None) -> None:
        """Block until the end-of-turn model's verdict is in (a recording fed faster than real time)."""
        self._endpoint.wait_check(timeout_s)


def wait_worker(loop: VoiceLoop, timeout_s: float | None = None) -> None:
    """Block until the loop's reply thread has ended, the prefill of the next turn included: a process
    that exits while llama.cpp is mid-decode on that thread segfaults (seen under emulated ARM)."""
    if loop._reply_thread is not None:
        loop._reply_thread.join(timeout_s)


def hearing_lost(loop: VoiceLoop) -> bool:
    """The microphone went: a request being heard is dropped, not answered from half its words
    (pulled mid-sentence, "Remember that my locker code" was kept as a memory). True if one was."""
    with loop._lock:
        if loop.state is not State.LISTENING:
            return False
        if loop._reply is not None and loop._reply.early:
            loop._reply.cancel("the microphone went")
            loop._reply = None
        loop.parts.stt.drop()
        loop._set_state(State.IDLE)
        log.info("the microphone went mid-request: what was heard is dropped")
        return True
