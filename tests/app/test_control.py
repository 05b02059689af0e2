"""The control socket: a real server on a real Unix socket, real clients (in-process, the `os1` command,
and a process running as another user), every kind of malformed request, and the server still answering
after each one."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from device.app import control
from device.app.control import ControlServer, PeerCred, authorized
from device.app.control_handler import DaemonControl
from device.config.schema import Config
from device.drivers import board
from device.pipeline.events import State, Turn
from tests.conftest import REPO, run_os1

pytestmark = [pytest.mark.models, pytest.mark.system]


class RecordingHandler:
    """A ControlHandler that records each call, as the daemon's would act on it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail_reload = False

    def status(self) -> dict[str, Any]:
        self.calls.append(("status", None))
        return {"state": "idle", "muted": False, "uptime_s": 42.0, "pid": os.getpid(), "config_file": None}

    def set_muted(self, muted: bool) -> None:
        self.calls.append(("set_muted", muted))

    def say(self, text: str) -> None:
        self.calls.append(("say", text))

    def reload(self) -> dict[str, Any]:
        self.calls.append(("reload", None))
        if self.fail_reload:
            raise RuntimeError("config.yaml: vad.threshold: Input should be less than 1\nsecond line")
        return {"config_file": None, "applied": ["vad.threshold"], "need_restart": []}


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "run"
    monkeypatch.setenv("OS1_RUNTIME_DIR", str(d))
    return d


@pytest.fixture
def server(runtime: Path) -> Iterator[tuple[ControlServer, RecordingHandler]]:
    handler = RecordingHandler()
    srv = ControlServer(control.daemon_socket_path(), handler)
    srv.start()
    yield srv, handler
    srv.close()


