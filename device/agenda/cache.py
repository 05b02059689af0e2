"""The board's copy of the owner's calendar: every calendar object (its iCalendar text and the
server's ETag) in a SQLite file in the state dir, so "what's on tomorrow" is answered offline and
in milliseconds. A sync replaces the whole copy in one transaction: a sync cut off halfway (a
dropped connection, a power cut) leaves the last good copy, nothing duplicated and nothing lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from device.sqlite_file import open_sqlite


@dataclass(frozen=True)
class CalendarObject:
    """One calendar resource as the server holds it."""

    href: str
    """Where it lives on the server (or its UID, for the local file)."""
    etag: str
    """The server's version of it: a write sends it back (If-Match), so another's edit is never lost."""
    ics: str
    """Its iCalendar text."""


class AgendaCache:
    """Thread-safe: the sync thread writes, the voice thread reads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = open_sqlite(
            self.path,
            "CREATE TABLE IF NOT EXISTS objects (href TEXT PRIMARY KEY, etag TEXT, ics TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
        )
        self.version = 0
        """Goes up with every change made here: a reader's parsed copy is stale when it moves."""

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def objects(self) -> list[CalendarObject]:
        with self._lock:
            rows = self._db.execute("SELECT href, etag, ics FROM objects ORDER BY href").fetchall()
        return [CalendarObject(*row) for row in rows]

    def get(self, href: str) -> CalendarObject | None:
        with self._lock:
            row = self._db.execute("SELECT href, etag, ics FROM objects WHERE href = ?", (href,)).fetchone()
        return CalendarObject(*row) if row else None

    def replace_all(self, objects: Iterable[CalendarObject]) -> int:
        """The server's whole calendar, taken as it comes (`objects` may be a generator that fails
        halfway: then nothing changes)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM objects")
                n = 0
                for o in objects:
                    self._db.execute(
                        "INSERT OR REPLACE INTO objects VALUES (?, ?, ?)", (o.href, o.etag, o.ics)
                    )
                    n += 1
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('synced_at', ?)", (str(time.time()),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self.version += 1
        return n

    def put(self, obj: CalendarObject) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO objects VALUES (?, ?, ?)", (obj.href, obj.etag, obj.ics))
            self.version += 1

    def remove(self, href: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM objects WHERE href = ?", (href,))
            self.version += 1

    def synced_at(self) -> float | None:
        """When the last whole sync finished (epoch seconds), or None: never."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'synced_at'").fetchone()
        return float(row[0]) if row else None
