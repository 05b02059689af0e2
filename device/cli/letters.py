"""`os1 letters list | show ID | export ID [FILE]`: the letters written by voice, from the shell."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from device.cli import EXIT_BAD_INPUT, EXIT_OK
from device.config import load as configuration
from device.config import paths
from device.intents.letters import LetterStore


def register(sub: Any) -> list[str]:
    letters = sub.add_parser("letters", help="the letters you wrote by voice: list, show or export them")
    lsub = letters.add_subparsers(dest="action", required=True)
    lsub.add_parser("list", help="every saved letter, oldest first, with its id")
    show = lsub.add_parser("show", help="print one letter with its header")
    show.add_argument("id", help="a letter id from `os1 letters list`")
    export = lsub.add_parser("export", help="the letter's text without its header, to FILE or stdout")
    export.add_argument("id", help="a letter id from `os1 letters list`")
    export.add_argument("file", nargs="?", type=Path, help="where to write it (default: stdout)")
    return ["letters"]


def dispatch(args: argparse.Namespace) -> int:
    cfg, _source = configuration.load(args.config)
    store = LetterStore(paths.dirs(cfg).state / "letters")
    if args.action == "list":
        return _list(store)
    path = store.path(args.id)
    if path is None:
        print(
            f"os1: no letter '{args.id}' in {store.folder}; `os1 letters list` shows the ids", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    text = path.read_text(encoding="utf-8", errors="replace")
    if args.action == "show":
        print(text, end="" if text.endswith("\n") else "\n")
        return EXIT_OK
    body = re.sub(r"^---\n.*?\n---\n+", "", text, count=1, flags=re.S)
    if args.file is None:
        sys.stdout.write(body)
        return EXIT_OK
    try:
        args.file.write_text(body, encoding="utf-8")
    except OSError as e:
        print(f"os1: cannot write {args.file} ({e.strerror}); pick a writable path", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {args.file}")
    return EXIT_OK


def _list(store: LetterStore) -> int:
    ids = store.ids()
    if not ids:
        print(f"no letters yet (they are saved in {store.folder})")
        return EXIT_OK
    print(f"{'id':28} {'date':10}  {'to':16} about")
    for letter_id in ids:
        letter = store.load(letter_id)
        if letter is None:
            continue
        print(f"{letter_id:28} {letter.written.isoformat():10}  {letter.to[:16]:16} {letter.about[:40]}")
    return EXIT_OK
