"""Choosing an audio device by name, and surviving one that goes away, on real PortAudio/ALSA streams.

The device is `os1gone`, defined in a test ~/.asoundrc (HOME points at a temp dir): ALSA `file`
PCMs, one per direction (a capture file PCM writes what it records to its `file` too, and two file
descriptors on one out.raw overwrite each other's audio). Unplugging it is two real things: the
asoundrc loses the definition, so PortAudio, re-initialised for each retry, no longer lists it (ALSA
re-reads a changed config); and the open stream is closed under the driver in its own thread, so the
next read/write raises PortAudio's real OSError(-9988, 'Stream closed'). A real USB pull raises -9999
'Unanticipated host error' instead; the drivers treat every OSError the same. Plugging it back in
restores the asoundrc.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from device.drivers.audio import AudioDeviceError, match_device
from tests.conftest import REPO, run_os1

ROWS: list[dict[str, object]] = [
    {"index": 0, "name": "bcm2835 Headphones: - (hw:0,0)", "inputs": 0, "outputs": 2, "rate": 44100},
    {"index": 1, "name": "USB PnP Sound Device: Audio (hw:1,0)", "inputs": 1, "outputs": 2, "rate": 48000},
    {"index": 2, "name": "usb", "inputs": 1, "outputs": 0, "rate": 16000},
    {"index": 3, "name": "pulse", "inputs": 32, "outputs": 32, "rate": 44100},
    {"index": 4, "name": "default", "inputs": 32, "outputs": 32, "rate": 44100},
]


def test_match_prefers_exact_then_prefix_then_substring_ignoring_case() -> None:
    assert match_device(ROWS, "USB", want_input=True)["index"] == 2  # exact beats the hw device
    assert match_device(ROWS, "usb", want_input=False)["index"] == 1  # "usb" itself cannot play
    assert match_device(ROWS, "  Pulse ", want_input=True)["index"] == 3
    assert match_device(ROWS, "hw:1", want_input=True)["index"] == 1
    assert match_device(ROWS, "def", want_input=False)["index"] == 4  # prefix


def test_no_match_says_which_devices_there_are_and_why_a_near_one_does_not_fit() -> None:
    with pytest.raises(AudioDeviceError) as e:
        match_device(ROWS, "headphones", want_input=True)
    msg = str(e.value)
    assert msg.startswith("no audio input device matching 'headphones'")
    assert "'bcm2835 Headphones: - (hw:0,0)' cannot record" in msg
    assert "'USB PnP Sound Device: Audio (hw:1,0)'" in msg and "set audio.device" in msg
    with pytest.raises(AudioDeviceError, match="output devices: 'bcm2835"):
        match_device(ROWS, "bluetooth", want_input=False)


PLUGGED = (
    "pcm.os1gone {{ type asym; "
    'playback.pcm {{ type file; slave.pcm "null"; file "{home}/out.raw"; format "raw" }} '
    'capture.pcm {{ type file; slave.pcm "null"; file "{home}/heard.raw"; infile "{home}/in.raw"; '
    'format "raw" }} '
    'hint {{ show on description "OS1 test device" }} }}\n'
)

SCRIPT = """
import json, logging, os, re, threading, time
from pathlib import Path
import numpy as np
from device.drivers.audio import PyAudioEarpiece, PyAudioMicrophone
from device.drivers.audio_devices import AudioDevices, Backoff

home = Path(os.environ["HOME"])
asoundrc, plugged = home / ".asoundrc", (home / "plugged.asoundrc").read_text()
pulled = threading.Event()


def write_asoundrc(text):  # whole or not at all: ALSA may read it at any moment
    tmp = home / "asoundrc.tmp"
    tmp.write_text(text)
    tmp.replace(asoundrc)


read, loud_written = [0], [0]  # frames the microphones read; loud samples the earpieces wrote


class Mic(PyAudioMicrophone):
    def read_frames(self):
        if pulled.is_set():
            self._stream.close()  # the stream dies under the driver, in the thread that reads it
        time.sleep(self._period / self.rate)  # the file PCM is not paced: pace it like a microphone
        frames = super().read_frames()
        read[0] += len(frames)
        return frames


