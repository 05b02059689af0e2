"""Real PortAudio/ALSA streams with no sound card: an ALSA `file` PCM defined in a test asoundrc shows
up in pyaudio as device `os1test`; capture reads a raw file and playback writes one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, run_os1


@pytest.fixture()
def alsa_home(tmp_path: Path) -> Path:
    (tmp_path / ".asoundrc").write_text(
        f'pcm.os1test {{ type file; slave.pcm "null"; file "{tmp_path}/out.raw"; infile "{tmp_path}/in.raw"; '
        'format "raw"; hint { show on description "OS1 test device" } }\n'
    )
    return tmp_path


def _in_alsa_home(home: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )


def test_microphone_reads_48k_device_as_16k_frames(alsa_home: Path) -> None:
    t = np.arange(48000) / 48000
    (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tofile(alsa_home / "in.raw")
    r = _in_alsa_home(
        alsa_home,
        """
        import numpy as np
        from device.drivers.audio import PyAudioMicrophone
        mic = PyAudioMicrophone("os1test", rate=48000)
        got = []
        for frame, _t in mic:
            got.append(frame)
            if len(got) == 20:
                break
        mic.close()
        audio = np.concatenate(got[2:])
        peak_hz = np.argmax(np.abs(np.fft.rfft(audio))) * 16000 / len(audio)
        print(len(got[0]), round(peak_hz))
    """,
    )
    assert r.returncode == 0, r.stderr
    size, peak = map(int, r.stdout.split())
    assert size == 512 and abs(peak - 440) < 10


def test_earpiece_plays_through_a_real_stream(alsa_home: Path) -> None:
    r = _in_alsa_home(
        alsa_home,
        """
        import numpy as np
        from device.drivers.audio import PyAudioEarpiece
        ear = PyAudioEarpiece("os1test", rate=16000)
        ear.play((np.ones(22050) * 8000).astype(np.int16), 22050)  # 1 s at Piper's rate
        ear.drain()
        ear.close()
    """,
    )
    assert r.returncode == 0, r.stderr
    out = np.fromfile(alsa_home / "out.raw", "<i2")
    loud = np.count_nonzero(np.abs(out) > 4000)
    assert 15000 < loud < 17000  # one second at the device's 16 kHz, resampled from 22.05 kHz


def test_unknown_device_is_one_line_listing_what_there_is(alsa_home: Path) -> None:
    r = run_os1("say", "hello", "--audio-device", "bluetooth-headset", env={"HOME": str(alsa_home)})
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no audio output device matching 'bluetooth-headset'" in lines[0] and "os1test" in lines[0]