def raw_exchange(path: Path, payload: bytes, timeout_s: float = 5.0) -> bytes:
    """Send bytes as they are, half-close, and return whatever comes back."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout_s)
        s.connect(str(path))
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def error_of(data: bytes) -> str:
    reply = json.loads(data.splitlines()[0])
    assert reply["ok"] is False
    return str(reply["error"])


def assert_alive(path: Path) -> None:
    assert control.request(path, {"cmd": "ping"})["pid"] == os.getpid()


# ------------------------------------------------------------------------------------ the socket file
def test_socket_is_0660_in_a_0750_dir_and_removed_on_close(runtime: Path) -> None:
    srv = ControlServer(control.daemon_socket_path(), RecordingHandler())
    srv.start()
    path = runtime / "control.sock"
    st = path.stat()
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o750
    srv.close()
    assert not path.exists()


def test_no_tcp_listener_anywhere() -> None:
    source = "".join(p.read_text() for p in (REPO / "device").glob("control*.py"))
    assert "AF_INET" not in source and "TCPServer" not in source


def test_a_stale_socket_is_replaced_and_a_live_one_refused(runtime: Path) -> None:
    runtime.mkdir(mode=0o750)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(runtime / "control.sock"))
    stale.close()  # bound, never listening: what a crashed daemon leaves
    first = ControlServer(runtime / "control.sock", RecordingHandler())
    first.start()
    try:
        assert_alive(runtime / "control.sock")
        with pytest.raises(OSError, match="already listening"):
            ControlServer(runtime / "control.sock", RecordingHandler()).start()
        assert_alive(runtime / "control.sock")
    finally:
        first.close()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give the dir to another user")
def test_a_runtime_dir_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "planted"
    d.mkdir(mode=0o750)
    os.chown(d, 65534, 65534)
    with pytest.raises(OSError, match="belongs to uid 65534"):
        ControlServer(d / "control.sock", RecordingHandler()).start()


# ------------------------------------------------------------------------------------ good requests
def test_each_command_reaches_the_handler(server: tuple[ControlServer, RecordingHandler]) -> None:
    srv, handler = server
    assert control.request(srv.path, {"cmd": "status"})["state"] == "idle"
    assert control.request(srv.path, {"cmd": "mute"}) == {"ok": True, "muted": True}
    assert control.request(srv.path, {"cmd": "unmute"}) == {"ok": True, "muted": False}
    assert control.request(srv.path, {"cmd": "say", "text": "Dinner is at eight."}) == {"ok": True}
    assert control.request(srv.path, {"cmd": "reload"})["applied"] == ["vad.threshold"]
    assert handler.calls == [
        ("status", None),
        ("set_muted", True),
        ("set_muted", False),
        ("say", "Dinner is at eight."),
        ("reload", None),
    ]


def test_several_requests_on_one_connection(server: tuple[ControlServer, RecordingHandler]) -> None:
    srv, _ = server
    data = raw_exchange(srv.path, b'{"cmd": "ping"}\n{"cmd": "mute"}\n')
    replies = [json.loads(line) for line in data.splitlines()]
    assert [r["ok"] for r in replies] == [True, True] and replies[1]["muted"] is True


# ------------------------------------------------------------------------------------ malformed requests
@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"this is not json\n", "not a JSON object"),
        (b'{"cmd": "status"\n', "not a JSON object"),
        (b'["status"]\n', "not a JSON object"),
        (b'"status"\n', "not a JSON object"),
        (b'{"cmd": "format_disk"}\n', "unknown command 'format_disk'"),
        (b'{"command": "status"}\n', "unknown command None"),
        (b'{"cmd": 7}\n', "unknown command 7"),
        (b'{"cmd": "say"}\n', "non-empty string 'text'"),
        (b'{"cmd": "say", "text": 12}\n', "non-empty string 'text'"),
        (b'{"cmd": "say", "text": "   "}\n', "non-empty string 'text'"),
        (b'{"cmd": "say", "text": "' + b"a" * 3000 + b'"}\n', "too long"),
        (b"\xff\xfe\x00\x01garbage\x80\n", "not a JSON object"),
        (b"\n", "not a JSON object"),
    ],
)
def test_a_malformed_request_gets_an_error_and_the_server_lives_on(
    server: tuple[ControlServer, RecordingHandler], payload: bytes, expected: str
) -> None:
    srv, handler = server
    assert expected in error_of(raw_exchange(srv.path, payload))
    assert_alive(srv.path)
    assert handler.calls == []


def test_an_oversize_request_is_refused(server: tuple[ControlServer, RecordingHandler]) -> None:
    srv, handler = server
    huge = b'{"cmd": "say", "text": "' + b"x" * (control.MAX_REQUEST_BYTES + 10) + b'"}\n'
    assert "request too large" in error_of(raw_exchange(srv.path, huge))
    garbage = os.urandom(control.MAX_REQUEST_BYTES * 2).replace(b"\n", b"")  # no line end at all
    assert "request too large" in error_of(raw_exchange(srv.path, garbage))
    assert_alive(srv.path)
    assert handler.calls == []


def test_a_client_that_disconnects_midway_is_dropped(server: tuple[ControlServer, RecordingHandler]) -> None:
    srv, handler = server
    for _ in range(20):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(srv.path))
            s.sendall(b'{"cmd": "sa')  # and gone, without a line end
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(srv.path))
        s.sendall(b'{"cmd": "status"}\n')  # and gone before the answer
    assert_alive(srv.path)
    assert all(call[0] == "status" for call in handler.calls)


def test_an_idle_client_times_out_and_does_not_block_others(
    server: tuple[ControlServer, RecordingHandler], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, _ = server
    monkeypatch.setattr(control._Connection, "timeout", 0.5)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
        idle.connect(str(srv.path))
        assert_alive(srv.path)  # answered while the idle one still holds its connection
        idle.settimeout(5)
        t0 = time.monotonic()
        assert idle.recv(10) == b""  # the server hung up on it
        assert time.monotonic() - t0 < 4


def test_a_failing_handler_is_a_one_line_error(server: tuple[ControlServer, RecordingHandler]) -> None:
    srv, handler = server
    handler.fail_reload = True
    with pytest.raises(control.ControlError) as e:
        control.request(srv.path, {"cmd": "reload"})
    assert str(e.value) == "reload failed: config.yaml: vad.threshold: Input should be less than 1"
    assert_alive(srv.path)


def test_many_clients_at_once(server: tuple[ControlServer, RecordingHandler]) -> None:
    srv, handler = server
    errors: list[BaseException] = []

    def client(i: int) -> None:
        try:
            control.request(srv.path, {"cmd": "say", "text": f"number {i}"})
        except BaseException as e:  # collected and reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(text for _, text in handler.calls) == sorted(f"number {i}" for i in range(30))


# ------------------------------------------------------------------------------------ who may ask
def test_the_credential_check() -> None:
    def groups(extra: set[int]) -> Any:
        return lambda _cred: extra

    daemon_uid, sock_gid = 998, 998
    assert authorized(PeerCred(1, 998, 998), daemon_uid, sock_gid, groups(set()))  # the daemon's user
    assert authorized(PeerCred(1, 0, 0), daemon_uid, sock_gid, groups(set()))  # root
    assert authorized(PeerCred(1, 1000, 998), daemon_uid, sock_gid, groups(set()))  # primary group os1
    assert authorized(PeerCred(1, 1000, 1000), daemon_uid, sock_gid, groups({27, 998}))  # member of os1
    assert not authorized(PeerCred(1, 1000, 1000), daemon_uid, sock_gid, groups({27, 29}))
    assert not authorized(PeerCred(1, 65534, 65534), daemon_uid, sock_gid, groups(set()))


def test_process_groups_reads_the_kernels_list() -> None:
    me = PeerCred(os.getpid(), os.getuid(), os.getgid())
    assert control.process_groups(me) == set(os.getgroups())
    assert control.process_groups(PeerCred(2**22 + 7, 0, 0)) == set()  # no such process


CLIENT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b'{"cmd": "mute"}\\n')
print(s.makefile().readline().strip())
"""


