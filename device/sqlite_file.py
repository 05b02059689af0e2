"""One way to open a SQLite file in the state dir: made 0600 before SQLite touches it (its WAL and SHM
files copy that mode), WAL journal, and every commit synced, so a power cut loses no committed row."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def open_sqlite(path: Path) -> sqlite3.Connection:
    """A connection shared across threads (the caller holds its own lock), in autocommit mode."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db
