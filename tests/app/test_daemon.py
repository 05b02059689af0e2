"""The live daemon end to end, with no sound card: `os1 run` opens ALSA's `jack` device (from
libasound2-plugins) on a private JACK server with the dummy driver, which runs at the real-time pace
like a sound card. It is driven the way its owner would over SSH: `os1 status`, `say`, `mute`,
`config set`; systemd's notify socket is a real datagram socket here, so READY=1, the watchdog pings
and STOPPING=1 are checked as systemd would see them."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, run_os1

pytestmark = [
    pytest.mark.models,
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("jackd") is None, reason="needs jackd2 (make apt installs it)"),
]


@pytest.fixture()
def jack_server(tmp_path: Path) -> Iterator[dict[str, str]]:
    name = f"os1test{os.getpid()}"
    env = {"JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1"}
    proc = subprocess.Popen(
        ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "480"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
        start_new_session=True,
    )
    time.sleep(1.5)
    assert proc.poll() is None, "jackd did not start"
    yield env
    # A daemon killed a moment ago still has ports on the server; stopped now, jackd dies of SIGPIPE
    # before it frees its slot in /dev/shm/jack-shm-registry (8 slots: after 8 such leaks no JACK
    # server starts on this machine until a reboot). Give it a second to drop them.
    time.sleep(1.0)
    proc.terminate()
    proc.wait(timeout=10)


class Daemon:
    def __init__(self, tmp_path: Path, jack_env: dict[str, str]):
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(tmp_path / "notify.sock"))
        self.notify.settimeout(0.5)
        self.messages: list[str] = []
        self.config = tmp_path / "config.yaml"
        self.config.write_text(
            "# my companion\npersona:\n  name: Samantha  # what it calls itself\n  onboarding: false\n"
        )
        self.env = {
            **jack_env,
            "OS1_RUNTIME_DIR": str(tmp_path / "run"),
            "OS1_CONFIG": str(self.config),
            "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
            "WATCHDOG_USEC": "2000000",
        }
        self.log = tmp_path / "daemon.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "device.cli", "run", "--audio-device", "jack"],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
            env={**os.environ, **self.env},
            cwd=REPO,
        )

    def wait_for(self, prefix: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                message = self.notify.recv(4096).decode()
            except TimeoutError:
                assert self.proc.poll() is None, f"the daemon died: {self.log.read_text()[-2000:]}"
                continue
            self.messages.append(message)
            if any(line.startswith(prefix) for line in message.splitlines()):
                return message
        raise AssertionError(f"no {prefix} within {timeout_s} s; got {self.messages}")

    def os1(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_os1(*args, env=self.env, timeout=60)

    def status(self) -> dict[str, object]:
        r = self.os1("status", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def wait_log(self, text: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log.read_text():
            assert time.monotonic() < deadline, f"{text!r} not in the log: {self.log.read_text()[-2000:]}"
            time.sleep(0.2)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture()
def daemon(tmp_path: Path, jack_server: dict[str, str]) -> Iterator[Daemon]:
    d = Daemon(tmp_path, jack_server)
    try:
        yield d
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        d.notify.close()


def test_the_daemon_over_ssh(daemon: Daemon) -> None:
    daemon.wait_for("READY=1", timeout_s=180)
    daemon.wait_for("WATCHDOG=1", timeout_s=5)

    status = daemon.status()
    assert status["state"] == "idle" and status["muted"] is False
    assert status["config_file"] == str(daemon.config)
    devices = status["devices"]
    assert isinstance(devices, dict) and devices["microphone"]["connected"]  # type: ignore[index]

    r = daemon.os1("say", "Hello from the test.")
    assert r.returncode == 0, r.stderr
    daemon.wait_log("reply='Hello from the test.'")

    assert daemon.os1("mute").returncode == 0
    assert daemon.status()["muted"] is True
    daemon.wait_log('reply="Muted. I\'m not listening."')
    assert daemon.os1("unmute").returncode == 0
    assert daemon.status()["muted"] is False

    # A live key is applied without a restart; the comments in the file survive.
    r = daemon.os1("config", "set", "persona.name", "Ada")
    assert r.returncode == 0, r.stderr
    assert "persona.name" in r.stdout
    assert "# what it calls itself" in daemon.config.read_text()
    daemon.wait_log("applied live: persona.name")
    # A bad value is refused and the daemon keeps going.
    r = daemon.os1("config", "set", "vad.threshold", "7")
    assert r.returncode == 2 and "vad.threshold" in r.stderr
    assert "name: Ada" in daemon.config.read_text()

    # Malformed requests get an error and the daemon carries on.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(Path(daemon.env["OS1_RUNTIME_DIR"]) / "control.sock"))
        s.sendall(b"{not json\n")
        assert json.loads(s.makefile().readline())["ok"] is False
    assert daemon.status()["state"] in ("idle", "listening", "speaking")

    assert daemon.stop() == 0
    daemon.wait_for("STOPPING=1", timeout_s=5)
    r = daemon.os1("status")
    assert r.returncode == 3 and "not running" in r.stderr


def test_the_button_and_led_drive_the_running_daemon(
    tmp_path: Path, jack_server: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon in this process on gpiozero's MockFactory pins: a long press on the button mutes it
    and the LED shows mute; a tap asks for attention; the control socket sees the same state. Each step
    waits for the daemon to get there (held until it acts, as a finger would), not for a set time."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from device.app import control, daemon
    from device.config.schema import Config
    from device.drivers.indicator import GpioIndicator

    def until(what: str, done: Callable[[], bool], timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            assert thread.is_alive() and time.monotonic() < deadline, f"{what}; the LED showed {shown}"
            time.sleep(0.05)

    def status() -> dict[str, object]:
        return control.request(sock, {"cmd": "status"})

    shown: list[str] = []  # every pattern the daemon's indicator put on the LED
    apply = GpioIndicator._apply
    monkeypatch.setattr(GpioIndicator, "_apply", lambda ind, state: (apply(ind, state), shown.append(state)))
    for k, v in jack_server.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("OS1_RUNTIME_DIR", str(tmp_path / "run"))
    previous = Device.pin_factory
    Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    cfg = Config()
    cfg.persona.onboarding = False
    stop = threading.Event()
    thread = threading.Thread(target=daemon.run, args=(cfg, "jack"), kwargs={"stop": stop})
    thread.start()
    try:
        sock = tmp_path / "run" / "control.sock"
        until("the daemon did not start", sock.exists, timeout_s=180)
        button = Device.pin_factory.pin(cfg.button.pin)
        led = Device.pin_factory.pin(cfg.indicator.led_pin)

        button.drive_low()  # pressed (pull-up), and held until the long press mutes it
        until("a long press did not mute it", lambda: status()["muted"] is True)
        button.drive_high()
        # The confirmation is spoken, then the LED shows mute: a double blink, as the pin sees it.
        until("the LED never showed mute", lambda: shown[-1:] == ["muted"])
        led.clear_states()
        until("the LED did not blink while muted", lambda: len(led.states) > 4)
        assert [bool(s.state) for s in led.states[1:5]] in ([True, False] * 2, [False, True] * 2)

        button.drive_low()  # a long press again: unmuted
        until("a second long press did not unmute it", lambda: status()["muted"] is False)
        button.drive_high()
        until("the unmute was not confirmed and done", lambda: status()["state"] == "idle")

        button.drive_low()  # a tap (the finger's 0.1 s on the button): listening, and the LED steady on
        time.sleep(0.1)
        button.drive_high()
        until("a tap did not start listening", lambda: status()["state"] == "listening")
        until("the LED is not steady on", lambda: shown[-1:] == ["listening"] and led.state > 0)
    finally:
        stop.set()
        thread.join(timeout=30)
        Device.pin_factory.reset()
        Device.pin_factory = previous
    assert not thread.is_alive()


def test_typed_turns_go_through_the_running_companion(daemon: Daemon) -> None:
    """`os1 ask` and `os1 chat` with the daemon running are its turns: the intents, the memory and
    the conversation are the live companion's, and the reply streams back over the socket."""
    daemon.wait_for("READY=1", timeout_s=180)
    r = daemon.os1("ask", "What's 17 times 3?", "--json")
    assert r.returncode == 0, r.stderr
    turn = json.loads(r.stdout)
    assert turn["via"] == "daemon" and turn["typed"] and "51" in turn["reply"]
    assert "answering here" not in r.stderr
    assert daemon.os1("ask", "My sister Anna lives in Lyon.").returncode == 0
    r = daemon.os1("ask", "Where does my sister live?")
    assert r.returncode == 0 and "Lyon" in r.stdout, r.stdout + r.stderr
    r = run_os1("chat", env=daemon.env, timeout=60, stdin="I want to kill myself.\nWhat time is it?\n")
    assert r.returncode == 0, r.stderr
    assert "116 123" in r.stdout and re.search(r"It's \d", r.stdout), r.stdout
    daemon.wait_log("typed: 'Where does my sister live?'")
    assert daemon.stop() == 0
