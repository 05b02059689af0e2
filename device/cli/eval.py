"""`os1 eval NAME [ARGS...]`: run one measurement from device/evals, as `python -m device.evals.X` does."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import Any

from device.cli import EXIT_FAIL

# NAME -> (module, one line for `os1 eval --help`). Imported only when run: each pulls in its engines.
EVALS: dict[str, tuple[str, str]] = {
    "stt": ("device.evals.stt", "the STT engines on synthesized requests: word errors and latency"),
    "wake": ("device.evals.wake", "the wake-word engines: recall, false wakes and CPU cost"),
    "end-of-turn": ("device.evals.end_of_turn", "end-of-turn rules: people cut off against time to answer"),
    "early-reply": ("device.evals.early_reply", "early replies: people talked over against time saved"),
    "echo": ("device.evals.echo", "does the companion hear itself through the earpiece's echo"),
    "memory": ("device.evals.memory", "time memory retrieval adds to a turn with 10,000 memories"),
    "vision": ("device.evals.vision", "OCR time and memory for one camera-sized picture"),
    "dialogue": ("device.evals.dialogue", "whole conversations: memory, intents and replies, per case"),
    "mood": ("device.evals.mood", "the mood readers scored on held-out owner utterances"),
    "wake-cut": ("device.evals.wake_cut", "does the wake phrase lead the transcript? (the pre-roll cut)"),
    "voice": ("device.evals.voice", "the voiceprint: owner against impostors, clean and in street noise"),
    "calendar": ("device.evals.calendar", "a CalDAV sync of 1,000 events, and a day read from the cache"),
    "mail": ("device.evals.mail", "an IMAP sync of 1,000 mails, and the new ones said from the copy"),
    "reliability": ("device.evals.reliability", "crashes, faults, fuzzing, a long day and a slow board"),
}


def register(sub: Any) -> list[str]:
    listing = "\n".join(f"  {name:12} {line}" for name, (_module, line) in EVALS.items())
    p = sub.add_parser(
        "eval",
        help="run one measurement: STT, wake word, end of turn, echo, … (os1 eval --help lists them)",
        description="Run one measurement; `os1 eval NAME --help` shows its own options.",
        epilog="measurements:\n" + listing,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", choices=list(EVALS), metavar="NAME", help="which measurement (listed below)")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="passed on to the measurement")
    return ["eval"]


def dispatch(args: argparse.Namespace) -> int:
    main = _main_of(EVALS[args.name][0])
    if main is None:
        print(f"os1: eval {args.name} is not built yet", file=sys.stderr)
        return EXIT_FAIL
    # An eval's parser without prog= names itself after argv[0]; make that the command that ran it.
    sys.argv[0] = f"os1 eval {args.name}"
    return int(main(args.args) or 0)


def _main_of(module_name: str) -> Callable[[list[str]], int | None] | None:
    """The eval's `main(argv)`, or None while the module (or its package's entry point) is not written."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:  # the eval exists but one of its own imports is missing
            raise
        return None
    return getattr(module, "main", None)  # a bare folder imports as a namespace package without one
