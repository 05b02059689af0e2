"""`os1 memory list|search|add|forget|export|import`: what the companion remembers, for its owner."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from device.atomic import write_text_atomic
from device.cli import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK
from device.config import load as configuration
from device.config import paths


def register(sub: Any) -> list[str]:
    p = sub.add_parser("memory", help="list, search, add, forget, export or import what it remembers")
    msub = p.add_subparsers(dest="memory_action", required=True)
    ls = msub.add_parser("list", help="every memory, oldest first")
    ls.add_argument("--json", action="store_true", help="as a JSON array")
    s = msub.add_parser("search", help="the memories related to TEXT, best first")
    s.add_argument("text")
    a = msub.add_parser("add", help="remember TEXT (as if you had said it)")
    a.add_argument("text")
    f = msub.add_parser("forget", help="delete one memory by id, or --all of them")
    f.add_argument("id", nargs="?", type=int)
    f.add_argument("--all", action="store_true", help="delete every memory and the database files")
    e = msub.add_parser("export", help="write every memory to FILE as JSON ('-' = stdout)")
    e.add_argument("file")
    i = msub.add_parser("import", help="add the memories in FILE (written by export); all or nothing")
    i.add_argument("file", type=Path)
    return ["memory"]


def _error(message: str, code: int) -> int:
    print(f"os1 memory: {message}", file=sys.stderr)
    return code


def dispatch(args: argparse.Namespace) -> int:
    from device.memory.database import MemoryFull, StoreError
    from device.memory.store import ImportRejected

    cfg, _source = configuration.load(args.config)
    state_dir = paths.dirs(cfg).state
    models_dir = paths.dirs(cfg).models
    folder = state_dir / "memory"
    try:
        return _run(args, cfg, folder, state_dir, models_dir)
    except ImportRejected as e:
        return _error(f"{e}; nothing was imported", EXIT_BAD_INPUT)
    except MemoryFull as e:
        saving = args.memory_action in ("add", "import", "export")
        return _error(f"not saved: {e}" if saving else str(e), EXIT_FAIL)
    except StoreError as e:
        return _error(str(e), EXIT_FAIL)


def _run(args: argparse.Namespace, cfg: Any, folder: Path, state_dir: Path, models_dir: Path) -> int:
    from device.memory.core import Memory
    from device.memory.store import MemoryStore

    action = args.memory_action
    if action == "forget" and args.all:
        if args.id is not None:
            return _error("give an id or --all, not both", EXIT_BAD_INPUT)
        return _forget_all(folder)
    if action in ("list", "forget", "export"):
        store = MemoryStore(folder)
        try:
            return _store_action(args, store)
        finally:
            store.close()
    memory = Memory.open(state_dir, cfg.memory, models_dir)
    try:
        if action == "search":
            hits = memory.search(args.text, limit=10)
            if not hits:
                print(f"no memory is related to '{args.text}'")
            for rec, sim in hits:
                print(f"#{rec.id:<5} {sim:.2f}  {rec.kind:10} {rec.text}")
            return EXIT_OK
        if action == "add":
            for s in memory.add_text(args.text):
                print(f"{s.action} #{s.id}: {s.text}")
            return EXIT_OK
        added, updated, skipped = memory.import_file(args.file)
        print(
            f"imported {added} memories from {args.file} "
            f"({updated} updated an existing one, {skipped} already there)"
        )
        return EXIT_OK
    finally:
        memory.store.close()  # not close(): a CLI run is not a conversation to summarise


def _forget_all(folder: Path) -> int:
    """Every memory and the database files. A running daemon that has them open does it itself (see
    DaemonControl.forget_all); deleting them under it would leave it writing into deleted files."""
    from device.app import control
    from device.memory.database import db_files, wipe_files
    from device.memory.store import MemoryStore

    try:
        reply = control.send({"cmd": "forget", "all": True, "folder": str(folder)})
    except control.DaemonNotRunning:
        reply = {"held": False}
    except control.ControlError as e:
        return _error(
            f"the running daemon did not forget ({e}); nothing was deleted: stop it "
            "(`systemctl stop os1`) and run this again",
            EXIT_FAIL,
        )
    if reply.get("held"):
        names = ", ".join(reply.get("removed") or []) or "none were there"
        print(
            f"forgot everything: deleted {reply.get('count', 0)} memories and the database files ({names}) "
            f"in {folder}; the running daemon goes on with an empty memory"
        )
        return EXIT_OK
    n = 0
    if any(f.exists() for f in db_files(folder)):
        with contextlib.suppress(Exception):  # a damaged database is deleted all the same
            store = MemoryStore(folder)
            n = store.count()
            store.close()
    removed = wipe_files(folder)
    names = ", ".join(f.name for f in removed) or "none were there"
    print(f"forgot everything: deleted {n} memories and the database files ({names}) in {folder}")
    return EXIT_OK


def _store_action(args: argparse.Namespace, store: Any) -> int:
    if args.memory_action == "list":
        records = store.all()
        if args.json:
            print(json.dumps([r.to_json() for r in records], indent=1, ensure_ascii=False))
            return EXIT_OK
        if not records:
            print(f"no memories yet ({store.path})")
        for r in records:
            due = f" (due {r.due})" if r.due else ""
            print(f"#{r.id:<5} {r.kind:10} {r.updated[:16].replace('T', ' ')}  {r.text}{due}")
        return EXIT_OK
    if args.memory_action == "forget":
        if args.id is None:
            return _error("give the id of a memory (see `os1 memory list`) or --all", EXIT_BAD_INPUT)
        rec = store.get(args.id)
        if rec is None:
            return _error(f"there is no memory #{args.id}; see `os1 memory list`", EXIT_BAD_INPUT)
        store.delete([args.id])
        print(f"forgot #{rec.id}: {rec.text}")
        return EXIT_OK
    data = json.dumps(store.export(), indent=1, ensure_ascii=False) + "\n"
    n = len(store.export()["memories"])
    if args.file == "-":
        sys.stdout.write(data)
        return EXIT_OK
    _write_private(Path(args.file), data)
    print(f"exported {n} memories to {args.file}")
    return EXIT_OK


def _write_private(path: Path, data: str) -> None:
    """Atomically, readable only by the owner: the export holds everything the companion knows."""
    path = path.expanduser()
    try:
        write_text_atomic(path, data, mode=0o600, keep_mode=False)
    except OSError as e:
        if e.errno == 28:
            from device.memory.database import MemoryFull

            raise MemoryFull(f"{path}: the disk is full; free some space") from None
        raise _cli_store_error(f"{path}: cannot write ({e.strerror})") from None


def _cli_store_error(message: str) -> Exception:
    from device.memory.database import StoreError

    return StoreError(message)
