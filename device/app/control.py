"""The control socket: the running daemon answers `os1 status`, `mute`, `say`, `reload` over a Unix socket.

One JSON object per line each way. Requests: {"cmd": "status" | "mute" | "unmute" | "say" | "reload" |
"forget" | "ask" | "ping", "text": "..." (say, ask), "speak": bool (ask), "all": true, "folder": "..."
(forget)}. Replies: {"ok": true, ...} or {"ok": false, "error": "one line"}. `ask` (a typed turn) streams:
{"ok": true, "piece": "..."} as the reply is written, then {"ok": true, "done": true, "turn": {...}}.
There is no TCP listener: the socket file is mode 0660, so only the daemon's user and the members of
its group reach it (over SSH, add yourself to the os1 group), and each request's peer is checked again
with SO_PEERCRED and logged by uid.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import stat
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from device.config import paths

log = logging.getLogger("os1.control")

SOCKET_NAME = "control.sock"
SYSTEM_SOCKET = Path("/run/os1") / SOCKET_NAME  # the service's (systemd RuntimeDirectory=os1)
MAX_REQUEST_BYTES = 64 * 1024
CONNECTION_TIMEOUT_S = 5.0  # a client that stops talking midway is dropped after this
MAX_SAY_CHARS = 2000
JOIN_GROUP = "add yourself to the os1 group (sudo usermod -aG os1 $USER) and log in again"
COMMANDS = ("status", "mute", "unmute", "say", "reload", "forget", "ask", "ping")
MAX_ASK_CHARS = 2000


class ControlHandler(Protocol):
    """What the daemon does for each command. Called on the connection's thread: be thread-safe."""

    def status(self) -> dict[str, Any]: ...

    def set_muted(self, muted: bool) -> None: ...

    def say(self, text: str) -> None: ...

    def reload(self) -> dict[str, Any]:
        """Re-read the config file: {"applied": [keys applied live], "need_restart": [keys]}."""
        ...

    def ask(self, text: str, speak: bool, on_text: Callable[[str], None]) -> dict[str, Any]:
        """A typed turn through the live companion; `on_text` gets the reply as it is written.
        Returns the finished turn (Turn.as_json())."""
        ...

    def forget_all(self, folder: str) -> dict[str, Any]:
        """`os1 memory forget --all` for the memory in `folder`: {"held": false} if the daemon does not
        have it open, else {"held": true, "count": memories deleted, "removed": [file names]}."""
        ...


class DaemonNotRunning(Exception):
    """No socket, or nobody listening on it."""


class ControlError(Exception):
    """The daemon answered {"ok": false}; the message is its one-line error."""


# ------------------------------------------------------------------------------------ where
def daemon_socket_path() -> Path:
    """Where the daemon listens. Under systemd, RuntimeDirectory= sets $RUNTIME_DIRECTORY (/run/os1)."""
    service = os.environ.get("RUNTIME_DIRECTORY")
    if service and not os.environ.get("OS1_RUNTIME_DIR"):
        return Path(service.split(":")[0]) / SOCKET_NAME
    return paths.runtime_dir() / SOCKET_NAME


def client_socket_candidates() -> list[Path]:
    """Where a client looks: our own runtime dir (a daemon started with `os1 run`), then the service's.
    $OS1_RUNTIME_DIR pins it to one place (tests)."""
    own = paths.runtime_dir() / SOCKET_NAME
    if os.environ.get("OS1_RUNTIME_DIR"):
        return [own]
    return [own] if own == SYSTEM_SOCKET else [own, SYSTEM_SOCKET]


# ------------------------------------------------------------------------------------ who
@dataclass(frozen=True)
class PeerCred:
    pid: int
    uid: int
    gid: int


def peer_cred(sock: socket.socket) -> PeerCred:
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return PeerCred(pid, uid, gid)


def process_groups(cred: PeerCred) -> set[int]:
    """The peer process's supplementary groups, as the kernel has them (/proc/PID/status)."""
    try:
        for line in Path(f"/proc/{cred.pid}/status").read_text().splitlines():
            if line.startswith("Groups:"):
                return {int(g) for g in line.split()[1:]}
    except (OSError, ValueError):
        pass
    return set()


def authorized(
    cred: PeerCred,
    daemon_uid: int,
    socket_gid: int,
    groups_of: Callable[[PeerCred], Iterable[int]] = process_groups,
) -> bool:
    """The daemon's own user, root (who can read our memory anyway), or a member of the socket's group."""
    if cred.uid in (daemon_uid, 0) or cred.gid == socket_gid:
        return True
    return socket_gid in set(groups_of(cred))


# ------------------------------------------------------------------------------------ server
def _error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


