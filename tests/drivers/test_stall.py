"""No audio for `audio_reconnect.stall_s`: a microphone or earpiece that stops moving audio without any
error is treated as gone, is reopened, and the daemon says "I'm back." when it is.

The stall is real, on the real PortAudio path: ALSA's `jack` device on a private JACK server (dummy
driver, paced like a sound card), and the server frozen with SIGSTOP, as a sound server that hangs.
PortAudio then has nothing to read and no room to write, and reports no error: the drivers have to
notice by themselves. SIGCONT brings the server back. While it is frozen, closing a stream on it also
waits (PortAudio waits for the server), so the reopen, and what is logged about the loss, come once it
runs again; what shows the loss while it is frozen is that the stream was let go.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device.config.schema import Config
from device.drivers.audio import AudioStalled, PyAudioEarpiece, PyAudioMicrophone
from device.drivers.audio_devices import AudioDevices, Backoff
from device.pipeline.audio import SAMPLE_RATE
from tests.app.test_daemon_claims import JackServer, LiveDaemon, jack_server, live_daemons, needs_jack, until

pytestmark = [pytest.mark.system, needs_jack]

STALL_S = 0.5  # the smallest stall_s the config allows


@pytest.fixture()
def jack(monkeypatch: pytest.MonkeyPatch) -> Iterator[JackServer]:
    """The server, and this process's JACK clients (ALSA's `jack` device) pointed at it."""
    with jack_server() as server:
        for k, v in server.env.items():
            monkeypatch.setenv(k, v)
        yield server


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)


def test_a_microphone_with_no_audio_for_stall_s_raises_audio_stalled(jack: JackServer) -> None:
    """While the server runs, reads bring frames and never raise; frozen, reads bring nothing and,
    after `stall_s` of nothing, raise AudioStalled (an OSError: the device is gone), instead of
    returning empty-handed for ever."""
    mic = PyAudioMicrophone("jack", 0, 32, stall_s=STALL_S)
    try:
        frames: list[np.ndarray] = []

        def read_some() -> bool:
            frames.extend(f for f, _t in mic.read_frames())
            return len(frames) >= 20

        until("frames from the running server", read_some, timeout_s=20)
        jack.freeze()
        try:
            empty_reads = 0
            with pytest.raises(AudioStalled) as stalled:

                def read_nothing() -> bool:
                    nonlocal empty_reads
                    empty_reads += not mic.read_frames()
                    return False

                until("AudioStalled from a frozen server", read_nothing, timeout_s=20)
        finally:
            jack.thaw()
    finally:
        mic.close()
    assert empty_reads > 0  # it first found nothing, without raising
    quiet_s = float(re.search(r"no audio from the microphone for ([0-9.]+) s", str(stalled.value))[1])  # type: ignore[index]
    assert quiet_s >= STALL_S  # the driver's own measure of how long nothing came


def test_an_earpiece_that_takes_no_audio_for_stall_s_fails_and_holds_nothing_up(jack: JackServer) -> None:
    """Frozen, the earpiece takes no audio: its writer notices within `stall_s`, `failed` holds the
    AudioStalled, and a reply waiting for it to drain is let go, so the voice loop never waits on a
    dead device (and AudioDevices sees `failed` and reopens it)."""
    ear = PyAudioEarpiece("jack", 0, 32, stall_s=STALL_S)
    try:
        ear.play(tone(0.2), SAMPLE_RATE)
        ear.drain()  # the running server takes it
        assert ear.failed is None
        jack.freeze()
        try:
            ear.play(tone(1.0), SAMPLE_RATE)
            until("the earpiece noticed it takes no audio", lambda: ear.failed is not None, timeout_s=20)
            drained = threading.Thread(target=ear.drain, daemon=True)
            drained.start()
            drained.join(timeout=10)
            assert not drained.is_alive(), "drain() waits on a dead earpiece"
            assert not ear.busy
            ear.play(tone(0.5), SAMPLE_RATE)  # dropped, not queued for nobody
            assert not ear.busy
        finally:
            jack.thaw()
    finally:
        ear.close()
    assert isinstance(ear.failed, AudioStalled)
    assert str(ear.failed) == f"the earpiece took no audio for {STALL_S:.1f} s"


class QuietEarpiece:
    """An earpiece that is always fine (the microphone is the one under test here; a frozen server
    stalls a PortAudio earpiece too, and whichever is noticed first would be reopened first)."""

    device, failed, busy, volume = "stand-in", None, False, 1.0

    def play(self, audio: np.ndarray, rate: int) -> None: ...
    def drain(self) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


def test_a_stalled_microphone_is_reopened_and_on_reconnect_fires(
    jack: JackServer, caplog: pytest.LogCaptureFixture
) -> None:
    """AudioDevices with the daemon's PortAudio microphone: one with no audio for `stall_s` is let go
    and retried; when the server runs again it is reopened, frames flow again, `on_reconnect` is called
    once, and the loss is logged with its reason."""
    back: list[str] = []
    gone: list[str] = []
    frames = [0]
    stop = threading.Event()
    with caplog.at_level(logging.INFO, logger="os1.audio"):
        devices = AudioDevices(
            open_mic=lambda: PyAudioMicrophone("jack", 0, 32, stall_s=STALL_S),
            open_ear=lambda _playback: QuietEarpiece(),
            mic_name="jack",
            ear_name="stand-in",
            backoff=Backoff(0.1, 0.4),
            stop=stop,
            on_reconnect=back.append,
        )
        devices.on_lost = gone.append

        def consume() -> None:
            for _ in devices.microphone:
                frames[0] += 1

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        try:
            until("frames flow", lambda: frames[0] >= 20, timeout_s=20)
            assert devices.status()["microphone"]["open"] == "jack"
            jack.freeze()
            try:
                until(
                    "the stalled microphone was let go",
                    lambda: devices.status()["microphone"]["open"] is None,
                )
                until("on_lost was called", lambda: "microphone" in gone)  # a request half heard is dropped
                assert back == []
            finally:
                jack.thaw()
            until("on_reconnect was called", lambda: bool(back), timeout_s=30)
            n = frames[0]
            until("frames flow again", lambda: frames[0] >= n + 20, timeout_s=20)
            mic = devices.status()["microphone"]
        finally:
            stop.set()
            consumer.join(timeout=5)
            devices.close()
    assert back == ["microphone"]
    assert mic["connected"] and mic["open"] == "jack" and mic["reconnects"] == 1 and mic["error"] is None
    lost = [m for m in caplog.messages if m.startswith("microphone 'jack' lost")]
    assert len(lost) == 1 and "no audio from the microphone for" in lost[0], caplog.messages


@pytest.mark.models
def test_the_daemon_says_im_back_after_its_sound_server_hangs(
    tmp_path: Path, jack: JackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The running daemon (in this process, see tests/app/test_daemon_claims.py): its sound server
    hangs, so its microphone gets no audio and its earpiece takes none; the first of them noticed is let
    go after `stall_s`, and when the server is back the daemon reopens it, says "I'm back." through its
    earpiece, and `os1 status` shows the device reconnected."""
    cfg = Config()
    cfg.audio_reconnect.stall_s = STALL_S
    cfg.audio_reconnect.first_retry_s = 0.1
    with live_daemons(tmp_path, jack, monkeypatch) as start:
        d: LiveDaemon = start(cfg)

        def devices() -> dict[str, dict[str, Any]]:
            return d.status()["devices"]  # type: ignore[no-any-return]

        assert all(dev["connected"] and dev["open"] == "jack" for dev in devices().values())
        jack.freeze()
        try:
            d.until("a stalled device was let go", lambda: None in [v["open"] for v in devices().values()])
            let_go = [kind for kind, v in devices().items() if v["open"] is None]
            assert not [t for t in d.turns if t.reply == "I'm back."]
        finally:
            jack.thaw()
        assert d.said("I'm back.").answered_by == "announce"
        d.until(
            f"the {' and '.join(let_go)} reconnected",
            lambda: all(devices()[k]["connected"] and devices()[k]["reconnects"] == 1 for k in let_go),
        )


