"""The echo canceller alone (libspeexdsp through ctypes), on a known echo path: what the earpiece
played comes back 40 ms later through a short decaying FIR, 6 dB down, over a little noise. Nothing
else in the pipeline (the echo gate) is there to make up for it.

The figures in the comments were measured on the 2-core x86-64 dev box with Debian's libspeexdsp1
1.2.1; the bounds sit a few dB below them.
"""

from __future__ import annotations

import numpy as np
import pytest

from device.pipeline.aec import SpeexEchoCanceller
from device.pipeline.audio import FRAME_SAMPLES, SAMPLE_RATE, to_int16

DELAY_S = 0.040
ECHO_GAIN_DB = -6.0
NOISE_DBFS = -65.0
PREPROCESS_LAG = 256  # the residual-echo suppressor hands its frame back one frame (16 ms) late


def _speechlike(seconds: float, seed: int, dbfs: float) -> np.ndarray:
    """Broadband noise, gently low-passed, with a 4 Hz syllable rhythm: like speech to an adaptive filter."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE) // FRAME_SAMPLES * FRAME_SAMPLES  # whole frames, as the loop has
    x = np.convolve(rng.standard_normal(n), np.ones(4) / 4, mode="same")
    x *= 0.55 + 0.45 * np.sin(2 * np.pi * 4 * np.arange(n) / SAMPLE_RATE + rng.uniform(0, 2 * np.pi))
    return x / np.sqrt(np.mean(x**2)) * 10 ** (dbfs / 20)


def _echo_path(played: np.ndarray, seed: int = 7) -> np.ndarray:
    """40 ms of delay, then 3 ms of decaying reflections (48 taps, unit energy), 6 dB down."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal(48) * np.exp(-np.arange(48) / 8.0)
    h /= np.sqrt(np.sum(h**2))
    delay = int(DELAY_S * SAMPLE_RATE)
    echo = np.zeros(len(played))
    echo[delay:] = np.convolve(played, h)[: len(played) - delay] * 10 ** (ECHO_GAIN_DB / 20)
    return echo


def _db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-12))


def _run(aec: SpeexEchoCanceller, mic: np.ndarray, played: np.ndarray) -> np.ndarray:
    """Frame by frame as the voice loop feeds it: each microphone frame with what was played over it."""
    mic16, ref16 = to_int16(mic.astype(np.float32)), to_int16(played.astype(np.float32))
    out = [
        aec.process(mic16[i : i + FRAME_SAMPLES], ref16[i : i + FRAME_SAMPLES])
        for i in range(0, len(mic16), FRAME_SAMPLES)
    ]
    return np.concatenate(out).astype(np.float64) / 32768.0


def _seconds(x: np.ndarray, a: float, b: float) -> np.ndarray:
    return x[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)]


@pytest.mark.parametrize("suppress", [True, False], ids=["with-suppressor", "filter-only"])
def test_a_known_echo_is_cancelled_after_convergence(suppress: bool) -> None:
    played = _speechlike(10, seed=1, dbfs=-20)
    echo = _echo_path(played)
    noise = np.random.default_rng(2).standard_normal(len(played)) * 10 ** (NOISE_DBFS / 20)
    out = _run(SpeexEchoCanceller(suppress=suppress), echo + noise, played)

    def erle(a: float, b: float) -> float:  # echo return loss enhancement: how much quieter it got
        return _db(_seconds(echo, a, b)) - _db(_seconds(out, a, b))

    assert _db(echo) == pytest.approx(-24.5, abs=1.0)  # the echo path is as designed
    assert erle(3, 4) > 28  # measured 31.2 dB (with the suppressor) / 31.3 dB (filter only)
    # Converged: measured 39.0 dB both ways, about as far as the -65 dBFS noise floor lets it go.
    assert erle(6, 10) > 36


def test_the_user_comes_through_the_canceller() -> None:
    """The owner talks over the reply (double talk) after the filter has converged: their voice is
    kept at its level, the echo stays well under it, and the filter has not diverged afterwards."""
    played = _speechlike(13, seed=1, dbfs=-20)
    echo = _echo_path(played)
    noise = np.random.default_rng(2).standard_normal(len(played)) * 10 ** (NOISE_DBFS / 20)
    voice = _speechlike(2, seed=3, dbfs=-26)
    user = np.zeros(len(played))
    user[8 * SAMPLE_RATE : 8 * SAMPLE_RATE + len(voice)] = voice
    out = _run(SpeexEchoCanceller(suppress=True), echo + noise + user, played)

    heard = _seconds(out, 8, 10)[PREPROCESS_LAG:]
    said = _seconds(user, 8, 10)[:-PREPROCESS_LAG]
    assert _db(heard) == pytest.approx(_db(said), abs=1.0)  # measured -26.2 vs -26.0 dBFS
    # What is left besides the user (residual echo plus noise): measured 9.7 dB under their voice.
    assert _db(heard - said) < _db(said) - 7
    after = _db(_seconds(echo, 10.5, 13)) - _db(_seconds(out, 10.5, 13))  # from 0.5 s after they stop
    assert after > 35  # measured 38.4 dB, as before the double talk
