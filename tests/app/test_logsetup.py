"""Log lines for journald (priority prefix, no timestamp) and for a terminal, and the per-turn line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from device.app.logs import format_turn_log
from device.pipeline.events import Turn

REPO = Path(__file__).resolve().parents[2]
LOG_SOME = (
    "import logging, sys; from device import cli; cli._setup_logging(False); "
    "log = logging.getLogger('os1.run'); log.info('ready'); log.warning('mic gone'); log.debug('hidden'); "
    "\ntry:\n    1/0\nexcept ZeroDivisionError:\n    log.exception('turn failed')"
)


def _stderr_of(tmp_path: Path, journal: bool) -> list[str]:
    """Run the real logging setup in a fresh process whose stderr is a file; with `journal`,
    $JOURNAL_STREAM names that file the way systemd names its journal socket."""
    err = tmp_path / "stderr"
    with err.open("w") as f:
        st = os.fstat(f.fileno())
        env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
        if journal:
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        subprocess.run([sys.executable, "-c", LOG_SOME], stderr=f, env=env, cwd=REPO, check=True, timeout=60)
    return err.read_text().splitlines()


def test_journald_lines_have_priority_and_no_timestamp(tmp_path: Path) -> None:
    lines = _stderr_of(tmp_path, journal=True)
    assert lines[0] == "<6>os1.run: ready"
    assert lines[1] == "<4>os1.run: mic gone"
    assert lines[2] == "<3>os1.run: turn failed"
    # The traceback stays at error priority line by line, so `journalctl -p err` shows all of it.
    assert len(lines) > 4 and all(line.startswith("<3>") for line in lines[2:])
    assert any("ZeroDivisionError" in line for line in lines)


def test_terminal_lines_have_time_and_level(tmp_path: Path) -> None:
    lines = _stderr_of(tmp_path, journal=False)
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO os1\.run: ready", lines[0])
    assert re.fullmatch(r"\d\d:\d\d:\d\d WARNING os1\.run: mic gone", lines[1])
    assert not any(line.startswith("<") for line in lines)


def test_a_journal_stream_that_is_not_our_stderr_is_ignored(tmp_path: Path) -> None:
    # e.g. the daemon started a child whose stderr is a file: systemd's variable is inherited.
    err = tmp_path / "stderr"
    with err.open("w") as f:
        env = {**os.environ, "JOURNAL_STREAM": "8:12345"}
        subprocess.run([sys.executable, "-c", LOG_SOME], stderr=f, env=env, cwd=REPO, check=True, timeout=60)
    assert " INFO os1.run: ready" in err.read_text()


def test_turn_line() -> None:
    turn = Turn(
        wake="wake_word",
        transcript="What is the\ncapital of France?",
        reply="Paris. It's lovely in spring.",
        timings_ms={
            "wake": 212.4,
            "end_of_turn": 600.2,
            "stt": 0.4,
            "llm_first_token": 56.1,
            "tts_first_audio": 91.7,
            "response_gap": 873.9,
            "new_stage": 5.0,
        },
        stats={"llm_tokens_per_s": 21.34, "tts_real_time_factor": 0.213, "reply_audio_s": 2.0},
    )
    assert format_turn_log(turn) == (
        "turn by=wake_word heard='What is the capital of France?' reply=\"Paris. It's lovely in spring.\" "
        "gap=874ms wake=212ms eot=600ms stt=0ms llm_first=56ms tts_first=92ms new_stage=5ms "
        "tok_s=21.3 tts_rtf=0.21 interrupted=-"
    )


def test_turn_line_interrupted_and_long() -> None:
    turn = Turn(wake="tap", transcript="x" * 500, reply="", interrupted="voice", follow_up=True)
    line = format_turn_log(turn)
    assert line.startswith("turn by=tap follow_up heard='xxx")
    assert "…' reply='' interrupted=voice" in line
    assert len(line) < 300 and "\n" not in line
