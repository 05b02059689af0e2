"""The dialogue eval's runner and doors, with a scripted door standing in for the companion (no model)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from device.evals.dialogue import main
from device.evals.dialogue.cases import RESTART, Case, ask, tell
from device.evals.dialogue.checks import mentions
from device.evals.dialogue.doors import CompanionDoor, DoorUnavailable
from device.evals.dialogue.run import run_case, write_config

BASE = {"owner": "Theo", "companion": "Samantha", "helpline": "Samaritans on 116 123", "length": "short"}


class NotesSession:
    """Remembers "My X is Y." in a file in the state dir, so a restart keeps it and a new dir does not."""

    def __init__(self, state_dir: Path, log: list[str]):
        self.notes = state_dir / "notes.txt"
        self.log = log

    def say(self, text: str) -> str:
        self.log.append(text)
        if text.startswith("My "):
            self.notes.write_text(text)
            return "Okay."
        return self.notes.read_text() if self.notes.exists() else "You haven't told me."

    def close(self) -> None:
        self.log.append("<closed>")


class NotesDoor:
    name = "notes"

    def __init__(self) -> None:
        self.log: list[str] = []
        self.dirs: list[Path] = []

    def open(self, state_dir: Path, config: Path | None) -> NotesSession:
        self.dirs.append(state_dir)
        return NotesSession(state_dir, self.log)


def test_restart_keeps_the_state_dir_and_each_case_gets_a_fresh_one(tmp_path: Path) -> None:
    door = NotesDoor()
    config = write_config(tmp_path, None)
    case = Case(
        "x-1", "recall", "earlier run", (tell("My cat is Miso."), RESTART, ask("Cat?", mentions("Miso")))
    )
    result = run_case(door, case, config, BASE, tmp_path)
    assert result.passed, result.reason
    assert door.log == ["My cat is Miso.", "<closed>", "Cat?", "<closed>"]
    assert door.dirs[0] == door.dirs[1] and not door.dirs[0].exists()  # the same dir, removed after
    again = run_case(
        door, Case("x-2", "recall", "same run", (ask("Cat?", mentions("Miso")),)), config, BASE, tmp_path
    )
    assert not again.passed and door.dirs[2] != door.dirs[0]


def test_a_failing_door_is_an_error_not_a_crash(tmp_path: Path) -> None:
    class Broken(NotesDoor):
        def open(self, state_dir: Path, config: Path | None) -> NotesSession:
            raise RuntimeError("no model")

    result = run_case(Broken(), Case("x", "recall", "same run", (ask("Hi?", mentions("a")),)),
                      write_config(tmp_path, "some-model"), BASE, tmp_path)  # fmt: skip
    assert not result.passed and "no model" in result.reason


def test_the_companion_door_says_when_it_is_not_built(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "device.app.text", None)  # importing it now raises ImportError
    with pytest.raises(DoorUnavailable, match="not built yet"):
        CompanionDoor()
    assert main(["--door", "companion", "--limit", "1"]) == 1
    assert "the companion door is not built yet" in capsys.readouterr().err


def test_the_config_it_writes(tmp_path: Path) -> None:
    from device.config.load import parse

    cfg = parse(write_config(tmp_path, "qwen2.5-0.5b-instruct-int4").read_text())
    assert (cfg.persona.onboarding, cfg.persona.owner_name, cfg.llm.model) == (
        False, "Theo", "qwen2.5-0.5b-instruct-int4")  # fmt: skip
    assert cfg.memory.enabled
