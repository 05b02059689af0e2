"""A state dir that turned read-only (an SD card the kernel remounted after an error) on a real
read-only mount: what is there is still read, every write is refused with an error that says so, and
nothing is lost once the disk is writable again."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from device.intents.reminders import ReminderStore
from device.intents.text import storage_problem
from device.memory.database import MemoryReadOnly
from device.memory.store import MemoryStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI runs as root)")


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "state"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2048k", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _read_only(path: Path, on: bool) -> None:
    subprocess.run(["mount", "-o", "remount,ro" if on else "remount,rw", str(path)], check=True)


def test_reminders_are_read_and_a_new_one_is_refused_in_words_then_saved_once_writable(state: Path) -> None:
    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    store = ReminderStore(state / "reminders.db")
    store.add("call Anna", now + timedelta(hours=3), now)
    store.close()
    _read_only(state, True)
    ro = ReminderStore(state / "reminders.db")
    assert [r.text for r in ro.pending()] == ["call Anna"]
    with pytest.raises(sqlite3.OperationalError) as e:
        ro.add("call Bob", now + timedelta(hours=4), now)
    assert storage_problem(e.value) == "my storage has turned read-only"
    fresh = ReminderStore(state / "calendar-none.db")  # a file that was never made: an empty copy
    assert fresh.pending() == []
    ro.close()
    fresh.close()
    _read_only(state, False)
    rw = ReminderStore(state / "reminders.db")
    rw.add("call Bob", now + timedelta(hours=4), now)
    assert [r.text for r in rw.pending()] == ["call Anna", "call Bob"]
    rw.close()


def test_the_memory_recalls_what_it_has_and_refuses_a_write_as_read_only(state: Path) -> None:
    vec = np.ones(384, np.float32) / np.sqrt(384)
    store = MemoryStore(state / "memory")
    store.add("fact", "My locker number is 4821.", vec=vec)
    store.close()
    _read_only(state, True)
    ro = MemoryStore(state / "memory")
    assert [r.text for r in ro.all()] == ["My locker number is 4821."]
    with pytest.raises(MemoryReadOnly, match="read-only; check the storage, then restart"):
        ro.add("fact", "My bike lock code is 7305.", vec=vec)
    ro.close()
    _read_only(state, False)
    assert [r.text for r in MemoryStore(state / "memory").all()] == ["My locker number is 4821."]
