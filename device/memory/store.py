"""The memories: a row of `memories` each, its words indexed by FTS5 (BM25) through triggers and its
embedding in the same row as a float32 blob, so deleting the row deletes all three. The file itself,
its durability and its errors are `database.py`.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from device.memory.database import (
    _COLUMNS,
    KINDS,
    MAX_TEXT,
    SCHEMA_VERSION,
    Database,
    StoreError,
    now_iso,
    wipe_files,
)


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


class MemoryStore(Database):
    """The memories, on the memory database (`Database`: the file, its transactions, its errors)."""

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

    def subjects(self) -> set[str]:
        """Who the memories are about (people's names, "me", "conversation")."""
        return {str(r[0]) for r in self._read("SELECT DISTINCT subject FROM memories")}

    def of_kind(self, kind: str, limit: int = 50) -> list[Record]:
        """The newest memories of one kind (summaries, threads), newest last."""
        rows = self._read(
            f"SELECT {_COLUMNS} FROM memories WHERE kind = ? ORDER BY updated DESC, id DESC LIMIT ?",
            (kind, limit),
        )
        return [Record(*r) for r in reversed(rows)]

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
    except RecursionError:
        raise ImportRejected(f"{path}: nested too deep to be an export of memories") from None
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # "\ud800" escapes: no text the embedder can read
        raise ImportRejected(f"{path}: has broken characters (lone UTF-16 surrogates)") from None
    try:
        return validate_import(data)
    except ImportRejected as e:
        raise ImportRejected(f"{path}: {e}") from None