def handle_request(line: bytes, handler: ControlHandler) -> dict[str, Any]:
    """One request line to one reply. Never raises: a bad request or a failing handler is an error reply."""
    try:
        request = json.loads(line)
    except (ValueError, RecursionError):  # also deep nesting and ints past Python's 4300 digits
        return _error("bad request: not a JSON object on one line")
    if not isinstance(request, dict):
        return _error("bad request: not a JSON object on one line")
    cmd = request.get("cmd")
    if not isinstance(cmd, str) or cmd not in COMMANDS:
        return _error(f"unknown command {cmd!r} (known: {', '.join(COMMANDS)})")
    try:
        if cmd == "ping":
            return {"ok": True, "pid": os.getpid()}
        if cmd == "status":
            return {"ok": True, **handler.status()}
        if cmd in ("mute", "unmute"):
            handler.set_muted(cmd == "mute")
            return {"ok": True, "muted": cmd == "mute"}
        if cmd == "say":
            text = request.get("text")
            if not isinstance(text, str) or not text.strip():
                return _error("say needs a non-empty string 'text'")
            if len(text) > MAX_SAY_CHARS:
                return _error(f"say: text too long ({len(text)} characters, at most {MAX_SAY_CHARS})")
            handler.say(text)
            return {"ok": True}
        if cmd == "forget":
            folder = request.get("folder")
            if request.get("all") is not True or not isinstance(folder, str) or not folder:
                return _error('forget needs "all": true and the memory\'s "folder"')
            return {"ok": True, **handler.forget_all(folder)}
        return {"ok": True, **handler.reload()}
    except Exception as e:  # the daemon must outlive any one command
        log.exception("control: %s failed", cmd)
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        return _error(f"{cmd} failed: {first}")


class _Connection(socketserver.StreamRequestHandler):
    timeout = CONNECTION_TIMEOUT_S
    server: _Server

    def handle(self) -> None:
        try:
            cred = peer_cred(self.connection)
        except OSError:
            return
        allowed = authorized(cred, os.getuid(), self.server.socket_gid)
        while True:
            try:
                line = self.rfile.readline(MAX_REQUEST_BYTES + 1)
            except (TimeoutError, OSError):
                return  # idle or gone midway: drop it
            if not line:
                return
            if len(line) > MAX_REQUEST_BYTES:
                self._send(_error(f"request too large (over {MAX_REQUEST_BYTES // 1024} KiB)"))
                self._discard_rest()
                return
            if not allowed:
                log.warning("control: uid %d (pid %d) denied", cred.uid, cred.pid)
                self._send(_error("permission denied"))
                return
            if _command(line) == "ask":
                if not self._ask(line):
                    return
                continue
            reply = handle_request(line, self.server.handler)
            log.info("control: uid %d: %s -> %s", cred.uid, _summary(line), "ok" if reply["ok"] else "error")
            if not self._send(reply):
                return

    def _ask(self, line: bytes) -> bool:
        """A typed turn: the reply streams back piece by piece, then the turn. False if the client left."""
        request = json.loads(line)
        text, speak = request.get("text"), request.get("speak", False)
        if not isinstance(text, str) or not text.strip():
            return self._send(_error("ask needs a non-empty string 'text'"))
        if not isinstance(speak, bool):  # bool("false") is True: it would speak
            return self._send(_error("ask: 'speak' must be true or false"))
        if len(text) > MAX_ASK_CHARS:
            return self._send(_error(f"ask: text too long ({len(text)} characters, at most {MAX_ASK_CHARS})"))
        try:
            turn = self.server.handler.ask(
                text, speak, lambda piece: self._send({"ok": True, "piece": piece})
            )
        except Exception as e:  # the daemon must outlive any one command
            log.exception("control: ask failed")
            return self._send(_error(f"ask failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}"))
        return self._send({"ok": True, "done": True, "turn": turn})

    def _discard_rest(self, limit: int = 16 * MAX_REQUEST_BYTES) -> None:
        """Read (a bounded amount of) what the client is still sending: closing a Unix socket with unread
        data resets it, and the client would lose our error reply."""
        try:
            self.connection.shutdown(socket.SHUT_WR)
            while limit > 0 and (chunk := self.rfile.read1(65536)):
                limit -= len(chunk)
        except OSError:
            pass

    def _send(self, reply: dict[str, Any]) -> bool:
        try:
            self.wfile.write(json.dumps(reply).encode() + b"\n")
            self.wfile.flush()
            return True
        except OSError:
            return False


def _command(line: bytes) -> str | None:
    try:
        request = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return request.get("cmd") if isinstance(request, dict) else None


def _summary(line: bytes) -> str:
    try:
        return str(json.loads(line).get("cmd"))[:20]
    except Exception:
        return "(malformed)"


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64  # a burst of `os1` commands waits in the backlog instead of being refused

    def __init__(self, path: Path, handler: ControlHandler) -> None:
        self.handler = handler
        self.socket_gid = os.getgid()
        super().__init__(str(path), _Connection)

    def server_bind(self) -> None:
        super().server_bind()
        os.chmod(self.server_address, 0o660)  # the umask must not widen or narrow it
        self.socket_gid = os.stat(self.server_address).st_gid


