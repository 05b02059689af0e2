"""sd_notify against real AF_UNIX datagram sockets, bound the way systemd binds them."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.app import systemd as service


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_ready_status_stopping_and_ping_arrive(notify_socket: socket.socket) -> None:
    assert service.ready("listening for hey jarvis")
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=listening for hey jarvis"
    assert service.status("thinking\nhard")
    assert notify_socket.recv(4096) == b"STATUS=thinking hard"  # one line, or systemd drops the rest
    assert service.watchdog_ping()
    assert notify_socket.recv(4096) == b"WATCHDOG=1"
    assert service.stopping()
    assert notify_socket.recv(4096) == b"STOPPING=1"


def test_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"os1-test-notify-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert service.ready()
        assert sock.recv(4096) == b"READY=1"


def test_outside_systemd_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not service.ready()
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")  # not ours to speak: skipped, not a crash
    assert not service.watchdog_ping()


def test_a_vanished_socket_does_not_raise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert not service.ready()


def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert service.watchdog_interval_s() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert service.watchdog_interval_s() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert service.watchdog_interval_s() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert service.watchdog_interval_s() is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    for bad in ("0", "", "abc"):
        monkeypatch.setenv("WATCHDOG_USEC", bad)
        assert service.watchdog_interval_s() is None


def test_watchdog_pings_at_half_the_interval(
    notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "10000000")  # 10 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    now = [100.0]
    dog = service.Watchdog(clock=lambda: now[0])
    assert dog.enabled and dog.period_s == 5.0
    sent = []
    for _ in range(200):  # 20 s of 100 ms frames
        sent.append(dog.tick())
        now[0] += 0.1
    assert sum(sent) == 4  # at 0, 5, 10 and 15 s
    notify_socket.settimeout(0.5)
    assert [notify_socket.recv(64) for _ in range(4)] == [b"WATCHDOG=1"] * 4


def test_watchdog_off_without_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    dog = service.Watchdog()
    assert not dog.enabled
    assert not dog.tick()
