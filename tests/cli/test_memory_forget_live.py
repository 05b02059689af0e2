"""`os1 memory forget` while a daemon has the memory open.

First the real daemon, `os1 run` over a private JACK server (dummy driver) as in test_daemon.py. Then,
to drive what the daemon only does on speech (hear a turn, recall, end the conversation), another
process that holds the memory as `os1 run` does: a real Memory with the real embedder and a real
DaemonControl on a real control socket, taking its orders on stdin; forgetting never touches the
voice loop, so it is not started there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.memory.database import db_files
from tests.conftest import REPO, run_os1

pytestmark = [pytest.mark.models, pytest.mark.system]

_HOLDER = """
import json, os, sys
from pathlib import Path
from device.app.control import ControlServer, daemon_socket_path
from device.app.control_handler import DaemonControl
from device.config.schema import Config
from device.memory import Memory

memory = Memory.open(Path(sys.argv[1]))
handler = DaemonControl(None, Config(), None, None, apply=lambda cfg, keys: None, memory=memory)
server = ControlServer(daemon_socket_path(), handler)
server.start()
print(json.dumps("ready"), flush=True)
for line in sys.stdin:
    cmd, _, arg = line.rstrip("\\n").partition(" ")
    if cmd == "turn":
        out = memory.after_turn(arg, "I see.")
    elif cmd == "context":
        out = memory.context_for(arg)
    elif cmd == "end":
        out = str(memory.end_conversation())
    elif cmd == "deleted-fds":  # files this process still has open that are gone from the folder
        out = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                link = os.readlink(f"/proc/self/fd/{fd}")
            except FileNotFoundError:  # the one listdir had open
                continue
            if "memory.db" in link and link.endswith("(deleted)"):
                out.append(link)
    else:
        break
    print(json.dumps(out), flush=True)
server.close()
memory.close()
"""


class Holder:
    """The daemon's side: a process with the memory open and the control socket up."""

    def __init__(self, state_dir: Path, env: dict[str, str]):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(state_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        assert self.ask("") == "ready"

    def ask(self, line: str) -> object:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if line:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        assert reply, f"the holder died (exit {self.proc.poll()})"
        return json.loads(reply)

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "OS1_STATE_DIR": str(tmp_path / "state"), "OS1_RUNTIME_DIR": str(tmp_path / "run")}


@pytest.fixture()
def holder(tmp_path: Path, env: dict[str, str]) -> Iterator[Holder]:
    h = Holder(tmp_path / "state", env)
    try:
        yield h
    finally:
        if h.proc.poll() is None:
            h.proc.kill()
            h.proc.wait()


def _deleted_but_open(pid: int) -> list[str]:
    """The memory files process `pid` still has open although they are gone from the folder."""
    links = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            links.append(os.readlink(fd))
        except FileNotFoundError:
            continue
    return [link for link in links if "memory.db" in link and link.endswith("(deleted)")]


@pytest.mark.skipif(shutil.which("jackd") is None, reason="needs jackd2 (make apt installs it)")
def test_forget_all_while_os1_run_is_running(tmp_path: Path, env: dict[str, str]) -> None:
    name = f"os1forget{os.getpid()}"
    jack = {"JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1"}
    server = subprocess.Popen(
        ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "480"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**env, **jack},
        start_new_session=True,
    )
    config = tmp_path / "config.yaml"
    config.write_text("persona:\n  onboarding: false\n")
    env = {**env, **jack, "OS1_CONFIG": str(config)}
    log = tmp_path / "daemon.log"
    daemon = None
    try:
        time.sleep(1.5)
        assert server.poll() is None, "jackd did not start"
        daemon = subprocess.Popen(
            [sys.executable, "-m", "device.cli", "run", "--audio-device", "jack"],
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
            env=env,
            cwd=REPO,
        )
        deadline = time.monotonic() + 180
        while "ready: say" not in log.read_text():
            assert daemon.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        r = run_os1("memory", "add", "My brother Zebulonqx lives in Timbuktu", env=env)
        assert r.returncode == 0, r.stderr
        r = run_os1("memory", "forget", "--all", env=env)
        assert r.returncode == 0 and "deleted 1 memories" in r.stdout, r.stderr
        assert "forgot every memory (1)" in log.read_text()
        # Deleted under it, the daemon would hold the old files (words and all) until it next needs them.
        assert _deleted_but_open(daemon.pid) == []
        assert b"Zebulonqx" not in _raw(tmp_path / "state" / "memory")
        r = run_os1("memory", "add", "I love jazz", env=env)
        assert r.returncode == 0, r.stderr
        assert _listed(env) == ["I love jazz."]
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0, log.read_text()[-2000:]
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        server.terminate()
        server.wait(timeout=10)


