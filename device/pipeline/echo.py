"""The companion must not hear itself: a log of what the earpiece played, and a gate that tells the
user's voice from the echo of the reply in the microphone.

The gate compares each microphone frame with the reference (what was played just before it, over a
window that covers the acoustic and buffer delay). It learns the echo return loss (how much quieter
the echo is than the reference) while the reply plays, and counts a frame as the user only when it is
clearly louder than the echo would be.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from device.pipeline.audio import SAMPLE_RATE, rms_dbfs


class PlaybackLog:
    """What the earpiece played and when (16 kHz, on the monotonic clock). Thread-safe."""

    def __init__(self, keep_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self._blocks: deque[tuple[float, np.ndarray]] = deque()
        self._keep_s = keep_s
        self._clock = clock
        self._lock = threading.Lock()
        self.played_s = 0.0  # total seconds played, ever: replies measure what was heard by differences

    def add(self, t_start: float, audio16k: np.ndarray) -> None:
        with self._lock:
            self._blocks.append((t_start, audio16k))
            self.played_s += len(audio16k) / SAMPLE_RATE
            # Forget what finished playing `keep_s` ago. Not by the new block's start: an earpiece
            # that schedules a whole reply ahead would forget the start of a long one while it plays,
            # and its echo would then count as the owner (it interrupted itself).
            horizon = self._clock() - self._keep_s
            while self._blocks and self._blocks[0][0] + len(self._blocks[0][1]) / SAMPLE_RATE < horizon:
                self._blocks.popleft()

    def count(self, seconds: float) -> None:
        """Audio played with no place on the clock (a file written as fast as possible): it counts
        as heard, but is no echo reference."""
        with self._lock:
            self.played_s += seconds

    def truncate(self, t: float) -> None:
        """Forget audio scheduled after `t` (playback was stopped then)."""
        with self._lock:
            kept: deque[tuple[float, np.ndarray]] = deque()
            for start, audio in self._blocks:
                if start >= t:
                    self.played_s -= len(audio) / SAMPLE_RATE
                    continue
                n = int((t - start) * SAMPLE_RATE)
                if n < len(audio):
                    self.played_s -= (len(audio) - n) / SAMPLE_RATE
                    audio = audio[:n]
                kept.append((start, audio))
            self._blocks = kept

    def reference(self, t0: float, t1: float) -> np.ndarray:
        """The played samples between t0 and t1 (zeros where nothing played)."""
        n = max(0, int(round((t1 - t0) * SAMPLE_RATE)))
        out = np.zeros(n, np.int16)
        with self._lock:
            for start, audio in self._blocks:
                a = int(round((start - t0) * SAMPLE_RATE))
                if a >= n or a + len(audio) <= 0:
                    continue
                lo, hi = max(0, a), min(n, a + len(audio))
                out[lo:hi] = audio[lo - a : hi - a]
        return out

    def last_end(self) -> float:
        """When the last scheduled sample finishes playing."""
        with self._lock:
            if not self._blocks:
                return 0.0
            start, audio = self._blocks[-1]
            return start + len(audio) / SAMPLE_RATE


@dataclass
class EchoGate:
    """Is this speech-like microphone frame the user, or the companion's own voice coming back?"""

    log: PlaybackLog
    max_delay_ms: int = 250  # acoustic path plus device buffers
    margin_db: float = 6.0  # the user must be this much louder than the expected echo
    tail_ms: int = 300  # room reverberation after the reply ends
    erl_db: float = field(default=0.0)  # echo return loss; starts pessimistic (echo as loud as the reply)
    min_erl_samples: int = 25  # frames of playback (~0.8 s) before the learned level is trusted
    # ~10 s of playback: the owner talking over a reply is a small part of it, so the 10th
    # percentile stays on the echo. It carries over from reply to reply (the hardware's echo path).
    _erl_samples: deque[float] = field(default_factory=lambda: deque(maxlen=300), init=False)

    def reference_db(self, t: float, frame_s: float) -> float:
        ref = self.log.reference(t - frame_s - self.max_delay_ms / 1000, t)
        if len(ref) == 0:
            return -120.0
        # The loudest 32 ms of the window: the echo can come from anywhere in it.
        n = max(1, int(frame_s * SAMPLE_RATE))
        blocks = [ref[i : i + n] for i in range(0, max(1, len(ref) - n + 1), n // 2)]
        return max(rms_dbfs(b) for b in blocks)

    def active(self, t: float) -> bool:
        """Whether the companion's voice may be in the microphone now."""
        return t <= self.log.last_end() + (self.tail_ms + self.max_delay_ms) / 1000

    def hears_user(self, frame: np.ndarray, t: float, speechlike: bool) -> bool:
        """Whether a microphone frame heard while the earpiece may play is the user: speech-like (the
        VAD says so) and clearly louder than the echo of what was just played.

        Every other frame teaches the gate the echo return loss, quiet ones too, not only those the
        VAD calls speech: an earpiece whose echo is too quiet for the VAD taught nothing before, so
        the gate stayed at its pessimistic start (0 dB: echo as loud as the reply) and the owner had to
        be 6 dB louder than the reply itself to interrupt it."""
        ref_db = self.reference_db(t, len(frame) / SAMPLE_RATE)
        mic_db = rms_dbfs(frame)
        if speechlike and (ref_db < -60 or mic_db > ref_db - self.erl_db + self.margin_db):
            return True  # nothing was played just now, or it is clearly louder than the echo
        if ref_db >= -50:  # enough was played to say how loud its echo comes back
            self._erl_samples.append(ref_db - mic_db)
            # Not from a handful: while the canceller converges its output swings by 10 dB or more,
            # and a level learned in the first 0.2 s let a loud swing through as the owner.
            if len(self._erl_samples) >= self.min_erl_samples:
                # The loudest the echo came back relative to what was played (the smallest difference).
                self.erl_db = max(0.0, float(np.percentile(self._erl_samples, 10)))
        return False
