"""WAV in any shape becomes 16 kHz mono; anything that is not audio gets a one-line error."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from device.drivers.wavfile import AudioFileError, read_wav, write_wav
from device.pipeline.audio import SAMPLE_RATE, rms_dbfs
from tests.conftest import run_os1


def tone(rate: int, seconds: float = 1.0, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t) * 32767).astype(np.int16)


@pytest.mark.parametrize(
    "rate, channels, bits", [(48000, 2, 16), (44100, 1, 24), (8000, 1, 8), (22050, 2, 32)]
)
def test_any_rate_channels_and_width_become_16k_mono(
    tmp_path: Path, rate: int, channels: int, bits: int
) -> None:
    src = tmp_path / "in.wav"
    write_wav(tmp_path / "mono.wav", tone(rate), rate)
    subprocess.run(
        ["sox", str(tmp_path / "mono.wav"), "-c", str(channels), "-b", str(bits), str(src)], check=True
    )
    audio = read_wav(src)
    assert audio.dtype == np.int16
    assert abs(len(audio) - SAMPLE_RATE) < 50
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float32)))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(audio) - 440) < 3  # still a 440 Hz tone
    assert rms_dbfs(audio) > -12


def test_not_audio_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not a wav file")
    with pytest.raises(AudioFileError, match="not a readable WAV"):
        read_wav(bad)


def test_truncated_wav_still_reads_what_is_there(tmp_path: Path) -> None:
    good = write_wav(tmp_path / "a.wav", tone(16000), 16000)
    data = good.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    assert 0 < len(read_wav(cut)) <= SAMPLE_RATE


def test_write_wav_is_16bit_mono(tmp_path: Path) -> None:
    out = write_wav(tmp_path / "o.wav", tone(22050), 22050)
    with wave.open(str(out)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)


def test_os1_run_on_a_non_audio_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "request.wav"
    bad.write_bytes(b"\x00\x01garbage" * 100)
    r = run_os1("run", "--input", str(bad), "--output", str(tmp_path / "out.wav"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "request.wav" in r.stderr
    assert not (tmp_path / "out.wav").exists()