class Ear(PyAudioEarpiece):
    def _write(self, block):
        if pulled.is_set():
            self._stream.close()
        time.sleep(self._period / self.rate)
        when = super()._write(block)  # PortAudio took it
        loud_written[0] += int(np.count_nonzero(np.abs(block) > 4000))
        return when


logs = []
handler = logging.Handler()
handler.emit = lambda r: logs.append(r.getMessage())
logging.getLogger("os1.audio").addHandler(handler)
logging.getLogger("os1.audio").setLevel(logging.INFO)


def until(cond, timeout=30):  # only bounds a wait: a loaded box may take long
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


back, frames, stop = [], [], threading.Event()
dev = AudioDevices(
    open_mic=lambda: Mic("os1gone", 16000, 32),
    open_ear=lambda playback: Ear("os1gone", 16000, 32, playback=playback),
    mic_name="os1gone", ear_name="os1gone", backoff=Backoff(0.1, 0.4), stop=stop, on_reconnect=back.append,
)
# Daemons: a consumer that never ends, or a drain that never returns, fails an assertion, not the run.
consumer = threading.Thread(target=lambda: frames.extend(f for f, _t in dev.microphone), daemon=True)
consumer.start()
out = {"flowing": until(lambda: len(frames) >= 20), "start": dev.status()}

write_asoundrc("# unplugged\\n")
pulled.set()
out["lost"] = until(lambda: not dev.status()["microphone"]["connected"]
                    and not dev.status()["earpiece"]["connected"])
read_before_loss = read[0]  # the microphone is closed: nothing more can be read until it is back


def play_while_gone():
    dev.earpiece.play(np.full(8000, 8000, np.int16), 16000)  # must not raise
    dev.earpiece.drain()


player = threading.Thread(target=play_while_gone, daemon=True)
player.start()
player.join(30)  # drain must not wait for the device to come back: that is only after this
out["drained_while_gone"] = not player.is_alive()
out["loud_written_while_gone"] = loud_written[0]
out["retried"] = until(lambda: dev.status()["microphone"]["failed_attempts"] >= 3)
out["read_while_gone"] = read[0] - read_before_loss
out["frames_beyond_the_loss"] = len(frames) - read_before_loss  # <= 0: some may still be queued
out["gone"] = dev.status()
out["consumer_alive_while_gone"] = consumer.is_alive()

pulled.clear()
write_asoundrc(plugged)
out["back"] = until(lambda: back)
out["on_reconnect"] = back
n_back = len(frames)
out["flowing_again"] = until(lambda: len(frames) >= n_back + 20)
dev.earpiece.play(np.full(8000, 8000, np.int16), 16000)
dev.earpiece.drain()
time.sleep(0.1)
out["after"] = dev.status()
stop.set()
consumer.join(30)
out["consumer_ended"] = not consumer.is_alive()
dev.close()
out["loud_written"] = loud_written[0]
loud = np.fromfile(home / "out.raw", "<i2")  # what the earpiece opened after the return recorded
out["loud_after_reconnect"] = int(np.count_nonzero(np.abs(loud) > 4000))
delay = r"microphone 'os1gone': attempt \\d+ failed; next try in ([0-9.]+) s"
out["mic_delays"] = [float(m) for m in re.findall(delay, "\\n".join(logs))]
out["logs"] = logs
print(json.dumps(out))
"""


def test_devices_come_back_after_being_unplugged(tmp_path: Path) -> None:
    (tmp_path / "plugged.asoundrc").write_text(PLUGGED.format(home=tmp_path))
    (tmp_path / ".asoundrc").write_text(PLUGGED.format(home=tmp_path))
    (tmp_path / "in.raw").write_bytes(b"\0" * 32000)
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT)],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
        cwd=REPO,
        timeout=300,  # each wait in SCRIPT is bounded at 30 s; a passing run takes a few seconds
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    logs = "\n".join(out["logs"])
    assert out["flowing"] and out["start"]["microphone"]["connected"], logs
    assert out["start"]["microphone"]["open"] == "os1gone"

    # Gone: the daemon keeps running, hears nothing, drops what it plays at once, and keeps trying.
    # Nothing here is timed: a loaded box may take seconds for any of it.
    assert out["lost"], logs
    assert out["consumer_alive_while_gone"] and out["read_while_gone"] == 0
    assert out["frames_beyond_the_loss"] <= 0  # no frames made up while there is no microphone
    assert out["gone"]["earpiece"]["open"] is None  # nothing to queue the audio on
    assert out["drained_while_gone"] and out["loud_written_while_gone"] == 0  # dropped, not waited on
    gone = out["gone"]["microphone"]
    assert out["retried"], logs
    assert gone["failed_attempts"] >= 3 and "no audio input device matching 'os1gone'" in gone["error"]
    assert "microphone 'os1gone' lost" in logs and "Stream closed" in logs
    assert out["mic_delays"][:3] == [0.2, 0.4, 0.4]  # 0.1 s after the loss, then doubling to the cap

    # Back: frames flow, the earpiece plays, and the callback said so once for both.
    assert out["back"] and out["on_reconnect"] == ["microphone and earpiece"], logs
    assert out["flowing_again"]
    assert out["after"]["microphone"]["reconnects"] == 1 and out["after"]["earpiece"]["connected"]
    # The half second played after the return, all of it, and not the one dropped while gone as well:
    # what the earpiece wrote, and what the reopened device recorded.
    assert out["loud_written"] == 8000 and out["loud_after_reconnect"] == 8000
    assert out["consumer_ended"]  # stop ends the microphone's iterator


LATE_SCRIPT = """
import json, os, threading, time
from pathlib import Path
from device.drivers.audio_devices import Backoff, live_audio

