"""The memory database: one SQLite file, WAL with synchronous=FULL, so a memory whose commit has
returned survives a crash or a power cut. Private to the owner (directory 0700, files 0600).

A memory is a row of `memories`; its words are indexed by FTS5 (BM25) through triggers, and its
embedding sits in the same row as a float32 blob, so deleting the row deletes all three.
`secure_delete` overwrites deleted content, so "forget" does not leave the words in free pages; and
after a delete the WAL is checkpointed and truncated at once, since until then it still holds the
pages as they were before, forgotten words and all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

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


class ImportRejected(StoreError):
    """An import file that is not valid JSON in the export format. Nothing was imported."""


@dataclass(frozen=True)
class Record:
    id: int
    kind: str
    subject: str
    key: str
    text: str
    created: str
    updated: str
    source: str
    due: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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


class MemoryStore:
    """Thread-safe access to the memory database. Every write is one transaction."""

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

    # ---- connection -----------------------------------------------------------------------------

    def _open(self) -> None:
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
        return StoreError(f"{self.path}: write failed ({e})")

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db().execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise StoreError(f"{self.path}: read failed ({e})") from None

    # ---- writes ---------------------------------------------------------------------------------

    def add(
        self,
        kind: str,
        text: str,
        subject: str = "",
        key: str = "",
        source: str = "",
        due: str = "",
        vec: np.ndarray | None = None,
        created: str | None = None,
        updated: str | None = None,
    ) -> int:
        """Insert one memory; returns its id once it is on disk."""
        with self._write() as conn:
            return self._insert(conn, kind, text, subject, key, source, due, vec, created, updated)

    def _insert(
        self,
        conn: sqlite3.Connection,
        kind: str,
        text: str,
        subject: str,
        key: str,
        source: str,
        due: str,
        vec: np.ndarray | None,
        created: str | None = None,
        updated: str | None = None,
    ) -> int:
        stamp = now_iso()
        cur = conn.execute(
            "INSERT INTO memories (kind, subject, key, text, created, updated, source, due, vec) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                kind,
                subject,
                key,
                text[:MAX_TEXT],
                created or stamp,
                updated or stamp,
                source,
                due,
                _blob(vec),
            ),
        )
        return int(cur.lastrowid or 0)

    def add_many(self, items: list[tuple[str, str]], vecs: np.ndarray) -> None:
        """(kind, text) pairs with their embeddings, in one transaction (bulk loads, the benchmark)."""
        with self._write() as conn:
            for (kind, text), vec in zip(items, vecs, strict=True):
                self._insert(conn, kind, text, "", "", "", "", vec)

    def update(
        self,
        mem_id: int,
        text: str,
        source: str = "",
        due: str = "",
        vec: np.ndarray | None = None,
        kind: str | None = None,
        subject: str | None = None,
        key: str | None = None,
    ) -> None:
        """Replace a memory's text (and embedding); kind, subject and key only if given."""
        with self._write() as conn:
            conn.execute(
                "UPDATE memories SET text = ?, updated = ?, source = ?, due = ?, vec = ?, "
                "kind = coalesce(?, kind), subject = coalesce(?, subject), key = coalesce(?, key) "
                "WHERE id = ?",
                (text[:MAX_TEXT], now_iso(), source, due, _blob(vec), kind, subject, key, mem_id),
            )

    def touch(self, mem_id: int) -> None:
        with self._write() as conn:
            conn.execute("UPDATE memories SET updated = ? WHERE id = ?", (now_iso(), mem_id))

    def delete(self, ids: list[int]) -> int:
        if not ids:
            return 0
        with self._write() as conn:
            marks = ",".join("?" * len(ids))
            n = conn.execute(f"DELETE FROM memories WHERE id IN ({marks})", ids).rowcount
            # FTS5 only marks deleted words; merging the index drops them, so a forgotten memory's
            # words do not linger in the file (secure_delete then zeroes the freed pages).
            conn.execute("INSERT INTO memories_fts (memories_fts) VALUES ('optimize')")
            # Checkpointed once the outermost transaction commits (a rollback leaves it for the next).
            self._scrub_pending = self._scrub_pending or n > 0
            return n

    def wipe(self) -> list[Path]:
        """Delete every memory and the database files themselves; returns the files removed."""
        with self._lock:
            self.close()
            self._inode = None
            return wipe_files(self.folder)

    # ---- reads ----------------------------------------------------------------------------------

    def get(self, mem_id: int) -> Record | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM memories WHERE id = ?", (mem_id,))
        return Record(*rows[0]) if rows else None

    def by_key(self, subject: str, key: str) -> Record | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM memories WHERE subject = ? AND key = ?", (subject, key))
        return Record(*rows[0]) if rows else None

    def by_subject(self, subject: str) -> list[Record]:
        return [
            Record(*r) for r in self._read(f"SELECT {_COLUMNS} FROM memories WHERE subject = ?", (subject,))
        ]

    def due_threads(self, today: str, days_back: int = 7) -> list[Record]:
        """Open threads due today or in the last `days_back` days, most recent first."""
        since = (date.fromisoformat(today) - timedelta(days=days_back)).isoformat()
        rows = self._read(
            f"SELECT {_COLUMNS} FROM memories WHERE kind = 'thread' AND due != '' AND due <= ? AND due >= ? "
            "ORDER BY due DESC",
            (today, since),
        )
        return [Record(*r) for r in rows]

    def all(self) -> list[Record]:
        return [Record(*r) for r in self._read(f"SELECT {_COLUMNS} FROM memories ORDER BY id")]

    def count(self) -> int:
        return int(self._read("SELECT count(*) FROM memories")[0][0])

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, matrix [n, dim]) of every memory that has an embedding."""
        rows = self._read("SELECT id, vec FROM memories WHERE vec IS NOT NULL ORDER BY id")
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        mat = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
        return ids, mat

    def bm25(self, words: list[str], limit: int = 50) -> list[int]:
        """Ids of memories containing any of `words`, best BM25 first."""
        terms = [w for w in (re.sub(r"[^\w]", "", w) for w in words) if w]
        if not terms:
            return []
        query = " OR ".join(f'"{t}"' for t in terms)
        rows = self._read(
            "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? ORDER BY bm25(memories_fts) LIMIT ?",
            (query, limit),
        )
        return [int(r[0]) for r in rows]

    def data_version(self) -> int:
        """Changes when another connection (the CLI, the daemon) commits."""
        with self._lock:
            conn = self._conn
            inode_now = self._inode
            if conn is None:
                return -1
            try:
                if os.stat(self.path).st_ino != inode_now:
                    return -2
            except FileNotFoundError:
                return -2
            return int(conn.execute("PRAGMA data_version").fetchone()[0])

    def integrity(self) -> str:
        return str(self._read("PRAGMA integrity_check")[0][0])

    # ---- export / import ------------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        return {"os1_memory": SCHEMA_VERSION, "memories": [r.to_json() for r in self.all()]}

    def import_records(self, items: list[dict[str, str]], vecs: np.ndarray) -> tuple[int, int, int]:
        """All or nothing, in one transaction: (added, updated, skipped as exact duplicates).
        A keyed memory replaces the one with the same subject and key."""
        added = updated = skipped = 0
        with self._write() as conn:
            for item, vec in zip(items, vecs, strict=True):
                if item["key"]:
                    row = conn.execute(
                        "SELECT id FROM memories WHERE subject = ? AND key = ?",
                        (item["subject"], item["key"]),
                    ).fetchone()
                    if row:
                        conn.execute(
                            "UPDATE memories SET kind = ?, text = ?, updated = ?, source = ?, due = ?, "
                            "vec = ? WHERE id = ?",
                            (
                                item["kind"],
                                item["text"],
                                item["updated"] or now_iso(),
                                item["source"],
                                item["due"],
                                _blob(vec),
                                row[0],
                            ),
                        )
                        updated += 1
                        continue
                if conn.execute("SELECT 1 FROM memories WHERE text = ?", (item["text"],)).fetchone():
                    skipped += 1
                    continue
                self._insert(
                    conn,
                    item["kind"],
                    item["text"],
                    item["subject"],
                    item["key"],
                    item["source"],
                    item["due"],
                    vec,
                    item["created"] or None,
                    item["updated"] or None,
                )
                added += 1
        return added, updated, skipped


def _blob(vec: np.ndarray | None) -> bytes | None:
    return None if vec is None else np.asarray(vec, dtype=np.float32).tobytes()


_FIELDS: dict[str, type] = {
    "kind": str,
    "text": str,
    "subject": str,
    "key": str,
    "created": str,
    "updated": str,
    "source": str,
    "due": str,
}


def validate_import(data: Any) -> list[dict[str, str]]:
    """The memories of an export file, or ImportRejected naming the first problem."""
    if not isinstance(data, dict) or not isinstance(data.get("memories"), list):
        raise ImportRejected('expected an object with a "memories" list (as written by `os1 memory export`)')
    if data.get("os1_memory") not in (None, SCHEMA_VERSION):
        raise ImportRejected(f"unsupported export version {data.get('os1_memory')!r} (this OS1 reads 1)")
    out = []
    for i, item in enumerate(data["memories"]):
        where = f"memories[{i}]"
        if not isinstance(item, dict):
            raise ImportRejected(f"{where}: expected an object")
        extra = set(item) - set(_FIELDS) - {"id"}
        if extra:
            raise ImportRejected(f"{where}: unknown field '{sorted(extra)[0]}'")
        for name, typ in _FIELDS.items():
            if name in item and not isinstance(item[name], typ):
                raise ImportRejected(f"{where}.{name}: expected a string")
        if item.get("kind") not in KINDS:
            raise ImportRejected(f"{where}.kind: must be one of {', '.join(KINDS)}")
        text = str(item.get("text", "")).strip()
        if not text or len(text) > MAX_TEXT:
            raise ImportRejected(f"{where}.text: must be 1–{MAX_TEXT} characters")
        for stamp in ("created", "updated"):
            if stamp in item and not _is_iso(item[stamp]):
                raise ImportRejected(f"{where}.{stamp}: not an ISO 8601 time")
        if item.get("due") and not _is_iso(item["due"]):
            raise ImportRejected(f"{where}.due: not an ISO 8601 date")
        out.append({k: str(item.get(k, "")) for k in _FIELDS} | {"text": text})
    return out


def _is_iso(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def load_import_file(path: Path) -> list[dict[str, str]]:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ImportRejected(f"{path}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError:
        raise ImportRejected(f"{path}: not UTF-8 text") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ImportRejected(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    try:
        return validate_import(data)
    except ImportRejected as e:
        raise ImportRejected(f"{path}: {e}") from None
