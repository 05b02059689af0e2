"""`os1 export FILE`, `os1 import FILE`, `os1 forget --everything`: all that the owner owns, at once
(memories, letters, reminders, the profile, the persona log, the voiceprint and the config)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from device.cli import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK
from device.config import load as configuration
from device.config import paths


def register(sub: Any) -> list[str]:
    e = sub.add_parser("export", help="everything it keeps of you, and the config, in one archive (0600)")
    e.add_argument("file", type=Path, help="where to write it, e.g. os1-backup.tar.gz")
    i = sub.add_parser("import", help="restore an export on a new board (nothing changes if it is bad)")
    i.add_argument("file", type=Path, help="an archive written by os1 export")
    f = sub.add_parser("forget", help="--everything: delete all it keeps of you, the config and secrets")
    f.add_argument("--everything", action="store_true", required=True, help="all of it (there is no undo)")
    f.add_argument("--yes", action="store_true", help="really: without it, only what would go is listed")
    return ["export", "import", "forget"]


def dispatch(args: argparse.Namespace) -> int:
    from device.app.archive import ArchiveError

    try:
        return {"export": _export, "import": _import, "forget": _forget}[args.command](args)
    except ArchiveError as e:
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:
        if e.errno == 28:
            raise  # the disk is full: cli/errors says so
        print(f"os1: {e.strerror or e} ({e.filename or args.file}); nothing was changed", file=sys.stderr)
        return EXIT_FAIL


def _export(args: argparse.Namespace) -> int:
    from device.app.archive import export

    cfg, found = configuration.load(args.config)
    members = export(paths.dirs(cfg).state, found, args.file)
    size = sum(len(m.data) for m in members)
    print(f"exported {len(members)} files ({size / 1e3:.0f} kB) to {args.file} (readable by you only)")
    print("secrets (API keys, mail passwords) are not in it: set them again on the new board")
    return EXIT_OK


def companion_running() -> bool:
    """A daemon that is there but not ours to reach counts as running: its files are in use."""
    from device.app import control

    try:
        return control.daemon_running()
    except control.ControlError:
        return True


def _import(args: argparse.Namespace) -> int:
    from device.app.archive import restore

    if companion_running():
        print(
            "os1: the companion is running; stop it first (sudo systemctl stop os1), then import",
            file=sys.stderr,
        )
        return EXIT_FAIL
    cfg, found = configuration.load(args.config)
    target = found or paths.user_config_candidates(args.config)[0]
    members = restore(
        args.file, paths.dirs(cfg).state, target, lambda text: configuration.parse(text, str(args.file))
    )
    print(
        f"imported {len(members)} files into {paths.dirs(cfg).state}"
        + (f" and {target}" if any(m.name.startswith("config/") for m in members) else "")
    )
    return EXIT_OK


def _forget(args: argparse.Namespace) -> int:
    from device.app.archive import forget_everything, owner_files
    from device.config.secrets import secrets_path

    cfg, found = configuration.load(args.config)
    state = paths.dirs(cfg).state
    files = [p for p in (found, secrets_path()) if p is not None and p.exists()]
    doomed = owner_files(state) + files
    if not args.yes:
        for p in doomed:
            print(f"would delete {p}")
        print(
            f"os1: nothing deleted; run again with --yes to delete these {len(doomed)} files", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    if companion_running():
        print(
            "os1: the companion is running; stop it first (sudo systemctl stop os1), then forget",
            file=sys.stderr,
        )
        return EXIT_FAIL
    removed = forget_everything(state, files)
    print(f"deleted {len(removed)} files (WAL and SHM files included); nothing of it is left in {state}")
    return EXIT_OK
