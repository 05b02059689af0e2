"""The board's copy of the inbox: every mail it has read, as plain words, in a SQLite file in the
state dir, replaced in one transaction by each sync (a sync cut off halfway leaves the last good
copy: nothing duplicated, nothing lost)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from device.mail.message import Mail
from device.sqlite_file import open_sqlite


class MailCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = open_sqlite(
            self.path, "CREATE TABLE IF NOT EXISTS mails (uid INTEGER PRIMARY KEY, mail TEXT NOT NULL)"
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def replace_all(self, mails: Iterable[Mail]) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM mails")
                n = 0
                for m in mails:
                    self._db.execute(
                        "INSERT OR REPLACE INTO mails VALUES (?, ?)", (m.uid, json.dumps(asdict(m)))
                    )
                    n += 1
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return n

    def newest_first(self) -> list[Mail]:
        with self._lock:
            rows = self._db.execute("SELECT mail FROM mails").fetchall()
        mails = [Mail(**json.loads(row[0])) for row in rows]
        return sorted(mails, key=lambda m: (m.date, m.uid), reverse=True)
