#!/usr/bin/env python3
"""Run a command and report the peak memory of its whole process tree, its wall time and its exit code.

`/usr/bin/time -v` reports the largest single process, but a setup step runs several at once (pip
and two compilers under make): a 2 GB Pi 4 runs out on their sum. This samples the resident memory
of the command and every descendant from /proc, ten times a second, and reports the largest sum.

    python3 hardware/peak_memory.py -- make demo ARCH=aarch64
    python3 hardware/peak_memory.py --json -- sudo make install

Prints one line to stderr at the end (peak MB, the process that was largest at the time, seconds),
or with --json one object on stdout. Exits with the command's exit code. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    """Every process's children, from each /proc/PID/stat's parent field."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone since the listing
            continue
        fields = text[text.rindex(")") + 2 :].split()
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _rss_bytes(pid: int) -> tuple[int, str]:
    try:
        resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, IndexError, ValueError):
        return 0, ""
    return resident, name


def tree_rss(root: int) -> tuple[int, str]:
    """The resident memory of `root` and all its descendants, and the name of the largest of them."""
    kids = _children()
    total, biggest, biggest_name = 0, 0, ""
    todo = [root]
    while todo:
        pid = todo.pop()
        rss, name = _rss_bytes(pid)
        total += rss
        if rss > biggest:
            biggest, biggest_name = rss, name
        todo.extend(kids.get(pid, []))
    return total, biggest_name


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--interval", type=float, default=0.1, help="seconds between samples")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("give the command after --")
    start = time.monotonic()
    try:
        proc = subprocess.Popen(command)
    except OSError as e:
        print(f"peak_memory: cannot run {command[0]}: {e.strerror}", file=sys.stderr)
        return 127
    peak, peak_name = 0, ""
    while proc.poll() is None:
        total, name = tree_rss(proc.pid)
        if total > peak:
            peak, peak_name = total, name
        time.sleep(args.interval)
    seconds = time.monotonic() - start
    result = {
        "peak_mb": round(peak / 1e6),
        "largest": peak_name,
        "seconds": round(seconds),
        "rc": proc.returncode,
    }
    if args.json:
        print(json.dumps(result))
    print(
        f"peak_memory: {result['peak_mb']} MB at the peak (largest then: {peak_name or '-'}), "
        f"{seconds:.0f} s, exit {proc.returncode}",
        file=sys.stderr,
    )
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