home = Path(os.environ["HOME"])
back, frames, stop = [], [], threading.Event()
dev = live_audio("os1gone", "os1gone", rate=16000, backoff=Backoff(0.1, 0.2), stop=stop)
dev.on_reconnect = back.append
consumer = threading.Thread(target=lambda: frames.extend(f for f, _t in dev.microphone))
consumer.start()
time.sleep(0.5)
out = {"before": dev.status(), "frames_before": len(frames)}
(home / "plugged.asoundrc").replace(home / ".asoundrc")
end = time.monotonic() + 30  # only bounds the wait
while not (back and len(frames) > 10) and time.monotonic() < end:
    time.sleep(0.02)
out["on_reconnect"], out["frames_after"] = back, len(frames)
stop.set()
consumer.join(30)
dev.close()
print(json.dumps(out))
"""


def test_a_headset_that_connects_after_start_is_picked_up(tmp_path: Path) -> None:
    """A worn device boots before its Bluetooth headset connects: no error, it waits for it."""
    (tmp_path / ".asoundrc").write_text("# nothing yet\n")
    (tmp_path / "plugged.asoundrc").write_text(PLUGGED.format(home=tmp_path))
    (tmp_path / "in.raw").write_bytes(b"\0" * 320000)
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(LATE_SCRIPT)],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
        cwd=REPO,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert not out["before"]["microphone"]["connected"] and out["frames_before"] == 0
    assert "no audio input device matching 'os1gone'" in out["before"]["microphone"]["error"]
    assert out["on_reconnect"] == ["microphone and earpiece"] and out["frames_after"] > 10


def test_doctor_names_the_device_each_direction_will_use(tmp_path: Path) -> None:
    (tmp_path / ".asoundrc").write_text(PLUGGED.format(home=tmp_path))
    (tmp_path / "in.raw").write_bytes(b"\0" * 3200)
    cfg = tmp_path / "config.yaml"
    cfg.write_text("audio:\n  device: OS1GONE\n  output_device: headset\n")
    r = run_os1("doctor", env={"HOME": str(tmp_path), "OS1_CONFIG": str(cfg)})
    audio = [line for line in r.stdout.splitlines() if " audio " in f" {line}"]
    assert audio[0] == "OK   audio input: 'OS1GONE' -> os1gone", r.stdout
    assert audio[1].startswith("FAIL audio output: no audio output device matching 'headset'")
    assert "'os1gone'" in audio[1] and "-> fix: set audio.device" in audio[1]
