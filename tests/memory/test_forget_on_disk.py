"""Forgetting is immediate on disk: while the store is still open, the forgotten words are in none of
memory.db, memory.db-wal and memory.db-shm: not in the rows, not in FTS5's index pages, not in the
WAL's copies of the pages as they were before the delete."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from device.memory.database import db_files
from device.memory.store import MemoryStore

pytestmark = pytest.mark.models

SECRET = "My brother Zebulonqx lives in Quuxtownia"
# The words as they are stored: in the row as written, and in the FTS index lower-cased (porter stems
# leave these two whole).
TRACES = (b"Zebulonqx", b"zebulonqx", b"Quuxtownia", b"quuxtownia")


def _raw(folder: Path) -> bytes:
    """Every byte SQLite keeps on disk for the memory, read behind its back."""
    return b"".join(f.read_bytes() for f in db_files(folder) if f.exists())


def _found(folder: Path) -> list[bytes]:
    blob = _raw(folder)
    return [t for t in TRACES if t in blob]


def _fill(store: MemoryStore) -> int:
    for k in range(5):
        store.add("fact", f"I love jazz record number {k}")
    secret = store.add("fact", SECRET, subject="zebulonqx", key="home")
    for k in range(5):
        store.add("fact", f"The spare key is under flower pot {k}")
    return secret


def _delete(store: MemoryStore, mem_id: int) -> None:
    assert store.delete([mem_id]) == 1


def _delete_in_a_transaction(store: MemoryStore, mem_id: int) -> None:
    # As a turn that closes a thread does: the delete is nested in the turn's transaction.
    with store.transaction():
        store.add("fact", "I work as a nurse")
        assert store.delete([mem_id]) == 1


@pytest.mark.parametrize("forget", [_delete, _delete_in_a_transaction], ids=["delete", "in-transaction"])
def test_forgotten_words_leave_the_files_while_the_store_is_open(
    tmp_path: Path, forget: Callable[[MemoryStore, int], None]
) -> None:
    folder = tmp_path / "memory"
    store = MemoryStore(folder)
    try:
        secret = _fill(store)
        assert set(_found(folder)) == set(TRACES)  # the check sees the words when they are there
        forget(store, secret)
        assert _found(folder) == []
        assert store.bm25(["zebulonqx", "quuxtownia"]) == []
        assert store.count() == 10 + (forget is _delete_in_a_transaction)
        # Still a good database, and it goes on working.
        assert store.integrity() == "ok"
        store.add("fact", "I love tea")
        assert store.bm25(["tea"]) != []
    finally:
        store.close()


def test_a_second_connection_does_not_keep_the_words(tmp_path: Path) -> None:
    """The daemon and the CLI both have the store open: a delete by one scrubs the shared files."""
    folder = tmp_path / "memory"
    daemon = MemoryStore(folder)
    cli = MemoryStore(folder)
    try:
        secret = _fill(daemon)
        assert cli.get(secret) is not None and daemon.count() == 11  # both have read from it
        assert _found(folder) != []
        cli.delete([secret])
        assert _found(folder) == []
        assert daemon.get(secret) is None and daemon.bm25(["zebulonqx"]) == []
    finally:
        cli.close()
        daemon.close()


def test_a_reader_in_the_way_is_scrubbed_by_the_next_write(tmp_path: Path) -> None:
    """While another connection holds a read transaction, the WAL cannot be reset (the checkpoint waits
    the 5 s busy timeout for it); the delete still succeeds, and the next write finishes the job."""
    folder = tmp_path / "memory"
    store = MemoryStore(folder)
    reader = sqlite3.connect(folder / "memory.db", isolation_level=None)
    try:
        secret = _fill(store)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM memories").fetchone()  # pins the WAL as it is now
        assert store.delete([secret]) == 1
        assert _found(folder) != []  # the reader still needs the old pages
        reader.execute("COMMIT")
        store.add("fact", "I love tea")
        assert _found(folder) == []
    finally:
        reader.close()
        store.close()