# The child: open both devices on the server, say so, wait for the parent to stop the server, find both
# gone, close them, list devices again, and exit 0. Before jack_watch, closing aborted it (exit 134).
_SERVER_DIES = """
import sys, time
import numpy as np
from device.drivers.audio import PyAudioEarpiece, PyAudioMicrophone, list_devices
mic, ear = PyAudioMicrophone("jack", 0, 32, stall_s=0.5), PyAudioEarpiece("jack", 0, 32, stall_s=0.5)
while sum(len(f) for f, _t in mic.read_frames()) == 0:
    time.sleep(0.01)
ear.play(np.zeros(1600, np.int16), 16000)
print("open", flush=True)
sys.stdin.readline()  # the server has stopped
try:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        mic.read_frames()
        time.sleep(0.01)
    print("the microphone never noticed", flush=True)
except OSError as e:
    print(f"microphone: {type(e).__name__}", flush=True)
ear.play(np.zeros(16000, np.int16), 16000)
mic.close()
ear.close()
list_devices()
print("closed", flush=True)
"""


def test_the_jack_server_stopping_under_open_devices_does_not_abort_the_process() -> None:
    """PortAudio keeps a JACK client of its own while a server runs, and terminating it after the server
    stopped aborts the process (pa_jack.c asserts; SIGABRT, exit 134): the daemon died with its sound
    server. Now the drivers see the server go and keep that PortAudio: the microphone raises an
    OSError (the device is gone, as AudioDevices expects), both close, and the process lives on."""
    with jack_server() as server:
        child = subprocess.Popen(
            [sys.executable, "-c", _SERVER_DIES],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **server.env},
            cwd=Path(__file__).resolve().parents[2],
        )
        try:
            assert child.stdout is not None and child.stdin is not None
            assert child.stdout.readline().strip() == "open", child.stderr.read() if child.stderr else ""
            server.proc.terminate()  # a SIGTERM: jackd tells its clients and frees its registry slot
            server.proc.wait(timeout=10)
            out, err = child.communicate("\n", timeout=60)
        finally:
            child.kill()
    assert child.returncode == 0, f"exit {child.returncode}: {err[-800:]}"
    assert out.splitlines()[-2:] == ["microphone: AudioStalled", "closed"], out
    assert "the sound server (JACK) stopped under PortAudio" in err
