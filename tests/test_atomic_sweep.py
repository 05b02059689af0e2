"""What a write cut short leaves behind (the crash suite found one: a letter's `.NAME.*.tmp` after a
SIGKILL mid-save) is cleared when the daemon starts; the files themselves are never touched."""

from __future__ import annotations

from pathlib import Path

from device.atomic import sweep_temp_files, write_text_atomic


def test_the_sweep_removes_only_the_temp_files_of_interrupted_replaces(tmp_path: Path) -> None:
    letters = tmp_path / "letters"
    write_text_atomic(letters / "2026-12-03-james.md", "---\nto: James\n---\n\nDear James,\n")
    left = letters / ".2026-12-03-james-10.md.wvh_vbmc.tmp"  # as the crash suite found it
    left.write_text("Dear Ja")
    keep = [letters / "notes.tmp", tmp_path / "config.yaml"]  # not ours: no leading dot
    for p in keep:
        p.write_text("x")
    assert sweep_temp_files(tmp_path) == [left]
    assert not left.exists() and all(p.exists() for p in keep)
    assert (letters / "2026-12-03-james.md").read_text().endswith("Dear James,\n")