def _raw(folder: Path) -> bytes:
    return b"".join(f.read_bytes() for f in db_files(folder) if f.exists())


def _listed(env: dict[str, str]) -> list[str]:
    r = run_os1("memory", "list", "--json", env=env)
    assert r.returncode == 0, r.stderr
    return [m["text"] for m in json.loads(r.stdout)]


def test_forget_all_goes_through_the_running_daemon(
    tmp_path: Path, env: dict[str, str], holder: Holder
) -> None:
    folder = tmp_path / "state" / "memory"
    said = "My brother Zebulonqx lives in Timbuktu."
    assert holder.ask(f"turn {said}") == [said]
    assert b"Zebulonqx" in _raw(folder)
    r = run_os1("memory", "forget", "--all", env=env)
    assert r.returncode == 0, r.stderr
    assert "deleted 1 memories" in r.stdout and "the running daemon goes on" in r.stdout
    # The daemon keeps no deleted file open (the words would stay on disk in it while it runs) ...
    assert holder.ask("deleted-fds") == []
    assert holder.ask("context Where does my brother live?") == ""
    # ... and the conversation in progress does not bring them back in its summary.
    holder.ask("end")
    assert b"Zebulonqx" not in _raw(folder) and b"zebulonqx" not in _raw(folder)
    assert b"Timbuktu" not in _raw(folder) and b"timbuktu" not in _raw(folder)
    assert holder.ask("turn I love jazz.") == ["I love jazz."]
    assert holder.close() == 0  # closing saves the summary of the new conversation, jazz only
    assert _listed(env)[0] == "I love jazz." and "Zebulonqx" not in str(_listed(env))


def test_forget_one_while_the_daemon_has_it_open(tmp_path: Path, env: dict[str, str], holder: Holder) -> None:
    folder = tmp_path / "state" / "memory"
    holder.ask("turn My brother Zebulonqx lives in Timbuktu.")
    holder.ask("turn I love jazz.")
    r = run_os1("memory", "list", env=env)
    secret = next(line.split()[0].lstrip("#") for line in r.stdout.splitlines() if "Zebulonqx" in line)
    r = run_os1("memory", "forget", secret, env=env)
    assert r.returncode == 0 and f"forgot #{secret}" in r.stdout, r.stderr
    # On disk at once, with the daemon still holding the files open.
    raw = _raw(folder)
    assert not any(w in raw for w in (b"Zebulonqx", b"zebulonqx", b"Timbuktu", b"timbuktu"))
    assert holder.ask("context Where does my brother live?") == ""
    assert "jazz" in str(holder.ask("context What music do I like?"))
    assert holder.close() == 0


def test_forget_all_with_a_daemon_that_has_another_memory(tmp_path: Path, env: dict[str, str]) -> None:
    """A daemon on another state directory is not asked to wipe its own: the CLI deletes ours."""
    h = Holder(tmp_path / "theirs", env)  # listening on the same control socket
    try:
        run_os1("memory", "add", "I love jazz", env=env)
        h.ask("turn I love tea.")
        r = run_os1("memory", "forget", "--all", env=env)
        assert r.returncode == 0 and "deleted 1 memories" in r.stdout, r.stderr
        assert "running daemon" not in r.stdout
        assert [f for f in db_files(tmp_path / "state" / "memory") if f.exists()] == []
        assert "tea" in str(h.ask("context What do I like to drink?"))
    finally:
        h.proc.kill()
        h.proc.wait()