@pytest.mark.skipif(os.getuid() != 0 or not Path("/usr/bin/python3").exists(), reason="needs root")
@pytest.mark.parametrize(("extra_groups", "allowed"), [([], False), ([0], True)])
def test_another_user_is_denied_unless_in_the_sockets_group(extra_groups: list[int], allowed: bool) -> None:
    # A dir nobody can enter, and a socket opened up past 0660, so only the SO_PEERCRED check stands.
    d = Path(tempfile.mkdtemp(prefix="os1-ctl-"))
    try:
        d.chmod(0o755)
        handler = RecordingHandler()
        with ControlServer(d / "control.sock", handler) as srv:
            os.chmod(srv.path, 0o666)
            r = subprocess.run(
                ["/usr/bin/python3", "-I", "-c", CLIENT, str(srv.path)],
                user=65534,
                group=65534,
                extra_groups=extra_groups,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert r.returncode == 0, r.stderr
            reply = json.loads(r.stdout)
            if allowed:
                assert reply == {"ok": True, "muted": True} and handler.calls == [("set_muted", True)]
            else:
                assert reply == {"ok": False, "error": "permission denied"} and handler.calls == []
            assert_alive(srv.path)
    finally:
        shutil.rmtree(d)


# ------------------------------------------------------------------------------------ the daemon's handler
class RecordingLoop:
    """The VoiceLoop calls the control socket uses (state, muted, set_muted, announce), recorded."""

    def __init__(self) -> None:
        self.state = State.IDLE
        self.muted = False
        self.announced: list[str] = []

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        self.state = State.MUTED if muted else State.IDLE

    def announce(self, text: str) -> None:
        self.announced.append(text)


def test_daemon_control_status_mute_say(tmp_path: Path) -> None:
    loop = RecordingLoop()
    applied: list[list[str]] = []
    h = DaemonControl(
        loop,
        Config(),
        None,
        None,
        apply=lambda _cfg, keys: applied.append(keys),
        devices={"microphone": "USB Audio", "earpiece": "USB Audio"},
        models={"stt": "whisper-base.en"},
    )
    turn = Turn(wake="hey_jarvis", transcript="what time is it", reply="Eight.")
    turn.timings_ms = {"stt": 212.4, "llm_first_token": 180.0}
    h.record_turn(turn)
    h.set_muted(True)
    s = h.status()
    assert s["state"] == "muted" and s["muted"] is True
    assert s["last_turn"]["timings_ms"] == {"stt": 212, "llm_first_token": 180}
    assert s["devices"]["microphone"] == "USB Audio" and s["config_file"] is None
    assert ("cpu_temp_c" in s) == (board.cpu_temp_c() is not None)
    h.say("hello")
    assert loop.announced == ["hello"]


def test_daemon_control_reload_applies_live_keys_and_lists_the_rest(tmp_path: Path) -> None:
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text("vad:\n  threshold: 0.5\n")
    applied: list[tuple[float, list[str]]] = []
    h = DaemonControl(
        RecordingLoop(),
        Config(),
        cfg_file,
        str(cfg_file),
        apply=lambda cfg, keys: applied.append((cfg.vad.threshold, keys)),
    )
    assert h.reload() == {"config_file": str(cfg_file), "applied": [], "need_restart": []}
    cfg_file.write_text("vad:\n  threshold: 0.6\nllm:\n  max_new_tokens: 32\n")
    assert h.reload() == {
        "config_file": str(cfg_file),
        "applied": ["vad.threshold"],
        "need_restart": ["llm.max_new_tokens"],
    }
    assert applied == [(0.6, ["vad.threshold"])]
    # Until a restart, the restart-only key keeps being reported; the live one was already applied.
    assert h.reload()["need_restart"] == ["llm.max_new_tokens"] and len(applied) == 1
    cfg_file.write_text("vad:\n  threshold: 7\n")
    with pytest.raises(Exception, match="vad.threshold"):
        h.reload()
    assert h.config.vad.threshold == 0.6  # a bad file changes nothing


# ------------------------------------------------------------------------------------ board
def test_board_readings(tmp_path: Path) -> None:
    zone = tmp_path / "temp"
    zone.write_text("51234\n")
    assert board.cpu_temp_c(zone) == 51.2
    assert board.cpu_temp_c(tmp_path / "missing") is None
    assert board.parse_throttled("throttled=0x50005\n") == 0x50005
    assert board.describe_throttled(0x50005) == [
        "under-voltage now",
        "throttled now",
        "under-voltage has occurred",
        "throttling has occurred",
    ]
    assert board.parse_throttled("error") is None


# ------------------------------------------------------------------------------------ the os1 command
def test_status_mute_say_through_the_real_command(
    server: tuple[ControlServer, RecordingHandler], runtime: Path
) -> None:
    srv, handler = server
    env = {"OS1_RUNTIME_DIR": str(runtime)}
    r = run_os1("status", env=env)
    assert r.returncode == 0, r.stderr
    assert "state     : idle" in r.stdout and "uptime    : 42 s" in r.stdout
    r = run_os1("status", "--json", env=env)
    assert json.loads(r.stdout)["state"] == "idle"
    assert run_os1("mute", env=env).returncode == 0
    assert run_os1("unmute", env=env).returncode == 0
    r = run_os1("say", "Your bus leaves in ten minutes.", env=env)
    assert r.returncode == 0, r.stderr
    assert handler.calls[2:] == [
        ("set_muted", True),
        ("set_muted", False),
        ("say", "Your bus leaves in ten minutes."),
    ]


@pytest.mark.parametrize("command", [["status"], ["mute"], ["unmute"], ["say", "hello"]])
def test_not_running_is_one_line_and_exit_3(runtime: Path, command: list[str]) -> None:
    r = run_os1(*command, env={"OS1_RUNTIME_DIR": str(runtime)})
    assert r.returncode == 3
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == (
        f"os1: the daemon is not running (no socket at {runtime / 'control.sock'}); "
        "start it with `sudo systemctl start os1` or `os1 run`"
    )


def test_logs_and_restart_say_what_is_missing(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {"PATH": str(empty)}
    r = run_os1("logs", "-n", "5", env=env)
    assert r.returncode == 1 and "journalctl is not installed" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_os1("restart", env=env)
    assert r.returncode == 1 and "systemctl is not installed" in r.stderr


def test_a_runtime_dir_we_may_not_enter_says_join_the_group(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(_self: Path) -> bool:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "exists", denied)  # what a 0750 /run/os1 does to a user not in the group
    with pytest.raises(control.ControlError, match="sudo usermod -aG os1"):
        control.find_daemon()
