"""Mel spectrograms in numpy, as librosa and Whisper's feature extractor make them: a periodic Hann
window, centred frames with reflect padding, and Slaney-scale triangular filters with area
normalisation. Smart Turn and the voiceprint encoder both hear through these."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from device.pipeline.audio import SAMPLE_RATE


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    f = np.atleast_1d(np.asarray(f, dtype=np.float64))
    mels = 3.0 * f / 200.0
    high = f >= 1000.0
    mels[high] = 15.0 + np.log(f[high] / 1000.0) * (27.0 / np.log(6.4))
    return mels


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.atleast_1d(np.asarray(m, dtype=np.float64))
    f = 200.0 * m / 3.0
    high = m >= 15.0
    f[high] = 1000.0 * np.exp(np.log(6.4) / 27.0 * (m[high] - 15.0))
    return f


@lru_cache(maxsize=4)
def mel_filters(n_mels: int, n_fft: int = 400, rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n_fft // 2 + 1 bins, n_mels) triangular filters from 0 Hz to Nyquist, Slaney-normalised
    (librosa.filters.mel's defaults)."""
    edges = _mel_to_hz(
        np.linspace(_hz_to_mel(np.array(0.0))[0], _hz_to_mel(np.array(rate / 2))[0], n_mels + 2)
    )
    bins = np.linspace(0, rate // 2, n_fft // 2 + 1)
    slopes = edges[None, :] - bins[:, None]
    width = np.diff(edges)
    down = -slopes[:, :-2] / width[:-1]
    up = slopes[:, 2:] / width[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    return filters * (2.0 / (edges[2:] - edges[:-2]))[None, :]


@lru_cache(maxsize=4)
def _hann(n_fft: int) -> np.ndarray:
    return np.hanning(n_fft + 1)[:-1]  # periodic, as torch.hann_window and librosa


def power_frames(x: np.ndarray, n_fft: int = 400, hop: int = 160) -> np.ndarray:
    """(frames, n_fft // 2 + 1) power spectra of centred, reflect-padded frames of float audio."""
    padded = np.pad(np.asarray(x, dtype=np.float64), (n_fft // 2, n_fft // 2), mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    return np.abs(np.fft.rfft(windows * _hann(n_fft), axis=-1)) ** 2


def mel_power(x: np.ndarray, n_mels: int, n_fft: int = 400, hop: int = 160) -> np.ndarray:
    """(frames, n_mels) mel power spectrogram (not log), as librosa.feature.melspectrogram."""
    return power_frames(x, n_fft, hop) @ mel_filters(n_mels, n_fft)
