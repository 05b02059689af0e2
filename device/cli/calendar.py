"""`os1 calendar sync | show [DAY]`: the owner's calendar from the shell: refresh the board's copy
from the source now, or hear what a day holds as the companion would say it."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from device.cli import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK
from device.config import load as configuration
from device.config import paths


def register(sub: Any) -> list[str]:
    cal = sub.add_parser("calendar", help="the owner's calendar: sync the board's copy, or show a day")
    csub = cal.add_subparsers(dest="action", required=True)
    csub.add_parser("sync", help="fetch the whole calendar from its source into the board's copy")
    show = csub.add_parser("show", help="what a day holds, from the board's copy (works offline)")
    show.add_argument("day", nargs="?", default="today", help="today, tomorrow, friday, …")
    return ["calendar"]


def dispatch(args: argparse.Namespace) -> int:
    from device.agenda.events import AgendaError
    from device.app.agenda import build_agenda
    from device.intents.calendar import CalendarIntent

    cfg, _source = configuration.load(args.config)
    try:
        agenda = build_agenda(cfg.calendar, paths.dirs(cfg).state)
    except AgendaError as e:
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if agenda is None:
        print("os1: no calendar: set calendar.source (local or caldav) with os1 config set", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if args.action == "sync":
            t0 = time.monotonic()
            n = agenda.sync()
            took_ms = (time.monotonic() - t0) * 1000
            print(f"synced {n} calendar objects from {agenda.source.name} in {took_ms:.0f} ms")
            return EXIT_OK
        print(
            CalendarIntent(agenda)(f"What's on {args.day}?") or f"I didn't catch which day {args.day!r} is."
        )
        return EXIT_OK
    except AgendaError as e:
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        agenda.cache.close()
