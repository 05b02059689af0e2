"""How a case talks to the companion: a door opens a session on a state dir; a session answers turns.

- AskDoor: today's `os1 ask TEXT --json`, one subprocess per turn (stateless: it remembers nothing).
- CompanionDoor: the text companion (`device.app.text.TextCompanion`), in this process, one session
  per run of a case, so memory and intents carry over between turns.

Setup facts and summaries go into the state dir through the `os1 memory` command before a case, so
both doors find the same store an earlier run would have left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import device

REPO = Path(device.__file__).resolve().parent.parent
"""Where `python -m device.cli` must run so it is the same code as this eval."""


class DoorError(Exception):
    """One turn could not be had (the command failed, its output was not JSON, …)."""


class DoorUnavailable(Exception):
    """The door cannot be used at all in this tree (e.g. the text companion is not built yet)."""


class Session(Protocol):
    def say(self, text: str) -> str:
        """The companion's reply to one owner turn."""
        ...

    def close(self) -> None: ...


class Door(Protocol):
    name: str

    def open(self, state_dir: Path, config: Path | None) -> Session: ...


def _os1(args: list[str], state_dir: Path, config: Path | None, timeout_s: float) -> str:
    """Run `os1 ARGS` on `state_dir` and return its stdout; DoorError on any failure."""
    cmd = [sys.executable, "-m", "device.cli"] + (["--config", str(config)] if config else []) + args
    env = {**os.environ, "OS1_STATE_DIR": str(state_dir)}
    try:
        done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise DoorError(f"`os1 {args[0]}` took longer than {timeout_s:g} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise DoorError(f"`os1 {args[0]}` exited {done.returncode}: {last}")
    return done.stdout


# ---- today's `os1 ask` --------------------------------------------------------------------------


class AskSession:
    """Each turn is one `os1 ask TEXT --json`: the model is loaded anew and nothing is kept."""

    def __init__(self, state_dir: Path, config: Path | None, timeout_s: float):
        self.state_dir, self.config, self.timeout_s = state_dir, config, timeout_s

    def say(self, text: str) -> str:
        out = _os1(["ask", text, "--json"], self.state_dir, self.config, self.timeout_s)
        for line in reversed(out.strip().splitlines()):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict) and isinstance(data.get("reply"), str):
                return data["reply"]
        raise DoorError(f"`os1 ask --json` printed no reply: {out.strip()[-200:]!r}")

    def close(self) -> None:
        pass


class AskDoor:
    name = "ask"

    def __init__(self, timeout_s: float = 180.0):
        self.timeout_s = timeout_s
        """Per turn: a cold model load plus a reply."""

    def open(self, state_dir: Path, config: Path | None) -> Session:
        return AskSession(state_dir, config, self.timeout_s)


# ---- the text companion -------------------------------------------------------------------------

NOT_BUILT = "the companion door is not built yet"


class CompanionSession:
    def __init__(self, companion: Any, restore: dict[str, str | None]):
        self.companion = companion
        self._restore = restore

    def say(self, text: str) -> str:
        try:
            reply = self.companion.say(text)
        except Exception as e:  # one bad turn is a failed case, not a crashed eval
            raise DoorError(f"TextCompanion.say failed: {type(e).__name__}: {e}") from e
        return reply if isinstance(reply, str) else str(reply)

    def close(self) -> None:
        try:
            self.companion.close()
        finally:
            _restore_env(self._restore)


class CompanionDoor:
    name = "companion"

    def __init__(self) -> None:
        try:
            from device.app.text import TextCompanion
        except ImportError as e:
            raise DoorUnavailable(f"{NOT_BUILT} (device.app.text.TextCompanion: {e})") from None
        self.TextCompanion = TextCompanion

    def open(self, state_dir: Path, config: Path | None) -> Session:
        from device.config.load import parse
        from device.config.schema import Config

        cfg = parse(config.read_text(encoding="utf-8"), str(config)) if config else Config()
        cfg.paths.state_dir = str(state_dir)
        # Whatever inside resolves paths from the environment must land in this case's temp dir too,
        # never in the owner's real state.
        restore = {"OS1_STATE_DIR": os.environ.get("OS1_STATE_DIR")}
        os.environ["OS1_STATE_DIR"] = str(state_dir)
        try:
            companion = self.TextCompanion.open(cfg, state_dir)
        except BaseException:
            _restore_env(restore)
            raise
        return CompanionSession(companion, restore)


def _restore_env(restore: dict[str, str | None]) -> None:
    for key, value in restore.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def make_door(name: str) -> Door:
    """The door by name; DoorUnavailable if it cannot be used in this tree."""
    if name == "ask":
        return AskDoor()
    if name == "companion":
        return CompanionDoor()
    raise DoorUnavailable(f"no door called {name!r} (ask, companion)")


# ---- what an earlier run left ---------------------------------------------------------------------


def summary_text(day: datetime, said: tuple[str, ...]) -> str:
    """A summary in the form the companion writes at the end of a conversation."""
    return f"On {day:%A} {day.day} {day:%B} we talked about: " + "; ".join(said) + "."


def seed(
    state_dir: Path,
    config: Path | None,
    facts: tuple[str, ...] = (),
    summaries: tuple[tuple[int, tuple[str, ...]], ...] = (),
    timeout_s: float = 120.0,
) -> None:
    """Store `facts` (each as `os1 memory add`) and conversation `summaries` ((days ago, what was
    said), through `os1 memory import`) in `state_dir`, as an earlier run would have."""
    for fact in facts:
        _os1(["memory", "add", fact], state_dir, config, timeout_s)
    if not summaries:
        return
    now = datetime.now().astimezone()
    items = []
    for days_ago, said in summaries:
        day = now - timedelta(days=days_ago)
        stamp = day.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        items.append({"kind": "summary", "subject": "conversation", "key": f"summary:{stamp}",
                      "text": summary_text(day, said), "created": stamp, "updated": stamp})  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=state_dir, delete=False) as f:
        json.dump({"os1_memory": 1, "memories": items}, f)
    try:
        _os1(["memory", "import", f.name], state_dir, config, timeout_s)
    finally:
        Path(f.name).unlink(missing_ok=True)
