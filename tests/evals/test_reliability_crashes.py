"""The crash suite (`os1 eval reliability crashes`): a few SIGKILLs of the live daemon mid-write in the
test suite (the 200-kill run is the eval's), and its checker shown to catch what it is there to catch:
a lost write, a broken database, a half-written letter, a temp file left behind."""

from __future__ import annotations

import argparse
import shutil
import sqlite3
from pathlib import Path

import pytest

from device.evals.reliability import crashes
from device.evals.reliability.checks import Ledger, check_state


def _ledger(tmp_path: Path) -> Ledger:
    (tmp_path / "state/letters").mkdir(parents=True)
    config = tmp_path / "config.yaml"
    config.write_text(crashes.CONFIG)
    conn = sqlite3.connect(tmp_path / "state/reminders.db")
    conn.execute("CREATE TABLE reminders (text TEXT, cancelled INTEGER DEFAULT 0)")
    conn.execute("INSERT INTO reminders (text) VALUES ('call Anna')")
    conn.commit()
    conn.close()
    (tmp_path / "state/letters/2026-12-03-anna.md").write_text(
        "---\nto: Anna\nabout: the garden\n---\n\nDear Anna,\n"
    )
    ledger = Ledger(tmp_path, tmp_path / "state", config, reminders=["call Anna"])
    ledger.letters.append(("Anna", "the garden"))
    return ledger


def test_the_checker_passes_a_clean_state_and_names_each_kind_of_damage(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    assert check_state(ledger) == []

    ledger.reminders.append("call Bob")
    ledger.memories.append("4821")
    ledger.volume = 1.25
    (tmp_path / "state/letters/2026-12-03-bob.md").write_text("---\nto: Bob\nabo")
    (tmp_path / "state/letters/.2026-12-03-bob.md.x1y2.tmp").write_text("Dear")
    (tmp_path / "exports").mkdir(exist_ok=True)
    (tmp_path / "exports/memories-1.json").write_text('{"memories": [')
    problems = check_state(ledger)
    assert "lost the reminder 'call Bob'" in problems
    assert "lost the memory with code 4821" in problems
    assert any(p.startswith("lost the config change: audio.volume is 1.0") for p in problems)
    assert "letters/2026-12-03-bob.md: half written (no header or no body)" in problems
    assert "left behind: state/letters/.2026-12-03-bob.md.x1y2.tmp" in problems
    assert any(p.startswith("exports/memories-1.json: half written") for p in problems)

    db = tmp_path / "state/reminders.db"
    db.write_bytes(db.read_bytes()[:4096] + b"\x00" * 4096)  # the second page zeroed
    assert any(p.startswith("reminders.db:") for p in check_state(ledger))


@pytest.mark.system
@pytest.mark.models
@pytest.mark.skipif(shutil.which("jackd") is None, reason="needs jackd2 (make apt installs it)")
def test_six_kills_mid_write_lose_nothing_acknowledged_and_it_comes_back_each_time(tmp_path: Path) -> None:
    args = crashes.parse_args(["--kills", "6", "--seed", "3", "--max-life", "8"])
    result = crashes.run(argparse.Namespace(**{**vars(args), "models_dir": ""}), tmp_path)
    assert result["kills"] == 6
    assert result["problems"] == []
    acknowledged = result["acknowledged"]
    assert isinstance(acknowledged, dict)
    assert sum(v for k, v in acknowledged.items() if k != "spoken_memories") >= 6, acknowledged
