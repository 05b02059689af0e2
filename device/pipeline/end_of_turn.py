"""When the owner has finished: the end-of-turn policy, fed one frame's speech probability at a time.

The rules, in the order they can end a turn:
- the silence window (`end_of_turn_ms` of quiet after speech: certain);
- the Smart Turn model, asked once per pause after `smart_turn_ms` (off by default);
- a quick end when the words read as a finished sentence (`quick_end_of_turn_ms`, off by default);
- too long an utterance (`max_utterance_s`).
Before the turn is certain, an early reply may start as soon as the words stop, and be heard after
`early_reply_ms` of quiet (`Endpoint.early_due`, `Endpoint.early_audible`).

Time is counted in microphone frames, not the wall clock, so a recording fed faster than real time
gets the same decisions as a live microphone; `Endpointer` never reads a clock.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from device.pipeline.audio import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, block_dbfs
from device.pipeline.settings import LoopSettings
from device.pipeline.stages import TurnModel
from device.pipeline.text import looks_complete
from device.pipeline.voice_check import OwnerVoice, Verdict

log = logging.getLogger("os1.end_of_turn")

TURN_MODEL_FRAMES = 8000 // FRAME_MS  # the end-of-turn model hears the last 8 s


@dataclass
class EndOfTurn:
    """Speech, then `silence_ms` of quiet. Hysteresis (a higher threshold to start speech than to keep
    it) stops a breath from ending the turn."""

    silence_ms: int = 600
    start_threshold: float = 0.5
    keep_threshold: float = 0.35
    min_speech_ms: int = 96
    """Clicks shorter than three frames are not speech."""
    frame_ms: int = 1000 * FRAME_SAMPLES // SAMPLE_RATE
    speech_ms: int = field(default=0, init=False)
    silence_run_ms: int = field(default=0, init=False)
    in_speech: bool = field(default=False, init=False)

    def reset(self) -> None:
        self.speech_ms = self.silence_run_ms = 0
        self.in_speech = False

    @property
    def heard_speech(self) -> bool:
        return self.speech_ms >= self.min_speech_ms

    def update(self, p: float) -> bool:
        """Feed one frame's speech probability; True once the turn has ended."""
        threshold = self.keep_threshold if self.in_speech else self.start_threshold
        if p >= threshold:
            self.in_speech = True
            self.speech_ms += self.frame_ms
            self.silence_run_ms = 0
            return False
        self.in_speech = False
        self.silence_run_ms += self.frame_ms
        return self.heard_speech and self.silence_run_ms >= self.silence_ms


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


@dataclass
class Endpoint:
    """What one frame decided about the turn being listened to."""

    words_stopped: bool = False
    """The VAD let go of the words in this frame (a segment STT may start transcribing)."""
    speaking: bool = False
    """The owner is speaking now (an early reply not yet heard must be dropped)."""
    timed_out: bool = False
    """Nobody spoke before the listening timeout."""
    early_audible: bool = False
    """The owner has been quiet `early_reply_ms`: an early reply may be heard."""
    done: bool = False
    """The turn has certainly ended."""
    early_due: bool = False
    """Words were heard and have stopped: an early reply may be made now."""
    smart_turn: tuple[float, float] | None = None
    """The end-of-turn model's verdict in this frame: (probability, ms it took)."""


