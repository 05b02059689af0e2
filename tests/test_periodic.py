"""A background sync that fails (a full disk, a server that is down, a bug) is logged and tried again:
before, a full disk during the calendar's or the inbox's sync ended its thread without a word."""

from __future__ import annotations

import logging
import sqlite3
import threading

import pytest

from device.periodic import Periodic


def test_a_failed_round_is_one_line_and_the_next_round_runs(caplog: pytest.LogCaptureFixture) -> None:
    rounds: list[int] = []
    third = threading.Event()
    failures = [sqlite3.OperationalError("database or disk is full"), RuntimeError("server said no\nmore")]

    def work() -> None:
        rounds.append(len(rounds))
        if failures:
            raise failures.pop(0)
        third.set()

    sync = Periodic("os1-test", work, logging.getLogger("os1.test"), "test")
    with caplog.at_level(logging.WARNING, logger="os1.test"):
        sync.start(every_s=0.01)
        assert third.wait(5), rounds
        sync.stop()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == (
        "test: cannot save the copy (database or disk is full); fix: free space in the state dir"
    )
    assert lines[1] == "test: server said no"
    assert not any(t.name == "os1-test" for t in threading.enumerate())
