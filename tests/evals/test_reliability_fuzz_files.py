"""The file fuzzing of the reliability suite (`os1 eval reliability fuzz-files`), short: hypothesis
cases for the config loader, `run --input` WAVs, memory import files and letter files in-process, then
a fixed set of broken files through the real `os1`. Each found real bugs when written (the README's
reliability table lists them); these keep them fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.evals.reliability.fuzz_files import in_process, through_cli


def test_random_config_wav_import_and_letter_files_give_one_line_errors_or_load(tmp_path: Path) -> None:
    tallies = in_process(tmp_path, 120, seed=5)
    assert {t.target for t in tallies} == {"config", "config-file", "wav", "memory-import", "letters"}
    assert all(t.cases >= 120 for t in tallies), [(t.target, t.cases) for t in tallies]
    assert {t.target: t.kinds for t in tallies if t.failed} == {}


@pytest.mark.system
@pytest.mark.models
def test_broken_files_through_the_real_cli_exit_2_in_one_line(tmp_path: Path) -> None:
    tallies = through_cli(tmp_path, models=True)
    assert {t.target for t in tallies} == {"cli-config", "cli-memory-letters", "cli-run-input"}
    assert {t.target: t.kinds for t in tallies if t.failed} == {}
