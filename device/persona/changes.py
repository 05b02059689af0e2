"""The persona log: `<state_dir>/persona.log`, one JSON line each time the effective persona changes.

The persona only changes when the owner changes the config or answers the onboarding, and each
change is written down (old -> new per field) so "why does it talk differently?" has an answer.
Lines are appended and fsynced; a torn last line after a power cut is skipped when reading.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from device.config.schema import Config
from device.persona.persona import Persona, resolve
from device.persona.profile import ProfileStore

LOG_FILE = "persona.log"


class PersonaLog:
    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / LOG_FILE

    def entries(self) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line torn by a power cut
            if isinstance(entry, dict) and isinstance(entry.get("persona"), dict):
                out.append(entry)
        return out

    def last(self) -> dict[str, str] | None:
        entries = self.entries()
        return entries[-1]["persona"] if entries else None

    def record(self, persona: Persona, source: str) -> dict[str, Any] | None:
        """Append an entry if `persona` differs from the last one recorded; return it (None: no change)."""
        new = persona.fields()
        old = self.last() or {}
        changes = {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}
        if not changes:
            return None
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "source": source,
            "changes": changes,
            "persona": new,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return entry


def current(cfg: Config, state_dir: Path, source: str | None = None) -> Persona:
    """The effective persona from config and profile. With `source` ("start", "reload",
    "onboarding", "reset"), a change since the last recorded persona is logged."""
    persona, _ = resolve(cfg.persona, ProfileStore(state_dir).load())
    if source is not None:
        PersonaLog(state_dir).record(persona, source)
    return persona