class ControlServer:
    """The daemon's side: `start()` listens on `path` on its own thread, `close()` stops and removes it."""

    def __init__(self, path: Path, handler: ControlHandler) -> None:
        self.path = path
        self.handler = handler
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        _prepare_dir(self.path.parent)
        _remove_stale(self.path)
        self._server = _Server(self.path, self.handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="control", daemon=True
        )
        self._thread.start()
        log.info("control socket: %s", self.path)

    def close(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _prepare_dir(directory: Path) -> None:
    """Create the runtime dir 0750; refuse one that someone else owns (e.g. planted in /tmp)."""
    directory.mkdir(mode=0o750, parents=True, exist_ok=True)
    st = directory.stat()
    if st.st_uid != os.getuid():
        raise OSError(f"{directory} belongs to uid {st.st_uid}, not to us; remove it or set OS1_RUNTIME_DIR")
    if st.st_mode & stat.S_IWOTH:
        raise OSError(f"{directory} is world-writable; chmod 0750 it or set OS1_RUNTIME_DIR")


def _remove_stale(path: Path) -> None:
    """A socket left by a crashed daemon is removed; a live one means another daemon is running."""
    if not path.exists() and not path.is_symlink():
        return
    if not stat.S_ISSOCK(path.lstat().st_mode):
        raise OSError(f"{path} exists and is not a socket; remove it")
    try:
        request(path, {"cmd": "ping"}, timeout_s=1.0)
    except DaemonNotRunning:
        path.unlink()
        return
    except ControlError:
        pass
    raise OSError(f"another os1 daemon is already listening on {path}; stop it first (os1 restart)")


# ------------------------------------------------------------------------------------ client
def request(path: Path, message: dict[str, Any], timeout_s: float = 10.0) -> dict[str, Any]:
    """Send one request and return the reply ({"ok": true, ...}). Raises DaemonNotRunning, ControlError."""
    for reply in _replies(path, message, timeout_s):
        return reply
    raise ControlError("the daemon closed the connection without answering")


def request_stream(path: Path, message: dict[str, Any], timeout_s: float = 120.0) -> Iterator[dict[str, Any]]:
    """Send one request and yield each reply line until one says "done" (a typed turn's pieces, then the
    turn). Raises DaemonNotRunning, ControlError."""
    for reply in _replies(path, message, timeout_s):
        yield reply
        if reply.get("done"):
            return
    raise ControlError("the daemon closed the connection before the reply was done")


def _replies(path: Path, message: dict[str, Any], timeout_s: float) -> Iterator[dict[str, Any]]:
    """The daemon's reply lines to `message`, each checked; the connection closes when they stop."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        try:
            _connect(sock, path, timeout_s)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise DaemonNotRunning(str(path)) from e
        except PermissionError as e:
            raise ControlError(f"permission denied on {path}; {JOIN_GROUP}") from e
        sock.sendall(json.dumps(message).encode() + b"\n")
        for line in sock.makefile("rb"):
            try:
                reply = json.loads(line)
            except ValueError:
                raise ControlError(
                    f"{path} answered something that is not JSON; is it an os1 daemon?"
                ) from None
            if not isinstance(reply, dict):
                raise ControlError("bad reply")
            if not reply.get("ok"):
                raise ControlError(str(reply.get("error", "failed")))
            yield reply
    except TimeoutError as e:
        raise ControlError(f"the daemon did not answer within {timeout_s:.0f} s") from e
    finally:
        sock.close()


def _connect(sock: socket.socket, path: Path, timeout_s: float) -> None:
    """connect(), waiting while the listen backlog is full: with a timeout set, the socket is
    non-blocking and a Unix socket then says EAGAIN instead of waiting."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            sock.connect(str(path))
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path}: the daemon's backlog stayed full") from None
            time.sleep(0.02)


def find_daemon() -> Path:
    """The socket of the running daemon. Raises DaemonNotRunning naming where it looked."""
    candidates = client_socket_candidates()
    for path in candidates:
        try:
            if path.exists():
                return path
        except PermissionError:  # /run/os1 is 0750: not in the group
            raise ControlError(f"permission denied on {path.parent}; {JOIN_GROUP}") from None
    raise DaemonNotRunning(" or ".join(str(p) for p in candidates))


def daemon_running(timeout_s: float = 2.0) -> bool:
    """Whether a daemon answers on its socket (a stale socket is none). A daemon that is there but
    not ours to reach raises ControlError, which says how to join its group."""
    try:
        request(find_daemon(), {"cmd": "ping"}, timeout_s)
        return True
    except DaemonNotRunning:
        return False


def send(message: dict[str, Any], timeout_s: float = 10.0) -> dict[str, Any]:
    """`request` to whichever daemon is running."""
    return request(find_daemon(), message, timeout_s)
