"""`os1 eval reliability PART [ARGS...]`: the reliability suite, one part at a time, or `all`.

    crashes      SIGKILLs of the live daemon mid-write; every acknowledged write checked after restart
    faults       faults injected into the live daemon (devices, disk, models, clock, signals)
    fuzz-files   the config loader, `run --input` WAVs, memory import and letter files (hypothesis)
    fuzz-socket  the control socket of the live daemon: junk, huge lines, slow and many clients
    soak         one daemon through a long accelerated day: RSS, threads, fds and the gap, as a PNG
    slow-board   the daemon held to a CPU quota like a Pi 4's: turn-taking, barge-in, watchdog, reminders

Each part prints its figures and, with --out DIR, writes DIR/PART.json (and its PNG) for the README.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

PARTS = {
    "crashes": "device.evals.reliability.crashes",
    "faults": "device.evals.reliability.faults",
    "fuzz-files": "device.evals.reliability.fuzz_files",
    "fuzz-socket": "device.evals.reliability.fuzz_socket",
    "soak": "device.evals.reliability.soak",
    "slow-board": "device.evals.reliability.slow_board",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or (argv[0] not in PARTS and argv[0] != "all"):
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    part, rest = argv[0], argv[1:]
    if part == "all":
        worst = 0
        for name in PARTS:
            print(f"== {name}", flush=True)
            worst = max(worst, _run(name, rest))
        return worst
    return _run(part, rest)


def _run(part: str, argv: list[str]) -> int:
    try:
        module = importlib.import_module(PARTS[part])
    except ModuleNotFoundError as e:
        if e.name != PARTS[part]:
            raise
        print(f"os1: eval reliability {part} is not built yet", file=sys.stderr)
        return 1
    sys.argv[0] = f"os1 eval reliability {part}"
    return int(module.main(argv) or 0)


def write_report(out: Path | None, part: str, report: Any) -> None:
    """With --out DIR: the part's figures as DIR/PART.json, for the README's table."""
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{part}.json").write_text(json.dumps(report, indent=2) + "\n")
