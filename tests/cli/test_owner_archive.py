"""`os1 export`, `os1 import` and `os1 forget --everything`, as the owner runs them: a board's state
(memories, a voiceprint, a letter, reminders, the config) goes into one archive, is forgotten without a
trace, and comes back whole on a fresh state dir; a bad archive changes nothing."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from device.drivers.wavfile import write_wav
from device.evals.speech import join, piper_speech, silence
from tests.conftest import run_os1

pytestmark = pytest.mark.models

ENROL = (
    "My name is Sam, and I live by the river in an old brick house.",
    "I like walking early in the morning, before the town wakes up.",
    "I work at the library, and I love quiet afternoons with a good book.",
)


def _board(tmp_path: Path) -> Path:
    """A state dir as a board leaves it, and a user config."""
    assert run_os1("memory", "add", "My sister Anna lives in Paris.").returncode == 0
    wavs = [
        write_wav(
            tmp_path / f"e{i}.wav", join(silence(0.3), piper_speech(t, noise_scale=0.667), silence(0.3))
        )
        for i, t in enumerate(ENROL)
    ]
    assert run_os1("voice", "enroll", *map(str, wavs)).returncode == 0
    letters = tmp_path / "state" / "letters"
    letters.mkdir(parents=True, exist_ok=True)
    (letters / "2026-12-01-anna.md").write_text("---\nto: Anna\n---\nDear Anna,\nThe roses are out.\n")
    config = tmp_path / "xdg-config" / "os1" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("persona:\n  name: Juno\n")
    return config


def test_export_forget_import_brings_everything_back(tmp_path: Path) -> None:
    config = _board(tmp_path)
    archive = tmp_path / "backup.tar.gz"
    r = run_os1("export", str(archive))
    assert r.returncode == 0, r.stderr
    assert archive.stat().st_mode & 0o777 == 0o600
    names = tarfile.open(archive).getnames()
    assert names[0] == "manifest.json" and "state/voiceprint.json" in names and "config/config.yaml" in names
    assert "state/memory/memory.db" in names and not any(n.endswith(("-wal", "-shm")) for n in names)

    listed = run_os1("forget", "--everything")  # without --yes: a list, nothing deleted
    assert listed.returncode == 2 and "would delete" in listed.stdout
    assert (tmp_path / "state" / "voiceprint.json").exists()
    gone = run_os1("forget", "--everything", "--yes")
    assert gone.returncode == 0, gone.stderr
    assert list((tmp_path / "state").rglob("*")) == [] and not config.exists()

    back = run_os1("import", str(archive))
    assert back.returncode == 0, back.stderr
    assert "Paris" in run_os1("memory", "list", "--json").stdout
    assert "3 utterances" in run_os1("voice", "show").stdout
    assert "Juno" in config.read_text()
    assert "roses" in (tmp_path / "state" / "letters" / "2026-12-01-anna.md").read_text()


def test_a_damaged_archive_changes_nothing(tmp_path: Path) -> None:
    _board(tmp_path)
    archive = tmp_path / "backup.tar.gz"
    assert run_os1("export", str(archive)).returncode == 0
    assert run_os1("forget", "--everything", "--yes").returncode == 0
    data = archive.read_bytes()
    (tmp_path / "half.tar.gz").write_bytes(data[: len(data) // 2])
    r = run_os1("import", str(tmp_path / "half.tar.gz"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert list((tmp_path / "state").rglob("*")) == []

    # A member changed after export: its hash no longer matches the manifest.
    with tarfile.open(archive) as src, tarfile.open(tmp_path / "tampered.tar.gz", "w:gz") as dst:
        for m in src.getmembers():
            blob = src.extractfile(m).read()  # type: ignore[union-attr]
            if m.name == "state/voiceprint.json":
                blob = json.dumps({**json.loads(blob), "utterances": 99}).encode()
                m.size = len(blob)
            dst.addfile(m, io.BytesIO(blob))
    r = run_os1("import", str(tmp_path / "tampered.tar.gz"))
    assert r.returncode == 2 and "SHA-256" in r.stderr, r.stderr
    assert list((tmp_path / "state").rglob("*")) == []


def test_import_will_not_mix_with_an_owner_already_there(tmp_path: Path) -> None:
    _board(tmp_path)
    archive = tmp_path / "backup.tar.gz"
    assert run_os1("export", str(archive)).returncode == 0
    r = run_os1("import", str(archive))
    assert r.returncode == 2 and "already holds an owner's data" in r.stderr, r.stderr
