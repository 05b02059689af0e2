"""What the crash suite checks after each kill, with the daemon dead and its files at rest: every
acknowledged write still there, every SQLite database intact, and no file half written or left
behind by an interrupted replace (config, letters, profile, exports)."""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from device.config.load import ConfigError, parse


@dataclass
class Ledger:
    """What the daemon acknowledged so far, across all its lives, and what was in flight at the kill."""

    home: Path
    """The daemon's home: its config, state dir and the exports dir."""
    state: Path
    """OS1_STATE_DIR."""
    config: Path
    """The config file the daemon reads and its voice settings write."""
    memories: list[str] = field(default_factory=list)
    """The codes in memories it said it would remember (digits only)."""
    spoken: int = 0
    """How many of those were spoken into its microphone rather than typed."""
    reminders: list[str] = field(default_factory=list)
    """The text of each reminder it confirmed."""
    letters: list[tuple[str, str]] = field(default_factory=list)
    """(to, about) of each letter it said it saved."""
    volume: float = 1.0
    """audio.volume in the config file after the last confirmed change."""
    volume_pending: set[float] = field(default_factory=set)
    """The values the file may hold if a volume change was in flight at the kill."""
    exported: list[str] = field(default_factory=list)
    """The names of the exports `os1 memory export` finished (exit 0)."""
    pending: str = ""
    """The write in flight when the daemon was killed ('' = none)."""
    config_changes: int = 0
    """Volume changes it confirmed (each one a rewrite of the config file)."""
    kills: int = 0
    """Kills so far."""
    codes: set[str] = field(default_factory=set)
    """Every code handed out, so no two memories share one."""

    @property
    def exports(self) -> Path:
        path = self.home / "exports"
        path.mkdir(exist_ok=True)
        return path

    def new_code(self, rng: random.Random) -> str:
        while True:
            code = str(rng.randrange(1000, 10000))
            if code not in self.codes:
                self.codes.add(code)
                return code

    def config_volume(self) -> float:
        data = yaml.safe_load(self.config.read_text()) or {}
        return float((data.get("audio") or {}).get("volume", 1.0))

    def counts(self) -> dict[str, int]:
        return {
            "memories": len(self.memories),
            "spoken_memories": self.spoken,
            "reminders": len(self.reminders),
            "letters": len(self.letters),
            "config_changes": self.config_changes,
            "exports": len(self.exported),
        }

    def summary(self) -> str:
        c = self.counts()
        return (
            f"{sum(v for k, v in c.items() if k != 'spoken_memories')} writes acknowledged "
            f"({', '.join(f'{v} {k}' for k, v in c.items())}); in flight: {self.pending or '-'}"
        )


def check_state(ledger: Ledger, leftovers: bool = True) -> list[str]:
    """Every problem found, one line each ('lost …' for an acknowledged write that is not there).
    `leftovers`: also temp files of interrupted replaces (the daemon clears them when it starts, so
    the crash suite looks for them once it is back, not while it lies dead)."""
    problems = [p for db in sorted(ledger.state.rglob("*.db")) for p in _integrity(db)]
    problems += _memories(ledger) + _reminders(ledger) + _letters(ledger) + _config(ledger)
    return problems + _exports(ledger) + (leftovers_of(ledger.home) if leftovers else [])


def _integrity(db: Path) -> list[str]:
    try:
        rows = _rows(db, "PRAGMA integrity_check")
    except sqlite3.Error as e:
        return [f"{db.name}: cannot open ({e})"]
    return [] if rows == [("ok",)] else [f"{db.name}: integrity_check says {rows[:3]}"]


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _memories(ledger: Ledger) -> list[str]:
    try:
        rows = _rows(ledger.state / "memory/memory.db", "SELECT text FROM memories")
    except sqlite3.Error as e:
        return [f"memory.db: cannot read the memories ({e})"]
    texts = [str(t).replace(",", "") for (t,) in rows]
    return [f"lost the memory with code {c}" for c in ledger.memories if not any(c in t for t in texts)]


def _reminders(ledger: Ledger) -> list[str]:
    try:
        rows = _rows(ledger.state / "reminders.db", "SELECT text FROM reminders WHERE cancelled = 0")
    except sqlite3.Error as e:
        return [f"reminders.db: cannot read the reminders ({e})"]
    have = Counter(str(t) for (t,) in rows)
    missing = Counter(ledger.reminders) - have
    return [f"lost the reminder '{t}'" for t in missing.elements()]


def _letters(ledger: Ledger) -> list[str]:
    problems, have = [], set()
    for path in sorted((ledger.state / "letters").glob("*.md")):
        text = path.read_text(errors="replace")
        head = text.split("---")[1] if text.startswith("---") and text.count("---") >= 2 else None
        try:
            meta = yaml.safe_load(head) if head is not None else None
        except yaml.YAMLError:
            meta = None
        if not isinstance(meta, dict) or not text.split("---", 2)[2].strip():
            problems.append(f"letters/{path.name}: half written (no header or no body)")
            continue
        have.add((str(meta.get("to", "")).lower(), str(meta.get("about", "")).lower()))
    return problems + [
        f"lost the letter to {to} about {about}"
        for to, about in ledger.letters
        if (to.lower(), about.lower()) not in have
    ]


def _config(ledger: Ledger) -> list[str]:
    try:
        parse(ledger.config.read_text(), str(ledger.config))
        volume = ledger.config_volume()
    except (OSError, ConfigError, yaml.YAMLError, ValueError) as e:
        return [f"config: unreadable after the kill ({e})"]
    if volume == ledger.volume or volume in ledger.volume_pending:
        return []
    return [f"lost the config change: audio.volume is {volume}, {ledger.volume} was confirmed"]


def _exports(ledger: Ledger) -> list[str]:
    problems = []
    for path in sorted(ledger.exports.iterdir()):
        try:
            json.loads(path.read_text())
        except (ValueError, OSError) as e:
            problems.append(f"exports/{path.name}: half written ({e})")
    names = {p.name for p in ledger.exports.iterdir()}
    return problems + [f"lost the export {n}" for n in ledger.exported if n not in names]


def leftovers_of(home: Path) -> list[str]:
    """A replace interrupted by the kill must not leave its temp file behind (device/atomic.py's
    '.NAME.*.tmp', or any other '*.tmp' / '*.part')."""
    return [
        f"left behind: {p.relative_to(home)}"
        for pattern in ("*.tmp", "*.part")
        for p in sorted(home.rglob(pattern))
    ]
