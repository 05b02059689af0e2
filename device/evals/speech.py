"""Make spoken test requests: the Piper voice, or espeak-ng voices that the wake and STT models never saw.

Used by `os1 demo`, the benchmarks and the tests. Everything returns 16 kHz mono int16.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from device.drivers.wavfile import read_wav
from device.pipeline.audio import SAMPLE_RATE, resample, to_float32, to_int16
from device.pipeline.tts import PiperTTS, Prosody


@lru_cache(maxsize=8)
def _piper(length_scale: float | None, noise_scale: float = 0.0) -> PiperTTS:
    from device.models.catalog import resolve_piper_voice

    model, config = resolve_piper_voice("en_US-joe-medium")
    # No sampling noise by default: Piper otherwise renders every call differently, and test clips
    # must repeat.
    prosody = Prosody(length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=noise_scale)
    return PiperTTS(model, config, prosody)


def piper_speech(text: str, length_scale: float | None = None, noise_scale: float = 0.0) -> np.ndarray:
    """`text` in the Piper joe voice, at 16 kHz; the same every time unless `noise_scale` > 0."""
    tts = _piper(length_scale, noise_scale)
    return resample(tts.synthesize_all(text), tts.sample_rate, SAMPLE_RATE)


@lru_cache(maxsize=1)
def _piper_aligned() -> object:
    from piper import PiperVoice

    from device.models.catalog import resolve_piper_voice

    model, config = resolve_piper_voice("en_US-joe-medium")
    # Patched in memory to report how many samples each phoneme took (needs the onnx package).
    return PiperVoice.load(model, config, include_alignments=True)


def piper_split(text: str, words: int) -> tuple[np.ndarray, np.ndarray]:
    """`text` said in one go by the Piper joe voice, split after its first `words` words: joined
    around a silence, it is someone pausing mid-sentence, the words before the pause carrying the
    intonation of an unfinished sentence (synthesized alone they would sound finished)."""
    from piper import SynthesisConfig

    voice = _piper_aligned()
    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = list(voice.synthesize(text, cfg, include_alignments=True))  # type: ignore[attr-defined]
    if len(chunks) != 1 or chunks[0].phoneme_alignments is None:
        raise RuntimeError(f"no phoneme alignments for {text!r} (one sentence, and the onnx package, needed)")
    chunk = chunks[0]
    cut, spaces = 0, 0
    for a in chunk.phoneme_alignments:
        if a.phoneme == " ":
            spaces += 1
            if spaces == words:
                break
        cut += int(a.num_samples)
    rate = voice.config.sample_rate  # type: ignore[attr-defined]
    audio = chunk.audio_int16_array
    return resample(audio[:cut], rate, SAMPLE_RATE), resample(audio[cut:], rate, SAMPLE_RATE)


def espeak_speech(text: str, voice: str = "en-us", speed_wpm: int = 160, pitch: int = 50) -> np.ndarray:
    """`text` spoken by espeak-ng (Debian package espeak-ng), at 16 kHz."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed; install it with: sudo apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(
            [exe, "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "-w", str(out), text],
            check=True,
            capture_output=True,
        )
        return read_wav(out)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.int16)


def noise(seconds: float, dbfs: float = -40.0, seed: int = 0) -> np.ndarray:
    """White noise at a given level: a stand-in for a room, a street or a fan."""
    rng = np.random.default_rng(seed)
    amp = 10 ** (dbfs / 20) * np.sqrt(3)  # uniform noise with this RMS
    return to_int16(rng.uniform(-amp, amp, int(seconds * SAMPLE_RATE)).astype(np.float32))


def pink_noise(seconds: float, dbfs: float = -30.0, seed: int = 0) -> np.ndarray:
    """Pink (1/f) noise at an RMS level: a street's rumble and traffic, more than a fan's hiss."""
    n = int(seconds * SAMPLE_RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).normal(size=n))
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum[1:] /= np.sqrt(f[1:])
    spectrum[0] = 0
    x = np.fft.irfft(spectrum, n)
    x *= 10 ** (dbfs / 20) / max(1e-12, float(np.sqrt(np.mean(x**2))))
    return to_int16(x.astype(np.float32))


def at_level(speech: np.ndarray, dbfs: float) -> np.ndarray:
    """`speech` scaled so its voiced part (10 ms blocks within 30 dB of the loudest) has this RMS."""
    x = to_float32(speech).astype(np.float64)
    blocks = x[: len(x) // 160 * 160].reshape(-1, 160)
    power = np.mean(blocks**2, axis=1)
    voiced = power[power > power.max() * 1e-3] if len(power) else power
    rms = float(np.sqrt(np.mean(voiced))) if len(voiced) else 0.0
    return to_int16((x * (10 ** (dbfs / 20) / rms if rms else 1.0)).astype(np.float32))


def sox_shift(speech: np.ndarray, semitones: float = 0.0, tempo: float = 1.0) -> np.ndarray:
    """`speech` pitch-shifted and/or sped up by sox (Debian package sox): someone else's voice, made
    from a recording of this one."""
    exe = shutil.which("sox")
    if exe is None:
        raise RuntimeError("sox is not installed; install it with: sudo apt-get install sox")
    effects = (["pitch", str(round(semitones * 100))] if semitones else []) + (
        ["tempo", "-s", str(tempo)] if tempo != 1.0 else []
    )
    rate = str(SAMPLE_RATE)
    out = subprocess.run(
        [exe, "-t", "raw", "-r", rate, "-e", "signed", "-b", "16", "-c", "1", "-",
         "-t", "raw", "-r", rate, "-e", "signed", "-b", "16", "-c", "1", "-", *effects],
        input=np.asarray(speech, np.int16).tobytes(), check=True, capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(out, np.int16).copy()


def mix(speech: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Speech over a background (looped or cut to the speech's length)."""
    reps = int(np.ceil(len(speech) / max(1, len(background))))
    bg = np.tile(background, reps)[: len(speech)]
    return to_int16(to_float32(speech) + to_float32(bg))


def join(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate([p.astype(np.int16) for p in parts])
