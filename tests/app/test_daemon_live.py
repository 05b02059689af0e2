"""The live daemon (`os1 run` on a private JACK server, as in tests/app/test_daemon.py) seen through
what it says: `os1 ask TEXT --json` is a turn of the running companion, and every turn it speaks is a
line in its log. A name set with `os1 config set` is the running companion's at once; the first
meeting is asked out loud, answered with typed turns, survives a restart at the question it had
reached, and ends in the profile."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app.test_daemon import Daemon, jack_server  # noqa: F401 (a fixture)
from tests.conftest import REPO

pytestmark = [
    pytest.mark.models,
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("jackd") is None, reason="needs jackd2 (make apt installs it)"),
]


class StartedDaemon(Daemon):
    """`Daemon` (tests/app/test_daemon.py) on a config of the test's choosing: Daemon's own turns the
    first meeting off. The n-th start in a test has its own notify socket and log, and the same
    config file, runtime dir and state dir (OS1_STATE_DIR, set for the test by tests/conftest.py):
    a restart."""

    def __init__(self, tmp_path: Path, jack_env: dict[str, str], config_text: str, n: int):
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(tmp_path / f"notify-{n}.sock"))
        self.notify.settimeout(0.5)
        self.messages: list[str] = []
        self.config = tmp_path / "config.yaml"
        self.config.write_text(config_text)
        self.env = {
            **jack_env,
            "OS1_RUNTIME_DIR": str(tmp_path / "run"),
            "OS1_CONFIG": str(self.config),
            "NOTIFY_SOCKET": str(tmp_path / f"notify-{n}.sock"),
            "WATCHDOG_USEC": "2000000",
        }
        self.log = tmp_path / f"daemon-{n}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "device.cli", "run", "--audio-device", "jack"],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
            env={**os.environ, **self.env},
            cwd=REPO,
        )


@pytest.fixture()
def start_daemon(
    tmp_path: Path,
    jack_server: dict[str, str],  # noqa: F811
) -> Iterator[Callable[[str], StartedDaemon]]:
    started: list[StartedDaemon] = []

    def start(config_text: str) -> StartedDaemon:
        d = StartedDaemon(tmp_path, jack_server, config_text, len(started) + 1)
        started.append(d)
        return d

    try:
        yield start
    finally:
        for d in started:
            if d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()
            d.notify.close()
        jack_forgets_clients(jack_server)


def jack_forgets_clients(jack_env: dict[str, str], timeout_s: float = 10) -> None:
    """Wait until the JACK server has dropped the clients of a daemon that was killed (a failed test)
    before `jack_server` stops it. Stopped at once, jackd dies of SIGPIPE writing to the dead client
    (exit 141, measured) before it takes its name out of /dev/shm/jack-shm-registry. That registry
    has 8 slots, a stale one is reclaimed only by a server of the same name, and `jack_server` names
    servers by pid: after 8 such failures no JACK server starts on the machine until it reboots."""
    deadline = time.monotonic() + timeout_s
    env = {**os.environ, **jack_env}
    while time.monotonic() < deadline:
        ports = subprocess.run(
            ["jack_lsp"], capture_output=True, text=True, env=env, timeout=10
        ).stdout.split()
        if all(port.startswith("system:") for port in ports):
            return
        time.sleep(0.1)


_QUOTED = r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
_TURN = re.compile(rf"\bturn by=\S+(?: follow_up)? heard={_QUOTED} reply={_QUOTED}")


def said(d: Daemon) -> list[tuple[str, str]]:
    """(heard, reply) of every turn in the daemon's log so far (logs.format_turn_log quotes them
    with repr); an announcement, the onboarding's opening say, was heard as ''."""
    return [(ast.literal_eval(h), ast.literal_eval(r)) for h, r in _TURN.findall(d.log.read_text())]


