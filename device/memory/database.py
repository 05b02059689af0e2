"""The memory's SQLite file: WAL with synchronous=FULL, so a write whose commit has returned survives
a crash or a power cut; private to the owner (directory 0700, files 0600); and forgetting that is
immediate on disk. `secure_delete` overwrites deleted content, so the words do not stay in free pages;
after a delete the WAL is checkpointed and truncated at once, since until then it still holds the
pages as they were, forgotten words and all. `store.MemoryStore` is the memories on top of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from device.sqlite_file import open_read_only

log = logging.getLogger(__name__)

DB_NAME = "memory.db"
SCHEMA_VERSION = 1
KINDS = ("fact", "preference", "summary", "thread")
MAX_TEXT = 500  # characters; a memory is a sentence or two

_SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL CHECK (kind IN ('fact', 'preference', 'summary', 'thread')),
    subject TEXT NOT NULL DEFAULT '',  -- who it is about: 'me', a person's name, 'conversation'
    key     TEXT NOT NULL DEFAULT '',  -- what about them ('home', 'opinion:jazz'); '' = free text
    text    TEXT NOT NULL,             -- in the owner's words, first person ("My sister Anna ...")
    created TEXT NOT NULL,             -- ISO 8601 UTC
    updated TEXT NOT NULL,
    source  TEXT NOT NULL DEFAULT '',  -- the owner's words in the turn it came from
    due     TEXT NOT NULL DEFAULT '',  -- ISO date, for open threads
    vec     BLOB                       -- float32[384] embedding of `text`
);
CREATE UNIQUE INDEX IF NOT EXISTS memories_subject_key ON memories (subject, key) WHERE key != '';
CREATE INDEX IF NOT EXISTS memories_subject ON memories (subject);
CREATE INDEX IF NOT EXISTS memories_due ON memories (kind, due);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5 (
    text, content = 'memories', content_rowid = 'id', tokenize = 'porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS memories_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS memories_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER IF NOT EXISTS memories_au AFTER UPDATE OF text ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
END;
"""

_COLUMNS = "id, kind, subject, key, text, created, updated, source, due"


class StoreError(Exception):
    """The memory database cannot be used; the message is one line naming the file and the fix."""


class MemoryFull(StoreError):
    """A write failed because the disk (or the database's size limit) is full. Nothing was written."""


class MemoryReadOnly(StoreError):
    """A write failed because the state dir is read-only (an SD card remounted after an error)."""


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def db_files(folder: Path) -> list[Path]:
    """The database and the files SQLite keeps beside it."""
    base = folder / DB_NAME
    return [base, base.with_name(DB_NAME + "-wal"), base.with_name(DB_NAME + "-shm")]


def wipe_files(folder: Path) -> list[Path]:
    """Delete the database, its WAL and its shared-memory file; returns the ones that were there."""
    removed = []
    for f in db_files(folder):
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
            removed.append(f)
    if folder.exists():
        _fsync_dir(folder)
    return removed


def _is_full(e: sqlite3.Error) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or "database or disk is full" in str(e)


def _disk_full(folder: Path, margin: int = 256 * 1024) -> bool:
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < margin


