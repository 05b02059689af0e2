"""What the microphone hears, frame by frame: the earpiece's echo taken out, the VAD's speech
probability, and whether a speech-like frame is the owner or the companion's own voice coming back."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from device.pipeline.audio import FRAME_MS, SAMPLE_RATE, PlaybackLog, rms_dbfs
from device.pipeline.echo import EchoGate
from device.pipeline.settings import LoopSettings
from device.pipeline.stages import EchoCanceller, Vad

IDLE_VAD_FLOOR_DBFS = -48.0  # quieter than any voice at a lapel mic


@dataclass
class Heard:
    """One microphone frame, as the loop's states use it."""

    frame: np.ndarray
    """The frame with the echo cancelled (while the earpiece may be heard)."""
    p: float
    """The VAD's speech probability; 0 for a frame the echo gate gave to the echo."""
    speech: bool
    """Speech from the owner (not our own echo)."""
    echo_possible: bool
    """The companion's voice may be in the microphone now (the wake word is gated)."""


WAKE_GAP_FRAMES = 2  # 64 ms of no speech: a gap between the wake phrase and the request
# A request cut at its first sound after the wake phrase goes to the STT after this much silence:
# without it Whisper's window starts on the word, and "What is the capital of France?" came back as
# "…of friends?" or said three times (the wake-cut eval: WER 7.9% -> 5.6%; 100 ms did worse).
CUT_LEAD = np.zeros(800, np.int16)  # 50 ms
WAKE_KEEP_S = 0.3  # with no gap at all, keep this much: the words said while the wake word was judged


def after_wake_phrase(spoken: list[bool]) -> int:
    """Where the request starts in a pre-roll that ends as the wake word fires (one flag a frame: was
    it speech). The phrase is the last run of speech before a gap; what followed it is kept, so
    "Hey Jarvis, what time is it" keeps "what" and a misheard phrase ("are of this.") is dropped.

    - The pre-roll ends in quiet: the owner paused after the phrase; keep that quiet only.
    - It ends in speech after a gap: the request began; keep it from the gap on.
    - It ends in speech with no gap within 1.2 s: keep the last WAKE_KEEP_S."""
    n = len(spoken)
    end = n
    while end > 0 and not spoken[end - 1]:
        end -= 1
    if end < n:
        return end
    reach = max(0, n - round(1.2 * 1000 / FRAME_MS))
    run = 0
    for k in range(n - 1, reach - 1, -1):
        run = run + 1 if not spoken[k] else 0
        if run >= WAKE_GAP_FRAMES:
            return k + run
    return max(0, n - round(WAKE_KEEP_S * 1000 / FRAME_MS))


class Hearing:
    """Turns raw microphone frames into `Heard` ones. Used from the microphone thread only."""

    def __init__(
        self, vad: Vad, playback: PlaybackLog, aec: EchoCanceller | None = None, preroll_ms: int = 800
    ):
        self.vad = vad
        self.aec = aec
        self.playback = playback
        self.echo = EchoGate(playback)
        self.recent: deque[np.ndarray] = deque(maxlen=10)
        """The last 320 ms of frames, to time the end of speech."""
        self.preroll: deque[np.ndarray] = deque(maxlen=max(1, preroll_ms // FRAME_MS))
        """What was heard before listening began (while idle or while a reply played)."""
        self._spoken: deque[bool] = deque(maxlen=self.preroll.maxlen)  # was each pre-roll frame speech
        self.quiet_ms = 0
        """How long the mic has heard no speech from the owner."""
        self.last_speech_t = 0.0
        self._vad_skipped = False  # the VAD sat out quiet frames while idle

    def hear(self, frame: np.ndarray, t: float, idle: bool, settings: LoopSettings) -> Heard:
        """One frame: `idle` lets a frame too quiet for a voice skip the VAD."""
        vad_threshold, echo_gate = settings.vad_threshold, settings.echo_gate
        echo_possible = self.echo.active(t)
        if self.aec is not None and echo_possible:  # nothing to cancel while the earpiece is quiet
            frame_s = len(frame) / SAMPLE_RATE
            frame = self.aec.process(frame, self.playback.reference(t - frame_s, t))
        self.recent.append(frame)
        p = self._speech_probability(frame, idle)
        echo_possible = echo_possible and echo_gate
        speech = p >= vad_threshold
        self.preroll.append(frame)
        self._spoken.append(speech)
        if echo_possible:  # the owner, or our own voice coming back?
            speech = self.echo.hears_user(frame, t, speech)
        if speech:
            self.last_speech_t = t
        self.quiet_ms = 0 if speech else self.quiet_ms + FRAME_MS
        return Heard(frame, p if (speech or not echo_possible) else 0.0, speech, echo_possible)

    def take_preroll(self, ms: int | None = None, after_wake: bool = False) -> list[np.ndarray]:
        """The pre-roll (its last `ms` only, if given; 0 = none), emptied: listening begins. With
        `after_wake`, only what came after the wake phrase (see `after_wake_phrase`)."""
        frames, spoken = list(self.preroll), list(self._spoken)
        self.preroll.clear()
        self._spoken.clear()
        if after_wake:
            return frames[after_wake_phrase(spoken) :]
        if ms is not None:
            frames = frames[-ms // FRAME_MS :] if ms > 0 else []
        return frames

    def _speech_probability(self, frame: np.ndarray, idle: bool) -> float:
        """Silero's speech probability; while idle, a frame too quiet to be a voice skips the model
        (the wake word listens regardless): a fifth of the idle CPU in a quiet room."""
        if idle and rms_dbfs(frame) < IDLE_VAD_FLOOR_DBFS:
            self._vad_skipped = True
            return 0.0
        if self._vad_skipped:  # its memory is of sound from before the quiet: start it afresh
            self.vad.reset()
            self._vad_skipped = False
        return self.vad.probability(frame)
