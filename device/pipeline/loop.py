"""The conversation state machine: mic frames in, spoken replies out.

IDLE --wake word / tap--> LISTENING --end of turn--> THINKING --first audio--> SPEAKING
  --reply done--> LISTENING for a follow-up (no wake word needed) --quiet--> IDLE.
A tap, the user's voice (when it is not our own echo) or a stop phrase interrupts THINKING and
SPEAKING: playback stops at once, the LLM and TTS work in flight is cancelled, only the words
actually played stay in the history, and the companion listens.

Frames arrive on the caller's thread (the microphone's). A reply is made on worker threads so capture
never stalls: the LLM streams text into a chunker on one thread; the reply thread synthesizes each
chunk and hands it to the earpiece while the LLM writes the rest.
"""

from __future__ import annotations

import difflib
import logging
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from device.pipeline.audio import FRAME_MS, SAMPLE_RATE, block_dbfs, rms_dbfs, trim_leading_quiet
from device.pipeline.chunker import TRAILING_WORDS, Chunker, speakable
from device.pipeline.dialogue import Dialogue, Message
from device.pipeline.echo import EchoGate, PlaybackLog
from device.pipeline.events import State, Turn
from device.pipeline.stt import SpeechToText
from device.pipeline.tts import TextToSpeech
from device.pipeline.vad import EndOfTurn, SileroVad
from device.pipeline.wake import WakeWord

log = logging.getLogger("os1.loop")

STOP_PHRASES = ("stop", "wait", "hang on", "hold on", "be quiet", "shh", "quiet", "never mind", "enough")


class TurnModel(Protocol):
    """Judges from the audio whether the speaker has finished (device.pipeline.turn.SmartTurn)."""

    last_ms: float  # how long the last call took

    def probability(self, audio: np.ndarray) -> float:
        """P(turn complete) for 16 kHz int16 audio ending now."""
        ...


TURN_MODEL_FRAMES = 8000 // FRAME_MS  # the end-of-turn model hears the last 8 s


class EchoCanceller(Protocol):
    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray: ...


class AudioSink(Protocol):
    """The earpiece (or a file standing in for it)."""

    playback: PlaybackLog  # what was played and when: the echo reference, and how much was heard

    def play(self, audio: np.ndarray, rate: int) -> None:
        """Queue int16 mono audio; returns at once."""
        ...

    def drain(self) -> None:
        """Block until everything queued has been played (returns early after stop())."""
        ...

    def stop(self) -> None:
        """Drop everything not yet played; returns once the device has stopped taking it."""
        ...


@dataclass
class LoopSettings:
    end_of_turn_ms: int = 600  # this much silence ends the turn for certain
    # Make the reply as soon as the words stop, before the turn is certain, and let it be heard after
    # this much silence; if the owner speaks again before its first sound, it is dropped unheard and
    # the utterance goes on (0 = off: wait for end_of_turn_ms).
    early_reply_ms: int = 0
    quick_end_of_turn_ms: int = 0  # when the words so far make a finished sentence (0 = off)
    smart_turn_ms: int = 0  # after this much silence, ask the end-of-turn model (0 = off)
    smart_turn_threshold: float = 0.5  # its probability at or above which the turn ends then
    vad_threshold: float = 0.5
    preroll_ms: int = 800
    listen_timeout_s: float = 6.0
    max_utterance_s: float = 15.0
    history_turns: int = 6  # user+assistant pairs kept in the prompt
    follow_up_s: float = 5.0  # after a reply, listen this long without the wake word (0 = off)
    barge_in: bool = True  # the user's voice interrupts a reply
    barge_in_ms: int = 160  # speech (not echo) this long interrupts
    # Talking over a reply this soon after its first sound (or before it) goes on with the same
    # request: the owner had only paused. The cut reply is forgotten and both parts are answered.
    continue_within_s: float = 1.5
    stop_phrases: tuple[str, ...] = STOP_PHRASES
    sequential: bool = False  # benchmark baseline: full transcript, full reply, full speech, then play
    echo_gate: bool = True  # ignore our own voice in the mic (off only to show what it prevents)


def strip_wake_phrase(transcript: str, phrase: str) -> str:
    """Drop the wake phrase from the start of a transcript ("Hey Jarvis, what…" -> "what…").

    The pre-roll buffer hands the STT a little audio from before the wake word fired, so the phrase,
    or a mishearing of it ("Hey, Travis"), often leads the transcript.
    """
    if not phrase:
        return transcript
    words = transcript.split()
    target = re.sub(r"[^a-z ]", "", phrase.lower().replace("_", " "))
    n_phrase = len(target.split())
    best, best_ratio = 0, 0.7  # the head that matches the phrase best, if any matches well
    for n in range(1, min(len(words), n_phrase + 1) + 1):
        head = re.sub(r"[^a-z ]", "", " ".join(words[:n]).lower())
        ratio = difflib.SequenceMatcher(None, head, target).ratio()
        if ratio >= best_ratio:
            best, best_ratio = n, ratio
    rest = " ".join(words[best:]).lstrip(" ,.!?")
    return rest[:1].upper() + rest[1:] if best else transcript


def is_stop_phrase(transcript: str, phrases: tuple[str, ...] = STOP_PHRASES) -> bool:
    """ "Stop.", "Wait, wait", "OK hang on": a short request that only asks for quiet."""
    words = re.sub(r"[^a-z ]", " ", transcript.lower()).split()
    text = " ".join(w for w in words if w not in ("ok", "okay", "please", "no", "oh", "um", "jarvis", "hey"))
    return bool(words) and len(words) <= 4 and any(text.startswith(p) or text == p for p in phrases)