def _fsync_dir(folder: Path) -> None:
    # A newly created file's directory entry must reach the disk too, or a power cut can lose it.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Database:
    """Thread-safe access to the memory database file. Every write is one transaction."""

    def __init__(self, folder: Path, max_pages: int | None = None):
        self.folder = folder
        self.path = folder / DB_NAME
        self._max_pages = max_pages  # tests: SQLITE_FULL without filling a disk
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._inode: int | None = None
        self._depth = 0  # transaction nesting
        self._scrub_pending = False  # a delete committed: the WAL still holds the deleted rows
        self._open()

    def _open(self) -> None:
        if self.folder.is_dir() and not os.access(self.folder, os.W_OK):
            self._open_read_only()
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.folder, 0o700)
            created = not self.path.exists()
            if created:
                # Create the file 0600 ourselves; SQLite gives the -wal and -shm files the same mode.
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.close(fd)
                _fsync_dir(self.folder)
            os.chmod(self.path, 0o600)
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA foreign_keys=ON")
            if self._max_pages:
                conn.execute(f"PRAGMA max_page_count={int(self._max_pages)}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                conn.close()
                raise StoreError(
                    f"{self.path}: made by a newer OS1 (schema {version}); update OS1 to read it"
                )
            if version < SCHEMA_VERSION:
                conn.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
            for f in db_files(self.folder)[1:]:
                if f.exists():
                    os.chmod(f, 0o600)
        except sqlite3.DatabaseError as e:
            # On a full disk, opening fails as "disk I/O error" (no room for the -shm file): say so,
            # rather than call a good database unusable.
            if _is_full(e) or _disk_full(self.folder):
                raise MemoryFull(f"{self.path}: the disk is full; free some space") from None
            raise StoreError(
                f"{self.path}: not a usable memory database ({e}); move it away or run "
                "`os1 memory forget --all`"
            ) from None
        except OSError as e:
            raise StoreError(f"{self.path}: cannot open ({e.strerror}); check the state directory") from None
        self._conn = conn
        self._inode = os.stat(self.path).st_ino

    def _open_read_only(self) -> None:
        """Recall what is there, save nothing: every write is refused (query_only) and said so."""
        log.warning(
            "memory: %s is read-only; recalling what is there, saving nothing; "
            "fix: check the storage (dmesg), then restart",
            self.folder,
        )
        self._inode = os.stat(self.path).st_ino if self.path.exists() else None
        conn = open_read_only(self.path, f"BEGIN; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
        self._conn = conn

    def _db(self) -> sqlite3.Connection:
        """The connection, reopened if the file was deleted underneath us (`forget --all`)."""
        try:
            inode: int | None = os.stat(self.path).st_ino
        except FileNotFoundError:
            inode = None
        if self._depth and self._conn is not None:
            return self._conn  # never swap connections in the middle of a transaction
        if self._conn is None or inode != self._inode:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._open()
        assert self._conn is not None
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                if self._scrub_pending:  # closing checkpoints only if no other process has it open
                    self._scrub(self._conn)
                self._conn.close()
                self._conn = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction; writes inside it (nested ones too) commit together or not at all.
        SQLITE_FULL becomes MemoryFull, other failures StoreError; either way nothing is kept."""
        with self._lock:
            if self._depth:  # nested: the outermost transaction commits or rolls back
                assert self._conn is not None
                self._depth += 1
                try:
                    yield self._conn
                except sqlite3.Error as e:
                    raise self._translate(e) from None
                finally:
                    self._depth -= 1
                return
            conn = self._db()
            self._depth = 1
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as e:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise self._translate(e) from None
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            if self._scrub_pending:
                self._scrub(conn)

    _write = transaction

    def _scrub(self, conn: sqlite3.Connection) -> None:
        """Copy the WAL into the database (where secure_delete has zeroed what was deleted) and truncate
        it to nothing. Waits up to the busy timeout for another connection's read to finish; if one is
        still reading, the next write tries again."""
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.Error as e:
            busy, why = 1, str(e)
        else:
            why = "another process is reading it"
        self._scrub_pending = bool(busy)
        if busy:
            log.warning("memory: forgotten rows stay in %s-wal until the next write (%s)", self.path, why)

    def _translate(self, e: sqlite3.Error) -> StoreError:
        if _is_full(e):
            log.warning("memory: not saved, storage is full (%s)", self.path)
            return MemoryFull(f"{self.path}: storage is full; free some disk space")
        if "readonly" in str(e).lower():
            log.warning("memory: not saved, the state dir is read-only (%s)", self.path)
            return MemoryReadOnly(f"{self.path}: the state dir is read-only; check the storage, then restart")
        return StoreError(f"{self.path}: write failed ({e})")

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db().execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise StoreError(f"{self.path}: read failed ({e})") from None
