"""One reply as an object with an explicit phase, and the worker that turns a transcript into sound.

    MAKING --first sound synthesized--> HELD --allowed to be heard--> AUDIBLE --spoken--> DONE
    any phase before DONE --cancel(reason)--> CUT (the owner heard some of it, or it was sure)
                                          or DROPPED (an early reply the owner talked on over)

`Reply.cancel(reason)` is the only way a reply ends early. An early reply (made before the turn was
certain) is held until `authorize()` (early_reply_ms of quiet) and, for words that read unfinished,
until `confirm()` (the full silence window). The worker talks to the loop only through two callbacks:
`on_first_audio(reply)` (under the loop's lock, just before the first sound is played) and
`on_done(reply, follow_up)`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from device.pipeline import events as ev
from device.pipeline import metrics
from device.pipeline.audio import trim_leading_quiet
from device.pipeline.chunker import Chunker
from device.pipeline.events import Message, Turn
from device.pipeline.history import Conversation, heard_text
from device.pipeline.settings import LoopSettings
from device.pipeline.stages import AudioSink, Dialogue, Intents, SpeechToText, TextToSpeech
from device.pipeline.text import is_stop_phrase, looks_complete, speakable, strip_wake_phrase

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

    stt: SpeechToText
    dialogue: Dialogue
    tts: TextToSpeech
    sink: AudioSink
    settings: LoopSettings
    system_prompt: str
    wake_phrase: str = ""
    """The words of the wake phrase, to strip from transcripts."""
    intents: Intents | None = None
    """Asked before the LLM; None lets the LLM answer everything."""
    context: Callable[[str], str] | None = None
    """What memory recalls for a request, sent with it."""


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
    unfinished: bool = False
    """An early reply to words that read unfinished ("What is the capital of?"): made at once but
    heard only once the turn is sure, since the owner is probably going on."""
    chunks: list[tuple[str, float]] = field(default_factory=list)
    """(text, seconds of audio) per chunk sent to the earpiece."""
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


class ReplyWorker:
    """Turns a transcript into sound on a thread of its own: the intent layer or the LLM, chunked,
    synthesized and played chunk by chunk, then the history (only what was heard)."""

    def __init__(
        self,
        conversation: Conversation,
        lock: threading.RLock,
        on_first_audio: Callable[[Reply], None],
        on_done: Callable[[Reply, bool], None],
        clock: Callable[[], float],
    ):
        self.conversation = conversation
        self.lock = lock
        self.on_first_audio = on_first_audio
        self.on_done = on_done
        self.clock = clock

    def start(
        self, reply: Reply, previous: threading.Thread | None, text: str | None = None
    ) -> threading.Thread:
        """Make `reply` on a new thread, after `previous` (an interrupted reply still writing its part
        of the history). With `text`, say that instead of answering (an announcement)."""
        target, args = (
            (self._answer, (reply, previous)) if text is None else (self._say, (reply, previous, text))
        )
        thread = threading.Thread(target=target, args=args, name="os1-reply", daemon=True)
        thread.start()
        return thread

    # ------------------------------------------------------------------ answering the owner
    def _answer(self, reply: Reply, previous: threading.Thread | None) -> None:
        turn, st = reply.turn, reply.stages
        try:
            if previous is not None:
                previous.join()
            with metrics.timed(turn, "stt", self.clock):
                raw = st.stt.hypothesis() if reply.early else st.stt.finish()
                turn.marks[ev.TRANSCRIPT] = self.clock()
            turn.transcript = strip_wake_phrase(raw, st.wake_phrase or (turn.wake or ""))
            stop = is_stop_phrase(turn.transcript, st.settings.stop_phrases)
            if reply.continues is not None and turn.transcript.strip() and not stop:
                self._continue_request(reply.continues, turn)
            log.info("heard: %r%s", turn.transcript, " (early)" if reply.early else "")
            reply.unfinished = reply.early and not looks_complete(turn.transcript)
            nothing = not turn.transcript.strip() or stop
            # Only a reply in words may start early: going quiet, a stop or a command (a reminder,
            # forgetting a memory) waits until the owner has certainly finished.
            if (nothing or self._claimed(st, turn.transcript)) and not reply.wait_until_sure():
                self._finish(reply, follow_up=False)
                return
            if nothing:
                self._finish(reply, follow_up=False)  # nothing to say, or asked for quiet
                return
            direct = self._intent_reply(st, turn)
            if direct is not None:
                self._speak_text(reply, direct)
            elif st.settings.sequential:
                self._speak_sequential(reply)
            else:
                self._speak_streaming(reply)
            if not reply.dropped:
                self._record(reply)
            self._finish(reply, follow_up=not reply.cancelled)
        except Exception:
            log.exception("the reply failed; back to idle")
            self._finish(reply, follow_up=False)
            return
        if not reply.dropped and turn.answered_by == "llm" and not st.settings.sequential:
            self.prime(st)

    def _say(self, reply: Reply, previous: threading.Thread | None, text: str) -> None:
        """Speak `text` unprompted (a reminder, a confirmation)."""
        try:
            if previous is not None:
                previous.join()
            self._speak_text(reply, text)
            reply.turn.reply = " ".join(chunk for chunk, _ in reply.chunks)
            self.conversation.remember_said(reply.turn.reply)  # a double tap repeats a reminder too
            self._finish(reply, follow_up=not reply.cancelled)
        except Exception:
            log.exception("speaking %r failed", text)
            self._finish(reply, follow_up=False)

    def _finish(self, reply: Reply, follow_up: bool) -> None:
        reply.finish()
        self.on_done(reply, follow_up)

    def prime(self, st: ReplyStages) -> None:
        """Prefill the next turn's persona and history while the owner thinks (after a reply, on the
        reply thread: the next one waits for it): a trimmed history is prefilled here, not after the
        owner's next words."""
        if not st.dialogue.capabilities.prime:
            return
        try:
            st.dialogue.prime(self.conversation.prompt(st.system_prompt))
        except Exception:  # only an optimisation: the next turn prefills what it needs
            log.exception("priming the next prompt failed")

    def _continue_request(self, cut: Turn, turn: Turn) -> None:
        """`turn` goes on with the request `cut` (whose reply was cut off at its start): one request
        of both parts, and the cut exchange leaves the history (its thread has finished writing it)."""
        turn.transcript = f"{cut.transcript.strip()} {turn.transcript.strip()}".strip()
        turn.stats["continued"] = 1
        self.conversation.drop_cut(cut.transcript)

    @staticmethod
    def _claimed(st: ReplyStages, transcript: str) -> bool:
        return st.intents is not None and st.intents.claims(transcript)

    def _intent_reply(self, st: ReplyStages, turn: Turn) -> str | None:
        if st.intents is None:
            return None
        with metrics.timed(turn, "intents", self.clock):
            try:
                direct = st.intents(turn.transcript)
            except Exception:  # a broken command handler must not end the conversation
                log.exception("the intent layer failed on %r; the LLM answers", turn.transcript)
                direct = None
        if direct is not None:
            turn.answered_by = "intent"
        return direct

    def _messages(self, reply: Reply) -> list[Message]:
        """The prompt: persona, the recent history, and the owner's words with what memory recalls
        for them (kept with the words in the history: see Message.context)."""
        turn, st = reply.turn, reply.stages
        if st.context is not None:
            with metrics.timed(turn, "context", self.clock):
                try:
                    reply.context = st.context(turn.transcript)
                except Exception:
                    log.exception("recalling memories failed; answering without them")
                    reply.context = ""
        return self.conversation.prompt(
            st.system_prompt, Message("user", turn.transcript, context=reply.context)
        )

    # ------------------------------------------------------------------ speaking
    def _speak_text(self, reply: Reply, text: str) -> None:
        """A ready-made reply (a command's answer, an announcement): chunked and spoken like the LLM's."""
        turn = reply.turn
        turn.marks[ev.LLM_START] = turn.marks[ev.LLM_DONE] = self.clock()
        chunker = Chunker()
        for chunk in [*chunker.feed(text), *chunker.flush()]:
            if reply.cancelled:
                break
            self._say_chunk(reply, chunk)
        self._after_speaking(reply, llm=False)

    def _speak_streaming(self, reply: Reply) -> None:
        """LLM text -> chunks -> TTS -> earpiece, with the LLM running ahead on its own thread."""
        chunks: queue.Queue[str | None] = queue.Queue()
        turn, st = reply.turn, reply.stages
        messages = self._messages(reply)
        turn.marks[ev.LLM_START] = self.clock()

        def produce() -> None:
            chunker = Chunker()
            try:
                for piece in st.dialogue.stream(messages, cancel=reply.cancel_event):
                    turn.marks.setdefault(ev.LLM_FIRST_TOKEN, self.clock())
                    for c in chunker.feed(piece):
                        chunks.put(c)
                        # Give the first chunk's synthesis the whole CPU: the LLM is far ahead of
                        # speech anyway, and on 2 cores the two slow each other down 2-3x.
                        reply.wait_first_sound(timeout_s=2.0)
                if not reply.cancelled:
                    for c in chunker.flush():
                        chunks.put(c)
            finally:
                turn.marks[ev.LLM_DONE] = self.clock()
                chunks.put(None)

        producer = threading.Thread(target=produce, name="os1-llm", daemon=True)
        producer.start()
        while (raw_chunk := chunks.get()) is not None and not reply.cancelled:
            self._say_chunk(reply, raw_chunk)
            reply.mark_first_sound()  # even if the chunk had nothing to say ("(laughs)")
        producer.join()
        self._after_speaking(reply)

    def _speak_sequential(self, reply: Reply) -> None:
        """The cascade without overlap, for `os1 bench --sequential`: each stage waits for the last."""
        turn, st = reply.turn, reply.stages
        turn.marks[ev.LLM_START] = self.clock()
        pieces = []
        for piece in st.dialogue.stream(self._messages(reply), cancel=reply.cancel_event):
            turn.marks.setdefault(ev.LLM_FIRST_TOKEN, self.clock())
            pieces.append(piece)
        turn.marks[ev.LLM_DONE] = self.clock()
        text = speakable("".join(pieces))
        if text and not reply.cancelled:
            turn.marks[ev.TTS_START] = self.clock()
            audio = list(st.tts.synthesize(text))
            if audio:
                self._play(reply, text, np.concatenate(audio), turn.marks[ev.TTS_START])
        self._after_speaking(reply)

    def _say_chunk(self, reply: Reply, raw_chunk: str) -> None:
        chunk = speakable(raw_chunk)
        if not chunk:
            return
        t_chunk = self.clock()
        reply.turn.marks.setdefault(ev.TTS_START, t_chunk)
        for i, audio in enumerate(reply.stages.tts.synthesize(chunk)):
            if reply.cancelled:
                return
            # A chunk of several sentences comes back in pieces: its words are counted once, and
            # each piece's audio adds to the chunk's length.
            self._play(reply, chunk if i == 0 else None, audio, t_chunk)
            t_chunk = self.clock()

    def _play(self, reply: Reply, text: str | None, audio: np.ndarray, t_synth_start: float) -> None:
        """Hand `audio` to the earpiece. `text` is the chunk it starts; None continues the last one."""
        turn, st = reply.turn, reply.stages
        rate = st.tts.sample_rate
        first = ev.FIRST_AUDIO not in turn.marks
        if first:  # the reply's first sound: without the voice's lead-in
            audio = trim_leading_quiet(audio, rate)
        now = self.clock()
        seconds = len(audio) / rate
        metrics.add_audio(turn, seconds, now - t_synth_start)
        if first:
            metrics.first_audio_ready(turn, now)
            reply.wait_until_audible()  # an early reply: until the owner has been quiet long enough
            now = self.clock()
        with self.lock:  # an interrupt cannot come between this check and the play
            if reply.cancelled:
                return
            if first:
                reply.sounded()
                metrics.first_audio(turn, now)
                self.on_first_audio(reply)
            if text is not None or not reply.chunks:
                reply.chunks.append((text or "", seconds))
            else:
                last_text, last_seconds = reply.chunks[-1]
                reply.chunks[-1] = (last_text, last_seconds + seconds)
            st.sink.play(audio, rate)
        reply.mark_first_sound()

    def _after_speaking(self, reply: Reply, llm: bool = True) -> None:
        if not reply.cancelled:
            reply.stages.sink.drain()
        metrics.reply_done(reply.turn, self.clock(), reply.stages.dialogue.last_stats if llm else None)

    def _record(self, reply: Reply) -> None:
        """Only what the owner actually heard goes into the history; a cut reply is marked as such."""
        turn = reply.turn
        said = " ".join(text for text, _ in reply.chunks)
        if reply.cancelled:
            heard_s = reply.stages.sink.playback.played_s - reply.played_at_start
            said = heard_text(reply.chunks, heard_s)
        turn.reply = said
        request = Message("user", turn.transcript, context=reply.context)
        self.conversation.record(request, said, interrupted=reply.cancelled)