class Endpointer:
    """The end-of-turn policy for one listening turn at a time (`start`, then `update` per frame).
    Called from the microphone thread only; the Smart Turn model runs on a worker thread of its own,
    since it takes tens of ms and the mic thread must keep up with 32 ms frames."""

    def __init__(self, settings: LoopSettings, turn_model: TurnModel | None = None):
        self.settings = settings
        self.turn_model = turn_model
        self.eot = self._rule(settings)
        self.speech_end_t = 0.0
        """When the owner's last words ended (by loudness)."""
        self.release_lag_ms = 0.0
        """How long before the VAD let go the words had ended."""
        self._listen_start_t = 0.0
        self._timeout_s = settings.listen_timeout_s
        self._utterance: deque[np.ndarray] = deque(maxlen=TURN_MODEL_FRAMES)
        self._pool: ThreadPoolExecutor | None = None
        self._check: Future[tuple[float, float]] | None = None
        self._asked = False  # the model was asked already in this silence run
        self._voice: OwnerVoice | None = None
        self._verdict: Future[Verdict] | None = None

    @staticmethod
    def _rule(s: LoopSettings) -> EndOfTurn:
        return EndOfTurn(
            silence_ms=s.end_of_turn_ms,
            start_threshold=s.vad_threshold,
            keep_threshold=max(0.05, s.vad_threshold - 0.15),
        )

    def start(
        self,
        t: float,
        settings: LoopSettings,
        timeout_s: float | None = None,
        preroll: list[np.ndarray] | None = None,
        speech_ms: int = 0,
        voice: OwnerVoice | None = None,
    ) -> None:
        """A new listening turn. `speech_ms` > 0: the owner is already speaking (a voice barge-in).
        `voice`: whose voice it is gets checked each time the words stop."""
        self.settings = settings
        self.eot = self._rule(settings)
        self._listen_start_t = t
        self._timeout_s = timeout_s or settings.listen_timeout_s
        self._utterance.clear()
        self._utterance.extend(preroll or [])
        self._check, self._asked = None, False
        self._voice, self._verdict = voice, None
        if speech_ms:
            self.eot.in_speech = True
            self.eot.speech_ms = speech_ms

    @property
    def heard_speech(self) -> bool:
        return self.eot.heard_speech

    @property
    def in_speech(self) -> bool:
        return self.eot.in_speech

    def quiet_since_words_ms(self) -> float:
        """How long since the words ended, counted in microphone frames."""
        return self.release_lag_ms + self.eot.silence_run_ms

    def update(
        self,
        frame: np.ndarray,
        p: float,
        t: float,
        recent: list[np.ndarray],
        partial: Callable[[], str],
        early_pending: bool,
    ) -> Endpoint:
        """One listening frame. `recent`: the last ~320 ms of frames (to time the end of speech);
        `partial`: the STT's current hypothesis (for the quick end); `early_pending`: an early reply
        is being made and not yet allowed to be heard."""
        s, out = self.settings, Endpoint()
        self._utterance.append(frame)
        was_speaking = self.eot.in_speech
        ended = self.eot.update(p)
        out.speaking = self.eot.in_speech
        if was_speaking and not self.eot.in_speech:
            # Silero lets go of speech ~100 ms late; the loudness envelope says when the words stopped.
            self.speech_end_t = speech_end_time(recent, t)
            self.release_lag_ms = (t - self.speech_end_t) * 1000 - FRAME_MS
            out.words_stopped = True
            self._check_voice()
        if not ended:
            ended = self._model_says_done(out)
        if not ended and self._quick_end(partial):
            ended = True
        too_long = t - self._listen_start_t > s.max_utterance_s
        if not self.eot.heard_speech and t - self._listen_start_t > self._timeout_s:
            out.timed_out = True
            return out
        if early_pending and self.quiet_since_words_ms() >= s.early_reply_ms:
            out.early_audible = True
        if ended or too_long:
            if too_long and self.eot.in_speech:
                self.speech_end_t = t
            out.done = True
        else:
            out.early_due = (
                s.early_reply_ms > 0 and not s.sequential and self.eot.heard_speech and not self.eot.in_speech
            )
        return out

    def _model_says_done(self, out: Endpoint) -> bool:
        """After `smart_turn_ms` of silence the end-of-turn model hears the utterance once (per pause);
        if it sounds finished the turn ends as soon as the verdict is in, otherwise the silence window
        applies. Speech again drops the verdict."""
        ms = self.settings.smart_turn_ms
        if not ms or self.turn_model is None:
            return False
        if self.eot.in_speech or not self.eot.heard_speech:
            self._check, self._asked = None, False
            return False
        if not self._asked and self.quiet_since_words_ms() >= ms:
            self._asked = True
            self._check = self._worker().submit(self._ask_model, np.concatenate(self._utterance))
        check = self._check
        if check is None or not check.done():
            return False
        self._check = None
        try:
            p, took_ms = check.result()
        except Exception:  # a broken model must not stop the conversation: the silence window ends it
            log.exception("the end-of-turn model failed")
            return False
        out.smart_turn = (p, took_ms)
        return p >= self.settings.smart_turn_threshold

    def _ask_model(self, audio: np.ndarray) -> tuple[float, float]:
        assert self.turn_model is not None
        p = self.turn_model.probability(audio)
        return p, self.turn_model.last_ms

    def _check_voice(self) -> None:
        """Whose voice: judged on the utterance so far, on a worker of its own, during the silence."""
        if self._voice is None or not self._voice.active:
            return
        # The Smart Turn model's worker: it is asked later in the pause (smart_turn_ms), by when the
        # check is done. A thread of its own measured ~50 MB more peak RSS in `os1 run --input`; here 3-13 MB.
        self._verdict = self._worker().submit(self._voice.judge, np.concatenate(self._utterance))

    def _worker(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="os1-turn")
        return self._pool

    def voice_verdict(self) -> Future[Verdict] | None:
        """The check of the utterance as it ended, or None (no voiceprint); the reply waits on it.
        An utterance cut off mid-word (too long) is judged now."""
        if self._verdict is None or self.eot.in_speech:
            self._check_voice()
        return self._verdict

    def _quick_end(self, partial: Callable[[], str]) -> bool:
        """A finished sentence ends the turn after a short pause; an unfinished one ("What is the
        capital of…") gets the full silence window. The sentence is the STT's current hypothesis."""
        quick_ms = self.settings.quick_end_of_turn_ms
        if not quick_ms or self.eot.in_speech or not self.eot.heard_speech:
            return False
        if self.quiet_since_words_ms() < quick_ms:
            return False
        return looks_complete(partial())

    def wait_check(self, timeout_s: float | None = None) -> None:
        """Block until the end-of-turn model's verdict (if one is being made) is in. For a recording
        fed faster than real time, where the verdict would otherwise come many frames late."""
        check = self._check
        if check is not None:
            try:
                check.exception(timeout_s)
            except TimeoutError:
                pass
