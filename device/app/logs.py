"""Logging for the `os1` command: one line per event on stderr. Under systemd, stderr goes to journald,
which stamps the time itself and reads a `<N>` syslog priority prefix, so `journalctl -p warning` works."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from device.pipeline.events import Turn

NOISY = ("faster_whisper", "piper", "httpx", "urllib3")

# Python level -> syslog priority (sd-daemon.h): err 3, warning 4, info 6, debug 7.
_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


def to_journal(stream: TextIO) -> bool:
    """True when `stream` is systemd's journal stream: $JOURNAL_STREAM names its device and inode
    (the check systemd documents; a service whose stderr goes to a file still wants timestamps)."""
    want = os.environ.get("JOURNAL_STREAM", "")
    if not want:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # pytest's capture has no real file descriptor
        return False
    return want == f"{st.st_dev}:{st.st_ino}"


class JournalFormatter(logging.Formatter):
    """`<6>os1.run: message`. Every line of a multi-line record (a traceback) gets the prefix, so
    each keeps the record's priority in the journal."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_PRIORITY.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def setup(verbose: bool, stream: TextIO | None = None) -> None:
    """Configure the root logger once, for the terminal or for journald."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if to_journal(stream):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)


# Timing keys of a turn (device/pipeline/loop.py), in pipeline order, with their short log names.
_TIMINGS = (
    ("response_gap", "gap"),
    ("wake", "wake"),
    ("end_of_turn", "eot"),
    ("stt", "stt"),
    ("llm_first_token", "llm_first"),
    ("tts_first_audio", "tts_first"),
    ("barge_in_stop", "barge_stop"),
)
_STATS = (("llm_tokens_per_s", "tok_s", "{:.1f}"), ("tts_real_time_factor", "tts_rtf", "{:.2f}"))
MAX_TEXT = 200


def _quote(text: str) -> str:
    text = " ".join(text.split())  # one line, whatever the transcript holds
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return repr(text)


def format_turn_log(turn: Turn) -> str:
    """One journal line per turn, e.g. `turn by=wake heard='what time is it' reply='…' gap=874ms
    eot=600ms stt=0ms llm_first=56ms tts_first=92ms tok_s=21.3 interrupted=-`. Stages that did not
    run are left out; keys that are new to this list still appear, under their own names."""
    parts = [
        "turn",
        f"by={turn.wake or '-'}" + (" follow_up" if turn.follow_up else ""),
        f"heard={_quote(turn.transcript)}",
        f"reply={_quote(turn.reply)}",
    ]
    known = {key for key, _ in _TIMINGS}
    timings = [(name, turn.timings_ms[key]) for key, name in _TIMINGS if key in turn.timings_ms]
    timings += [(key, v) for key, v in turn.timings_ms.items() if key not in known]
    parts += [f"{name}={value:.0f}ms" for name, value in timings]
    parts += [f"{name}={fmt.format(turn.stats[key])}" for key, name, fmt in _STATS if key in turn.stats]
    parts.append(f"interrupted={turn.interrupted or '-'}")
    return " ".join(parts)
