"""One way to open a SQLite file in the state dir: made 0600 before SQLite touches it (its WAL and SHM
files copy that mode), WAL journal, and every commit synced, so a power cut loses no committed row.

A state dir that has turned read-only (an SD card the kernel remounted after an error) still opens:
the file read as it is, or an empty copy in RAM if there is none, and every write refused by SQLite
("attempt to write a readonly database"), so the owner hears that nothing was saved, never "okay"."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger("os1.storage")


def open_sqlite(path: Path, *schema: str) -> sqlite3.Connection:
    """A connection shared across threads (the caller holds its own lock), in autocommit mode, with
    each `schema` statement (CREATE … IF NOT EXISTS) run on it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
    except (OSError, sqlite3.OperationalError) as e:
        if path.parent.is_dir() and not os.access(path.parent, os.W_OK):
            return _read_only(path, schema, e)
        raise
    for statement in schema:
        db.execute(statement)
    return db


def _read_only(path: Path, schema: tuple[str, ...], e: BaseException) -> sqlite3.Connection:
    log.warning(
        "%s: the state dir is read-only (%s); reading what is there, saving nothing; "
        "fix: check the storage (dmesg), then restart",
        path,
        e,
    )
    return open_read_only(path, "; ".join(schema))


def open_read_only(path: Path, schema_script: str) -> sqlite3.Connection:
    """`path` as it is, or (if there is none) an empty database made by `schema_script` in RAM; either
    way every write is refused (query_only), so a caller says "not saved", never "okay"."""
    if path.exists():  # immutable: no -shm to make, no lock to take on a read-only file system
        db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    else:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.executescript(schema_script)
    db.isolation_level = None
    db.execute("PRAGMA query_only=1")
    return db
