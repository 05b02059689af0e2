"""The conversation state machine: mic frames in, spoken replies out.

IDLE --wake word / tap--> LISTENING --end of turn--> THINKING --first audio--> SPEAKING --> IDLE.
Frames arrive on the caller's thread (the microphone's). A reply is produced on a worker thread so
capture never stalls: the LLM streams text into a chunker on one thread, and the first chunk is
synthesized and handed to the earpiece while the LLM writes the rest.
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
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from device.pipeline.audio import FRAME_MS
from device.pipeline.chunker import Chunker, speakable
from device.pipeline.dialogue import Dialogue, Message
from device.pipeline.events import State, Turn
from device.pipeline.stt import SpeechToText
from device.pipeline.tts import TextToSpeech
from device.pipeline.vad import EndOfTurn, SileroVad
from device.pipeline.wake import WakeWord

log = logging.getLogger("os1.loop")


class AudioSink(Protocol):
    """The earpiece (or a file standing in for it)."""

    def play(self, audio: np.ndarray, rate: int) -> None:
        """Queue int16 mono audio; returns at once."""
        ...

    def drain(self) -> None:
        """Block until everything queued has been played."""
        ...


@dataclass
class LoopSettings:
    end_of_turn_ms: int = 600
    vad_threshold: float = 0.5
    preroll_ms: int = 400
    listen_timeout_s: float = 6.0
    max_utterance_s: float = 15.0
    history_turns: int = 6  # user+assistant pairs kept in the prompt


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
    clock: Callable[[], float] = time.monotonic

    state: State = field(default=State.IDLE, init=False)
    history: list[Message] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._eot = EndOfTurn(
            silence_ms=self.settings.end_of_turn_ms,
            start_threshold=self.settings.vad_threshold,
            keep_threshold=max(0.05, self.settings.vad_threshold - 0.15),
        )
        self._preroll: deque[np.ndarray] = deque(maxlen=max(1, self.settings.preroll_ms // FRAME_MS))
        self._not_replying = threading.Event()  # cleared while a reply is being made
        self._not_replying.set()
        self._worker: threading.Thread | None = None
        self._speech_end_t = 0.0  # wall time of the last speech frame (start of the silence run)
        self._last_speech_t = 0.0
        self._listen_start_t = 0.0
        self._turn: Turn | None = None

    # ---- input side: called for every 32 ms frame, on the microphone's thread ----
    def feed(self, frame: np.ndarray, t: float | None = None) -> None:
        t = self.clock() if t is None else t
        p = self.vad.probability(frame)
        speaking = p >= self.settings.vad_threshold
        if speaking:
            self._last_speech_t = t
        if self.state is State.IDLE:
            self._preroll.append(frame)
            if self.wake is not None:
                score = self.wake.process(frame)
                if score is not None:
                    self._on_wake(self.wake.name, score, t)
        elif self.state is State.LISTENING:
            self._listen(frame, p, t)
        # THINKING / SPEAKING / MUTED: frames are not used yet (barge-in comes with echo handling).

    def addressed(self, t: float | None = None, source: str = "tap") -> None:
        """Start listening without a wake word: a button tap, or a recording already addressed to us."""
        if self.state is State.IDLE:
            self._start_listening(None, None, self.clock() if t is None else t, preroll=False)
            log.info("listening (%s)", source)

    def _on_wake(self, name: str, score: float, t: float) -> None:
        wake_delay_ms = max(0.0, (t - self._last_speech_t) * 1000) if self._last_speech_t else 0.0
        log.info("wake word %s (score %.2f)", name, score)
        self._start_listening(name, score, t, preroll=True)
        assert self._turn is not None
        self._turn.timings_ms["wake"] = wake_delay_ms

    def _start_listening(self, wake: str | None, score: float | None, t: float, preroll: bool) -> None:
        self._set_state(State.LISTENING)
        self._turn = Turn(wake=wake, transcript="", wake_score=score)
        self._eot.reset()
        self.stt.start()
        self._listen_start_t = t
        if preroll:  # the words said while the wake word was being recognised
            for f in self._preroll:
                self.stt.accept(f)
        self._preroll.clear()

    def _listen(self, frame: np.ndarray, p: float, t: float) -> None:
        self.stt.accept(frame)
        was_speaking = self._eot.in_speech
        ended = self._eot.update(p)
        if was_speaking and not self._eot.in_speech:
            self._speech_end_t = t - FRAME_MS / 1000  # speech ended at the start of this frame
            # A segment engine (Whisper) starts transcribing now, during the silence window, and
            # drops the guess if the user speaks again.
            speculate = getattr(self.stt, "speculate", None)
            if speculate is not None:
                speculate()
        too_long = t - self._listen_start_t > self.settings.max_utterance_s
        if not self._eot.heard_speech and t - self._listen_start_t > self.settings.listen_timeout_s:
            log.info("no speech after the wake word; back to idle")
            self.stt.finish()
            self._finish_turn(None)
            return
        if ended or too_long:
            if too_long and self._eot.in_speech:
                self._speech_end_t = t
            assert self._turn is not None
            self._turn.timings_ms["end_of_turn"] = (t - self._speech_end_t) * 1000
            self._set_state(State.THINKING)
            self._not_replying.clear()
            self._worker = threading.Thread(
                target=self._respond, args=(self._turn, t), name="os1-reply", daemon=True
            )
            self._worker.start()

    # ---- output side: the reply, on a worker thread ----
    def _respond(self, turn: Turn, t_end_of_turn: float) -> None:
        try:
            t0 = self.clock()
            raw = self.stt.finish()
            turn.timings_ms["stt"] = (self.clock() - t0) * 1000
            turn.transcript = strip_wake_phrase(raw, self.wake_phrase or (turn.wake or ""))
            log.info("heard: %r", turn.transcript)
            if not turn.transcript.strip():
                self._finish_turn(turn)
                return
            turn.reply = self._speak_reply(turn)
            self.history += [Message("user", turn.transcript), Message("assistant", turn.reply)]
            self._finish_turn(turn)
        except Exception:
            log.exception("the reply failed; back to idle")
            self._finish_turn(None)

    def _speak_reply(self, turn: Turn) -> str:
        """Stream LLM text -> chunks -> TTS -> earpiece, with the LLM running ahead on its own thread."""
        chunks: queue.Queue[str | None] = queue.Queue()
        messages = [
            Message("system", self.system_prompt),
            *self.history[-2 * self.settings.history_turns :],
            Message("user", turn.transcript),
        ]
        t_llm = self.clock()
        first_token: list[float] = []

        def produce() -> None:
            chunker = Chunker()
            try:
                for piece in self.dialogue.stream(messages):
                    if not first_token:
                        first_token.append(self.clock())
                    for c in chunker.feed(piece):
                        chunks.put(c)
                for c in chunker.flush():
                    chunks.put(c)
            finally:
                chunks.put(None)

        producer = threading.Thread(target=produce, name="os1-llm", daemon=True)
        producer.start()
        spoken: list[str] = []
        first_audio_t: float | None = None
        tts_first_ms: float | None = None
        audio_s = tts_s = 0.0
        while (raw_chunk := chunks.get()) is not None:
            chunk = speakable(raw_chunk)
            if not chunk:
                continue
            t_chunk = self.clock()
            for audio in self.tts.synthesize(chunk):
                now = self.clock()
                tts_s += now - t_chunk
                audio_s += len(audio) / self.tts.sample_rate
                if first_audio_t is None:
                    first_audio_t, tts_first_ms = now, (now - t_chunk) * 1000
                    self._set_state(State.SPEAKING)
                self.sink.play(audio, self.tts.sample_rate)
                t_chunk = self.clock()
            spoken.append(chunk)
        producer.join()
        self.sink.drain()
        stats = getattr(self.dialogue, "last_stats", None)
        tm = turn.timings_ms
        if first_token:
            tm["llm_first_token"] = (first_token[0] - t_llm) * 1000
        if tts_first_ms is not None and first_audio_t is not None:
            tm["tts_first_audio"] = tts_first_ms
            tm["response_gap"] = (first_audio_t - self._speech_end_t) * 1000
            turn.stats["tts_real_time_factor"] = tts_s / audio_s if audio_s else 0.0
        if stats is not None:
            turn.stats["llm_tokens_per_s"] = float(getattr(stats, "tokens_per_s", 0.0))
            turn.stats["llm_new_tokens"] = float(getattr(stats, "new_tokens", 0))
        return " ".join(spoken)

    def _finish_turn(self, turn: Turn | None) -> None:
        if self.wake is not None:
            self.wake.reset()
        self._set_state(State.IDLE)
        self._not_replying.set()
        if turn is not None and self.on_turn is not None:
            self.on_turn(turn)

    def _set_state(self, state: State) -> None:
        if state is not self.state:
            log.debug("state %s -> %s", self.state.value, state.value)
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    def wait_reply(self, timeout_s: float | None = None) -> bool:
        """Block until the reply being made (if any) has been spoken."""
        return self._not_replying.wait(timeout_s)