def wait_said(d: Daemon, text: str, timeout_s: float = 60) -> str:
    """The first announcement the daemon has spoken that holds `text`."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [reply for heard, reply in said(d) if not heard and text in reply]
        if found:
            return found[0]
        assert d.proc.poll() is None, f"the daemon died: {d.log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"{text!r} was not said: {said(d)}"
        time.sleep(0.2)


def ask(d: Daemon, text: str) -> dict[str, Any]:
    """A typed turn of the running companion (not one answered by `os1 ask` itself)."""
    r = d.os1("ask", text, "--json")
    assert r.returncode == 0, r.stderr
    turn: dict[str, Any] = json.loads(r.stdout)
    assert turn["via"] == "daemon" and turn["transcript"] == text, turn
    return turn


def stop(d: Daemon) -> int:
    """SIGTERM, then the notify socket read as systemd reads it until STOPPING=1, then the exit code.
    The reading matters: nothing else reads that socket here, a unix datagram socket holds only
    net.unix.max_dgram_qlen (10 by default) unread messages, and past that the daemon's next
    sd_notify send (a watchdog ping every second, then STOPPING=1) waits for room."""
    d.proc.send_signal(signal.SIGTERM)
    d.wait_for("STOPPING=1", timeout_s=30)
    return d.proc.wait(timeout=30)


# Daemon's own config (tests/app/test_daemon.py): the first meeting off.
SAMANTHA = "# my companion\npersona:\n  name: Samantha  # what it calls itself\n  onboarding: false\n"


def test_names_set_live_are_the_running_companions_and_the_llm_still_answers(
    start_daemon: Callable[[str], StartedDaemon],
) -> None:
    """`os1 config set persona.name Ada` and `persona.owner_name Theodore` reach the persona that the
    intents and the loop share: the next "What's your name?" says Ada, "What's my name?" Theodore, a
    new letter is signed Theodore (the letters intent was given the owner's name once, at start),
    and a question for the LLM is still answered after the reload (its prompt is rebuilt from the new
    persona; tests/app/test_reconfigure.py reads that prompt)."""
    daemon = start_daemon(SAMANTHA)
    daemon.wait_for("READY=1", timeout_s=180)
    assert ask(daemon, "What's your name?")["reply"].startswith("I'm Samantha.")

    for key, value in (("persona.name", "Ada"), ("persona.owner_name", "Theodore")):
        r = daemon.os1("config", "set", key, value)
        assert r.returncode == 0, r.stderr
        daemon.wait_log(f"applied live: {key}")

    name = ask(daemon, "What's your name?")
    assert name["answered_by"] == "intent" and name["reply"].startswith("I'm Ada."), name
    assert ask(daemon, "What's my name?")["reply"] == "You're Theodore."
    letter = ask(daemon, "Write a letter to Anna about the garden.")
    assert letter["reply"].endswith("With love, Theodore."), letter["reply"]
    assert ask(daemon, "Cancel the letter.")["reply"] == "Okay, I've thrown that letter away."
    answer = ask(daemon, "What is the capital of France?")
    assert answer["answered_by"] == "llm" and "paris" in answer["reply"].lower(), answer
    assert stop(daemon) == 0


def test_settings_asked_for_are_applied_saved_with_the_comments_and_mute_waits_for_its_answer(
    start_daemon: Callable[[str], StartedDaemon],
) -> None:
    """The owner (a typed turn: the owner by the socket's peer check) asks it to speak louder and to
    talk more slowly: the running daemon applies both live, saves them in the config file it reads
    (comments kept, so the next start has them) and `os1 config get` shows them. "Stop listening"
    is answered first, then mutes: `os1 status` says so, and `os1 unmute` undoes it."""
    daemon = start_daemon(SAMANTHA)
    daemon.wait_for("READY=1", timeout_s=180)
    assert ask(daemon, "Could you speak up, please?")["reply"] == "Okay, I'll speak louder."
    daemon.wait_log("applied live: audio.volume")
    assert ask(daemon, "Talk more slowly.")["reply"] == "Okay, I'll talk more slowly."
    daemon.wait_log("applied live: tts.length_scale")
    text = daemon.config.read_text()
    assert "# my companion" in text and "# what it calls itself" in text, text
    assert daemon.os1("config", "get", "audio.volume").stdout.strip() == "1.25"
    assert daemon.os1("config", "get", "tts.length_scale").stdout.strip() == "1.15"
    # A later `os1 config set` reloads: the saved settings are not news to the daemon, only the name is.
    assert daemon.os1("config", "set", "persona.name", "Ada").returncode == 0
    daemon.wait_log("live ['persona.name'], need restart")

    muted = ask(daemon, "Please stop listening.")
    assert muted["reply"].startswith("Okay, I'll stop listening."), muted
    assert daemon.status()["muted"] is True
    assert daemon.os1("unmute").returncode == 0
    assert daemon.status()["muted"] is False
    assert stop(daemon) == 0


FIRST_MEETING = "# my companion\npersona:\n  onboarding: true  # the first meeting, on a new device\n"


def test_the_first_meeting_is_spoken_resumes_after_a_restart_and_ends_in_the_profile(
    start_daemon: Callable[[str], StartedDaemon],
) -> None:
    """On an empty state dir the daemon opens with the first question; each typed answer brings the
    next. A SIGTERM between two answers loses nothing: the next start asks the question it had
    reached, not the first. The answers end in profile.json and in what the companion says: its
    names, and the owner's name under a letter."""
    profile = Path(os.environ["OS1_STATE_DIR"]) / "profile.json"
    assert not profile.exists()

    first = start_daemon(FIRST_MEETING)
    first.wait_for("READY=1", timeout_s=180)
    opening = wait_said(first, "What's your name?")
    assert opening.startswith("Hi, I'm Samantha. Before we start"), opening
    reply = ask(first, "My name is Theodore.")
    assert reply["answered_by"] == "intent"
    assert reply["reply"].startswith("Nice to meet you, Theodore. Did I say your name right, Theodore?")
    assert stop(first) == 0  # in the middle of the first meeting
    saved = json.loads(profile.read_text())
    assert saved["owner_name"] == "Theodore" and saved["answered"] == ["owner_name"] and not saved["done"]

    second = start_daemon(FIRST_MEETING)
    second.wait_for("READY=1", timeout_s=180)
    again = wait_said(second, "Did I say your name right, Theodore?")
    assert again.startswith("Hi again. Let's finish getting to know each other."), again
    assert not any("What's your name?" in reply for _, reply in said(second))
    for answer, next_line in (
        ("Yes, that's right.", "And what would you like to call me? I'm Samantha for now."),
        ("Call you Ada.", "Ada it is. I like it. What would you like from me?"),
        ("Company, and someone to think out loud with.", "Last thing: do you like short answers"),
        ("Short answers, and a bit calmer please.", "Thank you, Theodore. I'm Ada, and I'm here"),
    ):
        reply = ask(second, answer)
        assert reply["answered_by"] == "intent" and next_line in reply["reply"], (answer, reply["reply"])

    saved = json.loads(profile.read_text())
    assert saved["done"] and saved["answered"] == [
        "owner_name",
        "pronunciation",
        "companion_name",
        "wishes",
        "style",
    ]
    assert (saved["owner_name"], saved["owner_pronunciation"], saved["companion_name"]) == (
        "Theodore",
        "",
        "Ada",
    )
    assert saved["wishes"] == "Company, and someone to think out loud with"
    assert (saved["length"], saved["energy"]) == ("short", "low")

    assert ask(second, "What's my name?")["reply"] == "You're Theodore."
    assert ask(second, "What's your name?")["reply"].startswith("I'm Ada.")
    letter = ask(second, "Write a letter to Anna about the garden.")
    assert letter["reply"].endswith("With love, Theodore."), letter["reply"]
    assert stop(second) == 0