def looks_complete(hypothesis: str) -> bool:
    """Whether a transcript reads as a finished request: it ends a sentence, and not on a word that
    needs more after it ("the", "of", "and")."""
    text = hypothesis.strip()
    if not text or text[-1] not in ".?!" or text.endswith(("...", "…")):
        return False
    words = re.sub(r"[^a-z' ]", " ", text.lower()).split()
    return len(words) >= 2 and words[-1] not in TRAILING_WORDS and words[-1] not in FILLERS


FILLERS = {"um", "uh", "er", "erm", "hmm", "mm"}  # "Tell me, um." is not finished


def prompt_history_len(messages: int, max_turns: int) -> int:
    """How many of the latest history messages go into the prompt: at most `max_turns` exchanges,
    dropped half at a time. Sliding by one exchange every turn would change the prompt right after
    the system prompt each time, and the LLM's KV cache could reuse nothing of the conversation."""
    turns = messages // 2
    if turns <= max_turns:
        return 2 * turns
    keep_min = max(1, max_turns // 2)
    # Drop whole blocks of (max_turns - keep_min) exchanges from the start, as they accumulate.
    step = max_turns - keep_min + 1
    return 2 * (keep_min + (turns - keep_min) % step)


def tidy_for_history(said: str) -> str:
    """The reply as the model will read it back next turn, with its trailing-off ellipses made full
    stops: a tiny model copies "Paris...blue..." from its history until every reply is a chain of
    them (seen live after six turns)."""
    return re.sub(r"\s*(?:\.{2,}|…)+\s*", ". ", said).strip()


def speech_end_time(recent: list[np.ndarray], t: float, block: int = 160) -> float:
    """When speech really ended, given the last frames (the newest ends at `t`) and that the VAD has
    just called it over: the end of the last 10 ms block within 30 dB of the loudest, above -40 dBFS
    and 3 dB above the background (its quietest blocks: the VAD lets go 50-150 ms after the words),
    as a loudness envelope would put it. Without the background term, steady noise louder than
    -40 dBFS kept the end at the VAD's release, and an early reply started ~120 ms later in noise."""
    audio = np.concatenate(recent) if recent else np.zeros(0, np.int16)
    n = len(audio) // block
    if n == 0:
        return t
    db = block_dbfs(audio[len(audio) - n * block :], block)
    background = float(np.percentile(db, 10))
    loud = np.flatnonzero(db > max(-40.0, float(db.max()) - 30.0, background + 3.0))
    if len(loud) == 0:
        return t - len(recent[-1]) / SAMPLE_RATE
    return t - (n - loud[-1] - 1) * block / SAMPLE_RATE


def heard_text(chunks: list[tuple[str, float]], heard_s: float) -> str:
    """The words of the reply that were actually played, given each chunk's audio length."""
    out: list[str] = []
    for text, seconds in chunks:
        if heard_s >= seconds - 0.05:
            out.append(text)
            heard_s -= seconds
            continue
        words = text.split()
        keep = int(len(words) * max(0.0, heard_s) / seconds) if seconds > 0 else 0
        if keep:
            out.append(" ".join(words[:keep]))
        break
    return " ".join(out)


@dataclass
class _Reply:
    """One reply in flight: its turn, its cancel switch, and what has been sent to the earpiece."""

    turn: Turn
    cancel: threading.Event = field(default_factory=threading.Event)
    chunks: list[tuple[str, float]] = field(default_factory=list)  # (text, seconds of audio)
    played_at_start: float = 0.0
    first_audio: threading.Event = field(default_factory=threading.Event)  # set when speech starts
    early: bool = False  # started before the end of the turn was certain (settings.early_reply_ms)
    # Set once the turn has certainly ended: at once for a normal reply; for an early one, when the
    # full silence window has passed or its first sound is played, or when it is dropped.
    sure: threading.Event = field(default_factory=threading.Event)
    # Set once the reply may be heard: at once for a normal reply; an early one is made from the
    # moment the words stop but held until `early_reply_ms` of quiet (set too when it is dropped).
    audible: threading.Event = field(default_factory=threading.Event)
    dropped: bool = False  # an early reply the owner talked on over before it was heard
    # An early reply to words that read unfinished ("What is the capital of?") is made at once but
    # heard only once the turn is sure (the full silence window): the owner is probably going on.
    unfinished: bool = False
    continues: Turn | None = None  # the request this one goes on with (settings.continue_within_s)
    context: str = ""  # what memory recalled for the request, sent with it

    def __post_init__(self) -> None:
        if not self.early:  # nothing to wait for
            self.sure.set()
            self.audible.set()


@dataclass
class VoiceLoop:
    vad: SileroVad
    stt: SpeechToText
    dialogue: Dialogue
    tts: TextToSpeech
    sink: AudioSink
    wake: WakeWord | None
    system_prompt: str
    settings: LoopSettings = field(default_factory=LoopSettings)
    on_turn: Callable[[Turn], None] | None = None
    on_state: Callable[[State], None] | None = None
    wake_phrase: str = ""  # the words of the wake phrase, to strip from transcripts
    aec: EchoCanceller | None = None  # takes the earpiece's echo out of the mic before anything listens
    # Before the LLM: a reply for requests that must not be left to a tiny model (the clock, reminders,
    # memory commands, care). None lets the LLM answer.
    intents: Callable[[str], str | None] | None = None
    # Extra system text for this request (memories about it), put just before the user's words so
    # the cached prefix of system prompt and history still matches.
    context: Callable[[str], str] | None = None
    # Ends the turn after a short pause when the audio sounds finished (settings.smart_turn_ms).
    turn_model: TurnModel | None = None
    clock: Callable[[], float] = time.monotonic

    state: State = field(default=State.IDLE, init=False)
    history: list[Message] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._eot = self._end_of_turn()
        self._echo = EchoGate(self.sink.playback)
        self._preroll: deque[np.ndarray] = deque(maxlen=max(1, self.settings.preroll_ms // FRAME_MS))
        self._recent: deque[np.ndarray] = deque(maxlen=10)  # the last 320 ms, to time the end of speech
        self._lock = threading.RLock()  # state changes come from the mic thread, the reply thread and taps
        self._not_replying = threading.Event()  # cleared while a reply is being made
        self._not_replying.set()
        self._reply: _Reply | None = None  # the reply in flight, until it ends or is interrupted
        self._reply_thread: threading.Thread | None = None
        self._speech_end_t = 0.0  # when the user's last speech ended (start of the silence run)
        self._release_lag_ms = 0.0  # how long before the VAD let go the words had ended
        self._last_speech_t = 0.0
        self._listen_start_t = 0.0
        self._listen_timeout_s = self.settings.listen_timeout_s
        self._barge_ms = 0
        self._turn: Turn | None = None
        self._continues: Turn | None = None  # the cut-off request the one being listened to goes on with
        self._announcements: deque[tuple[str, bool]] = deque()  # (text, speak even when muted)
        self._muted = False
        self._last_reply = ""
        self._quiet_ms = 0  # how long the mic has heard no speech
        self._vad_skipped = False  # the VAD sat out quiet frames while idle
        # The utterance so far, for the end-of-turn model, which runs on its own thread: it takes
        # tens of ms, and the mic thread must keep up with 32 ms frames.
        self._utterance: deque[np.ndarray] = deque(maxlen=TURN_MODEL_FRAMES)
        self._turn_pool: ThreadPoolExecutor | None = None
        self._turn_check: Future[tuple[float, float]] | None = None  # (p, ms) for this silence run
        self._turn_asked = False  # asked already in this silence run

    def _end_of_turn(self) -> EndOfTurn:
        return EndOfTurn(
            silence_ms=self.settings.end_of_turn_ms,
            start_threshold=self.settings.vad_threshold,
            keep_threshold=max(0.05, self.settings.vad_threshold - 0.15),
        )

    def update_settings(self, settings: LoopSettings) -> None:
        """New timings and thresholds (a config reload); they take effect from the next request."""
        with self._lock:
            self.settings = settings
            if self.state is not State.LISTENING:
                self._eot = self._end_of_turn()

    # ---------------------------------------------------------------- input: every 32 ms frame
    def feed(self, frame: np.ndarray, t: float | None = None) -> None:
        t = self.clock() if t is None else t
        if self._announcements:
            self._maybe_announce(t)
        if self._muted:
            return  # privacy: nothing the mic hears is listened to
        echo_possible = self._echo.active(t)
        if self.aec is not None and echo_possible:  # nothing to cancel while the earpiece is quiet
            frame_s = len(frame) / SAMPLE_RATE
            frame = self.aec.process(frame, self.sink.playback.reference(t - frame_s, t))
        self._recent.append(frame)
        p = self._speech_probability(frame)
        echo_possible = echo_possible and self.settings.echo_gate
        speech = p >= self.settings.vad_threshold
        if echo_possible:  # the owner, or our own voice coming back?
            speech = self._echo.hears_user(frame, t, speech)
        if speech:
            self._last_speech_t = t
        self._quiet_ms = 0 if speech else self._quiet_ms + FRAME_MS
        with self._lock:
            state = self.state
            if state is State.IDLE:
                self._preroll.append(frame)
                # Gated while our own voice may be in the mic: the companion must not wake itself.
                if self.wake is not None and not echo_possible:
                    score = self.wake.process(frame)
                    if score is not None:
                        self._on_wake(self.wake.name, score, t)
            elif state is State.LISTENING:
                self._listen(frame, p if (speech or not echo_possible) else 0.0, t)
            elif state in (State.THINKING, State.SPEAKING):
                self._preroll.append(frame)
                self._watch_for_barge_in(speech, t)

    IDLE_VAD_FLOOR_DBFS = -48.0  # quieter than any voice at a lapel mic

    def _speech_probability(self, frame: np.ndarray) -> float:
        """Silero's speech probability; while idle, a frame too quiet to be a voice skips the model
        (the wake word listens regardless): a fifth of the idle CPU in a quiet room."""
        if self.state is State.IDLE and rms_dbfs(frame) < self.IDLE_VAD_FLOOR_DBFS:
            self._vad_skipped = True
            return 0.0
        if self._vad_skipped:  # its memory is of sound from before the quiet: start it afresh
            self.vad.reset()
            self._vad_skipped = False
        return self.vad.probability(frame)

    # ---------------------------------------------------------------- unprompted speech and mute
    ANNOUNCE_QUIET_MS = 800  # the owner has been quiet this long: a pause to speak into

    def announce(self, text: str, even_if_muted: bool = False) -> None:
        """Say `text` at the next pause: not over the owner, not over a reply, not while muted (held
        until unmuted). Thread-safe; announcements are spoken in order."""
        if not text.strip():
            return
        if even_if_muted:  # a confirmation of what the owner just did goes first
            self._announcements.appendleft((text.strip(), True))
        else:
            self._announcements.append((text.strip(), False))

    def repeat_last(self) -> None:
        """Say the last reply again (a double tap)."""
        self.announce(self._last_reply or "I haven't said anything yet.")

    @property
    def muted(self) -> bool:
        return self._muted

    def set_muted(self, muted: bool, confirm: bool = True) -> None:
        """Privacy mute: the mic is ignored until unmuted. Whatever was going on stops first."""
        with self._lock:
            if muted == self._muted:
                return
            if muted:
                self.interrupt("mute")
                if self.state is State.LISTENING:
                    self.stt.finish()
                    self._set_state(State.IDLE)
            self._muted = muted
            log.info("muted" if muted else "unmuted")
            if confirm:
                self.announce("Muted. I'm not listening." if muted else "I'm listening again.", True)
            if self.on_state is not None:
                self.on_state(State.MUTED if muted else self.state)

    def _maybe_announce(self, t: float) -> None:
        with self._lock:
            if not self._announcements:
                return
            text, even_if_muted = self._announcements[0]
            if self.state is not State.IDLE or not self._not_replying.is_set():
                return
            if self._muted and not even_if_muted:
                return
            if not self._muted and self._quiet_ms < self.ANNOUNCE_QUIET_MS:
                return  # the owner is talking (to someone else): wait for a pause
            self._announcements.popleft()
            turn = Turn(wake=None, transcript="", answered_by="announce")
            turn.marks["listen"] = turn.marks["speech_end"] = turn.marks["end_of_turn"] = t
            self._set_state(State.THINKING)
            self._not_replying.clear()
            self._reply = _Reply(turn, played_at_start=self.sink.playback.played_s)
            previous = self._reply_thread
            self._reply_thread = threading.Thread(
                target=self._announce, args=(self._reply, previous, text), name="os1-say", daemon=True
            )
            self._reply_thread.start()

    def _announce(self, reply: _Reply, previous: threading.Thread | None, text: str) -> None:
        try:
            if previous is not None:
                previous.join()
            self._speak_text(reply, text)
            reply.turn.reply = " ".join(chunk for chunk, _ in reply.chunks)
            if reply.turn.reply:
                self._last_reply = reply.turn.reply  # a double tap repeats a reminder too
            # After a reminder, the owner may answer ("snooze it") without the wake word.
            self._finish_reply(reply, follow_up=not reply.cancel.is_set() and not self._muted)
        except Exception:
            log.exception("speaking %r failed", text)
            self._finish_reply(reply, follow_up=False)

    def tap(self, t: float | None = None) -> None:
        """The button: attention when idle, an interrupt while thinking or speaking."""
        with self._lock:
            if self.state is State.IDLE:
                self.addressed(t, source="tap")
            elif self.state in (State.THINKING, State.SPEAKING):
                self.interrupt("tap")

    def addressed(self, t: float | None = None, source: str = "tap") -> None:
        """Start listening without a wake word: a button tap, or a recording already addressed to us."""
        with self._lock:
            if self.state is State.IDLE:
                self._start_listening(None, None, self.clock() if t is None else t, preroll=False)
                log.info("listening (%s)", source)

    def _on_wake(self, name: str, score: float, t: float) -> None:
        wake_delay_ms = max(0.0, (t - self._last_speech_t) * 1000) if self._last_speech_t else 0.0
        log.info("wake word %s (score %.2f)", name, score)
        self._start_listening(name, score, t, preroll=True)
        assert self._turn is not None
        self._turn.timings_ms["wake"] = wake_delay_ms
        self._turn.marks["wake"] = t

    def _start_listening(
        self,
        wake: str | None,
        score: float | None,
        t: float,
        preroll: bool,
        timeout_s: float | None = None,
        preroll_ms: int | None = None,
    ) -> None:
        self._set_state(State.LISTENING)
        self._turn = Turn(wake=wake, transcript="", wake_score=score)
        self._continues = None
        self._turn.marks["listen"] = t
        self._eot.reset()
        self.stt.start()
        self._utterance.clear()
        self._turn_check, self._turn_asked = None, False
        self._listen_start_t = t
        self._listen_timeout_s = timeout_s or self.settings.listen_timeout_s
        if preroll:  # the words said while the wake word was being recognised, or before a barge-in
            frames = list(self._preroll)
            if preroll_ms is not None:
                frames = frames[-max(1, preroll_ms // FRAME_MS) :]
            for f in frames:
                self.stt.accept(f)
            self._utterance.extend(frames)
        self._preroll.clear()

    def _listen(self, frame: np.ndarray, p: float, t: float) -> None:
        self.stt.accept(frame)
        self._utterance.append(frame)
        was_speaking = self._eot.in_speech
        ended = self._eot.update(p)
        assert self._turn is not None
        if self._eot.in_speech and "speech_start" not in self._turn.marks:
            self._turn.marks["speech_start"] = t - FRAME_MS / 1000
        if was_speaking and not self._eot.in_speech:
            # Silero lets go of speech ~100 ms late; the loudness envelope says when the words stopped.
            self._speech_end_t = speech_end_time(list(self._recent), t)
            self._release_lag_ms = (t - self._speech_end_t) * 1000 - FRAME_MS
            # A segment engine (Whisper) starts transcribing now, during the silence window, and
            # drops the guess if the user speaks again.
            speculate = getattr(self.stt, "speculate", None)
            if speculate is not None and not self.settings.sequential:
                speculate()
        early = self._reply if self._reply is not None and self._reply.early else None
        if early is not None and self._eot.in_speech:
            self._drop_early_reply(early)  # the owner went on: the utterance continues
            early = None
        if not ended and self._model_says_done(t):
            ended = True
        if not ended and self._quick_end(t):
            ended = True
        too_long = t - self._listen_start_t > self.settings.max_utterance_s
        if not self._eot.heard_speech and t - self._listen_start_t > self._listen_timeout_s:
            log.info("no speech; back to idle")
            self.stt.finish()
            self._set_state(State.IDLE)
            return
        if early is not None and not early.audible.is_set():
            if self._quiet_since_words_ms() >= self.settings.early_reply_ms:
                early.turn.marks["audible"] = t
                early.audible.set()
        if ended or too_long:
            if early is not None:  # the early reply is now the answer, heard or not yet
                early.turn.marks["turn_sure"] = t
                self._set_state(State.THINKING)
                early.audible.set()
                early.sure.set()
                return
            if too_long and self._eot.in_speech:
                self._speech_end_t = t
            self._begin_reply(t, early=False)
        elif early is None and self._early_reply_due():
            self._begin_reply(t, early=True)

    def _begin_reply(self, t: float, early: bool) -> None:
        """Start making the reply on its own thread. An early one leaves the loop listening: the
        microphone keeps feeding the STT, and speech drops the reply (see `_drop_early_reply`)."""
        turn = self._turn
        assert turn is not None
        turn.marks["speech_end"] = self._speech_end_t
        turn.marks["end_of_turn"] = t
        turn.timings_ms["end_of_turn"] = (t - self._speech_end_t) * 1000
        if early:
            turn.stats["early_reply"] = 1
        else:
            self._set_state(State.THINKING)
        self._not_replying.clear()
        self._reply = _Reply(
            turn, played_at_start=self.sink.playback.played_s, early=early, continues=self._continues
        )
        previous = self._reply_thread
        self._reply_thread = threading.Thread(
            target=self._respond, args=(self._reply, previous), name="os1-reply", daemon=True
        )
        self._reply_thread.start()

    def _early_reply_due(self) -> bool:
        """As soon as the words stop: the reply is made during the quiet and held until it is
        `early_reply_ms` long (see `_Reply.audible`), so the STT, LLM and TTS are mostly done by then."""
        return (
            self.settings.early_reply_ms > 0
            and not self.settings.sequential
            and self._eot.heard_speech
            and not self._eot.in_speech
            and hasattr(self.stt, "hypothesis")  # the engine can share its transcript mid-utterance
        )

    def _quiet_since_words_ms(self) -> float:
        """How long since the words ended, counted in microphone frames (so a recording fed faster
        than real time gets the same decisions as a live microphone)."""
        return self._release_lag_ms + self._eot.silence_run_ms

    def _drop_early_reply(self, reply: _Reply) -> None:
        """Cancel an early reply before it is heard (called under the lock, while listening). Its
        thread writes into its own Turn from now on, so the listening turn starts a fresh one."""
        reply.dropped = True
        reply.cancel.set()
        reply.sure.set()
        reply.audible.set()
        reply.first_audio.set()  # releases an LLM waiting for the first chunk's speech
        self._reply = None
        old = reply.turn
        turn = Turn(wake=old.wake, transcript="", wake_score=old.wake_score, follow_up=old.follow_up)
        turn.marks.update({k: v for k, v in old.marks.items() if k in ("listen", "wake", "speech_start")})
        turn.timings_ms.update({k: v for k, v in old.timings_ms.items() if k in ("wake", "smart_turn")})
        turn.stats.update({k: v for k, v in old.stats.items() if k.startswith("smart_turn")})
        turn.stats["early_replies_dropped"] = old.stats.get("early_replies_dropped", 0) + 1
        self._turn = turn
        log.info("early reply dropped: the owner went on")

    def _model_says_done(self, t: float) -> bool:
        """After `smart_turn_ms` of silence, the end-of-turn model hears the utterance once (per
        pause); if it sounds finished the turn ends as soon as the verdict is in, otherwise the full
        silence window applies. Speech again drops the verdict."""
        ms = self.settings.smart_turn_ms
        if not ms or self.turn_model is None:
            return False
        if self._eot.in_speech or not self._eot.heard_speech:
            self._turn_check, self._turn_asked = None, False
            return False
        if not self._turn_asked and (t - self._speech_end_t) * 1000 >= ms:
            self._turn_asked = True
            if self._turn_pool is None:
                self._turn_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="os1-turn")
            self._turn_check = self._turn_pool.submit(self._ask_turn_model, np.concatenate(self._utterance))
        check = self._turn_check
        if check is None or not check.done():
            return False
        self._turn_check = None
        try:
            p, ms = check.result()
        except Exception:  # a broken model must not stop the conversation: the silence window ends it
            log.exception("the end-of-turn model failed")
            return False
        assert self._turn is not None
        self._turn.stats["smart_turn_p"] = p  # the last verdict; one per pause
        self._turn.stats["smart_turn_checks"] = self._turn.stats.get("smart_turn_checks", 0) + 1
        self._turn.timings_ms["smart_turn"] = ms
        return p >= self.settings.smart_turn_threshold

    def _ask_turn_model(self, audio: np.ndarray) -> tuple[float, float]:
        assert self.turn_model is not None
        p = self.turn_model.probability(audio)
        return p, self.turn_model.last_ms

    def wait_turn_check(self, timeout_s: float | None = None) -> None:
        """Block until the end-of-turn model's verdict (if one is being made) is in. For a recording
        fed faster than real time, where the verdict would otherwise come many frames late."""
        check = self._turn_check
        if check is not None:
            try:
                check.exception(timeout_s)
            except TimeoutError:
                pass

    def _quick_end(self, t: float) -> bool:
        """A finished sentence ends the turn after a short pause; an unfinished one ("What is the
        capital of…") gets the full silence window. The sentence is the STT's current hypothesis."""
        quick_ms = self.settings.quick_end_of_turn_ms
        if not quick_ms or self._eot.in_speech or not self._eot.heard_speech:
            return False
        if self._quiet_since_words_ms() < quick_ms:
            return False
        return looks_complete(self.stt.partial())

    def _watch_for_barge_in(self, speech: bool, t: float) -> None:
        """The user talking over the reply (not our own echo) for long enough interrupts it."""
        self._barge_ms = self._barge_ms + FRAME_MS if speech else 0
        if self.settings.barge_in and self._barge_ms >= self.settings.barge_in_ms:
            log.info("barge-in: the user is speaking")
            self._barge_ms = 0
            self.interrupt("voice", t)

    # ---------------------------------------------------------------- interrupt
    def interrupt(self, source: str, t: float | None = None) -> None:
        """Stop the reply now: playback first, then the work in flight. Then listen to the user."""
        with self._lock:
            reply = self._reply
            if reply is not None and reply.early and self.state is State.LISTENING:
                self._drop_early_reply(reply)  # nothing has been said yet: nothing to stop
                return
            if reply is None or self.state not in (State.THINKING, State.SPEAKING):
                return
            t = self.clock() if t is None else t
            reply.turn.marks["interrupt"] = t
            reply.cancel.set()
            reply.first_audio.set()  # releases an LLM waiting for the first chunk's speech
            reply.audible.set()
            self.sink.stop()
            reply.turn.marks["playback_stopped"] = self.clock()
            reply.turn.interrupted = source
            self._reply = None
            log.info("interrupted by %s", source)
            # Listen at once; the speech that triggered a voice barge-in is in the pre-roll.
            # Only the speech that triggered it: earlier frames hold the reply's own echo.
            self._start_listening(
                None, None, t, preroll=source == "voice", preroll_ms=self.settings.barge_in_ms + 320
            )
            if source == "voice":  # the user is mid-sentence: the turn has speech already
                self._eot.in_speech = True
                self._eot.speech_ms = self.settings.barge_in_ms
                assert self._turn is not None
                self._turn.marks["speech_start"] = t - self.settings.barge_in_ms / 1000
                heard_s = t - reply.turn.marks.get("first_audio", t)
                if heard_s <= self.settings.continue_within_s:
                    self._continues = reply.turn  # they had only paused: the same request goes on
                    log.info("the owner went on after %.1f s of the reply: one request", heard_s)

    # ---------------------------------------------------------------- output: the reply thread
    def _respond(self, reply: _Reply, previous: threading.Thread | None) -> None:
        turn = reply.turn
        try:
            if previous is not None:  # an interrupted reply still writing its part of the history
                previous.join()
            t0 = self.clock()
            raw = self.stt.hypothesis() if reply.early else self.stt.finish()  # type: ignore[attr-defined]
            turn.marks["transcript"] = self.clock()
            turn.timings_ms["stt"] = (turn.marks["transcript"] - t0) * 1000
            turn.transcript = strip_wake_phrase(raw, self.wake_phrase or (turn.wake or ""))
            stop = is_stop_phrase(turn.transcript, self.settings.stop_phrases)
            if reply.continues is not None and turn.transcript.strip() and not stop:
                self._continue_request(reply.continues, turn)
            log.info("heard: %r%s", turn.transcript, " (early)" if reply.early else "")
            reply.unfinished = reply.early and not looks_complete(turn.transcript)
            nothing = not turn.transcript.strip() or stop
            # Only a reply in words may start early: going quiet, a stop or a command (a reminder,
            # forgetting a memory) waits until the owner has certainly finished.
            if (nothing or self._intent_claims(turn.transcript)) and not self._sure(reply):
                self._finish_reply(reply, follow_up=False)
                return
            if nothing:
                self._finish_reply(reply, follow_up=False)  # nothing to say, or asked for quiet
                return
            direct = self._intent_reply(turn)
            if direct is not None:
                self._speak_text(reply, direct)
            elif self.settings.sequential:
                self._speak_sequential(reply)
            else:
                self._speak_streaming(reply)
            if not reply.dropped:
                self._record_history(reply)
            self._finish_reply(reply, follow_up=not reply.cancel.is_set())
        except Exception:
            log.exception("the reply failed; back to idle")
            self._finish_reply(reply, follow_up=False)
            return
        if not reply.dropped and turn.answered_by == "llm" and not self.settings.sequential:
            self.prime_prompt()

    def prime_prompt(self) -> None:
        """Prefill the next turn's persona and history while the owner thinks (after a reply, on the
        reply thread: the next one waits for it): a trimmed history is prefilled here, not after the
        owner's next words."""
        prime = getattr(self.dialogue, "prime", None)
        if prime is None:
            return
        history = self.history[-prompt_history_len(len(self.history), self.settings.history_turns) :]
        try:
            prime([Message("system", self.system_prompt), *history])
        except Exception:  # only an optimisation: the next turn prefills what it needs
            log.exception("priming the next prompt failed")

    def _continue_request(self, cut: Turn, turn: Turn) -> None:
        """`turn` goes on with the request `cut` (whose reply was cut off at its start): one request
        of both parts, and the cut exchange leaves the history (its thread has finished writing it)."""
        turn.transcript = f"{cut.transcript.strip()} {turn.transcript.strip()}".strip()
        turn.stats["continued"] = 1
        with self._lock:
            last = self.history[-2:]
            if len(last) == 2 and last[0].content == cut.transcript and last[1].interrupted:
                del self.history[-2:]

    def _sure(self, reply: _Reply) -> bool:
        """Wait until the turn has certainly ended; False if the owner went on (the reply is dropped)."""
        reply.sure.wait()
        return not reply.dropped

    def _intent_claims(self, transcript: str) -> bool:
        if self.intents is None:
            return False
        claims = getattr(self.intents, "claims", None)  # IntentRouter.claims; without it, assume so
        return True if claims is None else bool(claims(transcript))

    def _intent_reply(self, turn: Turn) -> str | None:
        if self.intents is None:
            return None
        t0 = self.clock()
        try:
            direct = self.intents(turn.transcript)
        except Exception:  # a broken command handler must not end the conversation
            log.exception("the intent layer failed on %r; the LLM answers", turn.transcript)
            direct = None
        turn.timings_ms["intents"] = (self.clock() - t0) * 1000
        if direct is not None:
            turn.answered_by = "intent"
        return direct

    def _speak_text(self, reply: _Reply, text: str) -> None:
        """A ready-made reply (a command's answer, an announcement): chunked and spoken like the LLM's."""
        turn = reply.turn
        turn.marks["llm_start"] = turn.marks["llm_done"] = self.clock()
        chunker = Chunker()
        for chunk in [*chunker.feed(text), *chunker.flush()]:
            if reply.cancel.is_set():
                break
            self._say_chunk(reply, chunk)
        self._after_speaking(reply, llm=False)

    def _messages(self, reply: _Reply) -> list[Message]:
        """The prompt: persona, the recent history, and the owner's words with what memory recalls
        for them (kept with the words in the history: see Message.context)."""
        turn = reply.turn
        history = self.history[-prompt_history_len(len(self.history), self.settings.history_turns) :]
        if self.context is not None:
            t0 = self.clock()
            try:
                reply.context = self.context(turn.transcript)
            except Exception:
                log.exception("recalling memories failed; answering without them")
                reply.context = ""
            turn.timings_ms["context"] = (self.clock() - t0) * 1000
        request = Message("user", turn.transcript, context=reply.context)
        return [Message("system", self.system_prompt), *history, request]

    def _speak_streaming(self, reply: _Reply) -> None:
        """LLM text -> chunks -> TTS -> earpiece, with the LLM running ahead on its own thread."""
        chunks: queue.Queue[str | None] = queue.Queue()
        turn, cancel = reply.turn, reply.cancel
        messages = self._messages(reply)
        turn.marks["llm_start"] = self.clock()

        def produce() -> None:
            chunker = Chunker()
            try:
                for piece in self.dialogue.stream(messages, cancel=cancel):
                    turn.marks.setdefault("llm_first_token", self.clock())
                    for c in chunker.feed(piece):
                        chunks.put(c)
                        if not reply.first_audio.is_set():
                            # Give the first chunk's synthesis the whole CPU: the LLM is far ahead of
                            # speech anyway, and on 2 cores the two slow each other down 2-3x.
                            reply.first_audio.wait(timeout=2.0)
                if not cancel.is_set():
                    for c in chunker.flush():
                        chunks.put(c)
            finally:
                turn.marks["llm_done"] = self.clock()
                chunks.put(None)

        producer = threading.Thread(target=produce, name="os1-llm", daemon=True)
        producer.start()
        while (raw_chunk := chunks.get()) is not None and not cancel.is_set():
            self._say_chunk(reply, raw_chunk)
            reply.first_audio.set()  # even if the chunk had nothing to say ("(laughs)")
        producer.join()
        self._after_speaking(reply)

    def _speak_sequential(self, reply: _Reply) -> None:
        """The cascade without overlap, for `os1 bench --sequential`: each stage waits for the last."""
        turn, cancel = reply.turn, reply.cancel
        turn.marks["llm_start"] = self.clock()
        pieces = []
        for piece in self.dialogue.stream(self._messages(reply), cancel=cancel):
            turn.marks.setdefault("llm_first_token", self.clock())
            pieces.append(piece)
        turn.marks["llm_done"] = self.clock()
        text = speakable("".join(pieces))
        if text and not cancel.is_set():
            turn.marks["tts_start"] = self.clock()
            audio = list(self.tts.synthesize(text))
            if audio:
                self._play(reply, text, np.concatenate(audio), turn.marks["tts_start"])
        self._after_speaking(reply)

    def _say_chunk(self, reply: _Reply, raw_chunk: str) -> None:
        chunk = speakable(raw_chunk)
        if not chunk:
            return
        t_chunk = self.clock()
        reply.turn.marks.setdefault("tts_start", t_chunk)
        for i, audio in enumerate(self.tts.synthesize(chunk)):
            if reply.cancel.is_set():
                return
            # A chunk of several sentences comes back in pieces: its words are counted once, and
            # each piece's audio adds to the chunk's length.
            self._play(reply, chunk if i == 0 else None, audio, t_chunk)
            t_chunk = self.clock()

    def _play(self, reply: _Reply, text: str | None, audio: np.ndarray, t_synth_start: float) -> None:
        """Hand `audio` to the earpiece. `text` is the chunk it starts; None continues the last one."""
        turn = reply.turn
        first = "first_audio" not in turn.marks
        if first:  # the reply's first sound: without the voice's lead-in
            audio = trim_leading_quiet(audio, self.tts.sample_rate)
        now = self.clock()
        seconds = len(audio) / self.tts.sample_rate
        turn.stats["tts_busy_s"] = turn.stats.get("tts_busy_s", 0.0) + (now - t_synth_start)
        turn.stats["reply_audio_s"] = turn.stats.get("reply_audio_s", 0.0) + seconds
        if first:
            turn.marks["first_audio_ready"] = now
            turn.timings_ms["tts_first_audio"] = (now - turn.marks["tts_start"]) * 1000
            reply.audible.wait()  # an early reply: until the owner has been quiet long enough
            if reply.unfinished:
                reply.sure.wait()
            now = self.clock()
        with self._lock:
            if reply.cancel.is_set():
                return
            if first:
                reply.sure.set()  # an early reply, heard: from here the owner's voice is a barge-in
                turn.marks["first_audio"] = now
                turn.timings_ms["response_gap"] = (now - turn.marks["speech_end"]) * 1000
                self._set_state(State.SPEAKING)
            if text is not None or not reply.chunks:
                reply.chunks.append((text or "", seconds))
            else:
                last_text, last_seconds = reply.chunks[-1]
                reply.chunks[-1] = (last_text, last_seconds + seconds)
            self.sink.play(audio, self.tts.sample_rate)
        reply.first_audio.set()

    def _after_speaking(self, reply: _Reply, llm: bool = True) -> None:
        if not reply.cancel.is_set():
            self.sink.drain()
        turn = reply.turn
        turn.marks["playback_done"] = self.clock()
        tm, stats = turn.timings_ms, turn.stats
        if "llm_first_token" in turn.marks:
            tm["llm_first_token"] = (turn.marks["llm_first_token"] - turn.marks["llm_start"]) * 1000
        if stats.get("reply_audio_s"):
            stats["tts_real_time_factor"] = stats["tts_busy_s"] / stats["reply_audio_s"]
        if "interrupt" in turn.marks:
            tm["barge_in_stop"] = (turn.marks["playback_stopped"] - turn.marks["interrupt"]) * 1000
        llm_stats = getattr(self.dialogue, "last_stats", None) if llm else None
        if llm_stats is not None:
            stats["llm_tokens_per_s"] = float(getattr(llm_stats, "tokens_per_s", 0.0))
            stats["llm_new_tokens"] = float(getattr(llm_stats, "new_tokens", 0))
            stats["llm_prompt_tokens"] = float(getattr(llm_stats, "prompt_tokens", 0))
            stats["llm_reused_tokens"] = float(getattr(llm_stats, "reused_tokens", 0))  # from the KV cache

    def _record_history(self, reply: _Reply) -> None:
        """Only what the user actually heard goes into the history; a cut reply is marked as such."""
        turn = reply.turn
        said = " ".join(text for text, _ in reply.chunks)
        if reply.cancel.is_set():
            heard_s = self.sink.playback.played_s - reply.played_at_start
            said = heard_text(reply.chunks, heard_s)
            turn.reply = said
            content = f"{tidy_for_history(said)} …" if said else "…"
            self.history += [
                Message("user", turn.transcript, context=reply.context),
                Message("assistant", content, interrupted=True),
            ]
        else:
            turn.reply = said
            self.history += [
                Message("user", turn.transcript, context=reply.context),
                Message("assistant", tidy_for_history(said)),
            ]
        if said:
            self._last_reply = said

    def _finish_reply(self, reply: _Reply, follow_up: bool) -> None:
        if reply.dropped:  # never heard: no history, no turn; the loop is still listening
            with self._lock:
                if self._reply is None:
                    self._not_replying.set()
            return
        with self._lock:
            if self.wake is not None:
                self.wake.reset()
            if self._reply is reply:  # not interrupted (an interrupt already moved on to listening)
                self._reply = None
                if follow_up and self.settings.follow_up_s > 0:
                    self._start_listening(
                        None, None, self.clock(), preroll=False, timeout_s=self.settings.follow_up_s
                    )
                    assert self._turn is not None
                    self._turn.follow_up = True
                else:
                    self._set_state(State.IDLE)
            if self._reply is None:
                self._not_replying.set()
        if self.on_turn is not None:
            self.on_turn(reply.turn)

    def _set_state(self, state: State) -> None:
        if state is not self.state:
            log.debug("state %s -> %s", self.state.value, state.value)
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    @property
    def mid_request(self) -> bool:
        """Listening, and the user has started speaking."""
        return self.state is State.LISTENING and self._eot.heard_speech

    def wait_reply(self, timeout_s: float | None = None) -> bool:
        """Block until the reply being made (if any) has been spoken or cut off."""
        return self._not_replying.wait(timeout_s)
