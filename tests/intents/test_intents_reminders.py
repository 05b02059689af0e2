"""Reminders: spoken times against a fixed clock, the SQLite store across restarts, and the scheduler."""

from __future__ import annotations

import sqlite3
import stat
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from device.intents.reminders import ReminderScheduler, RemindersIntent, ReminderStore
from device.intents.when import parse_minutes, parse_when

ZONE = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 22, 14, 0, tzinfo=ZONE)  # a Sunday afternoon


class Clock:
    """A settable clock standing in for the system one (the scheduler takes `now` as a callable)."""

    def __init__(self, t: datetime = NOW):
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **delta: float) -> None:
        self.t += timedelta(**delta)


def at(day: int, hour: int, minute: int = 0, month: int = 11, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=ZONE)


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("in 20 minutes", at(22, 14, 20)),
        ("in twenty minutes", at(22, 14, 20)),
        ("in half an hour", at(22, 14, 30)),
        ("in an hour", at(22, 15)),
        ("tomorrow at 9", at(23, 9)),
        ("tomorrow at 9am", at(23, 9)),
        ("tomorrow morning", at(23, 9)),
        ("tomorrow evening at 7", at(23, 19)),
        ("at 5pm", at(22, 17)),
        ("at 5 p.m.", at(22, 17)),
        ("at 6", at(22, 18)),  # the next 6 o'clock is this evening
        ("at 11 at night", at(22, 23)),
        ("at 6 in the morning", at(23, 6)),
        ("at half past six", at(22, 18, 30)),
        ("at quarter to seven", at(22, 18, 45)),
        ("at six thirty pm", at(22, 18, 30)),
        ("at 13:45", at(23, 13, 45)),  # already past today
        ("at noon", at(23, 12)),
        ("at midnight", at(23, 0)),
        ("tonight at 8", at(22, 20)),
        ("tonight", at(22, 19)),
        ("on Friday at 3pm", at(27, 15)),
        ("Friday at 3", at(27, 15)),  # an hour without am/pm on another day: 1-6 is the afternoon
        ("next Monday at 10", at(23, 10)),
        ("on the 3rd of December at noon", at(3, 12, month=12)),
        ("in 2 days", at(24, 14)),
        ("in 30 seconds", at(22, 14, 0, second=30)),
        ("in twenty seconds", at(22, 14, 0, second=20)),
        ("in 1 minute and 30 seconds", at(22, 14, 1, second=30)),
    ],
)
def test_spoken_times(phrase: str, expected: datetime) -> None:
    assert parse_when(phrase, NOW) == expected


@pytest.mark.parametrize("phrase", ["call Mum", "the park", "in the park", "at the shop", "today", ""])
def test_not_a_time(phrase: str) -> None:
    assert parse_when(phrase, NOW) is None


def test_a_duration_counts_real_time_across_a_dst_change() -> None:
    before = datetime(2026, 10, 25, 0, 30, tzinfo=ZONE)  # clocks go back at 02:00 BST
    later = parse_when("in 2 hours", before)
    # (same-zone datetime subtraction is wall-clock in Python, so compare instants)
    assert later is not None and later.timestamp() - before.timestamp() == 2 * 3600
    assert later.utcoffset() == timedelta(0) and (later.hour, later.minute) == (1, 30)


def test_snooze_lengths() -> None:
    assert parse_minutes("for 10 minutes") == 10
    assert parse_minutes("snooze it for ten minutes") == 10
    assert parse_minutes("in half an hour") == 30
    assert parse_minutes("for an hour") == 60
    assert parse_minutes("snooze") is None


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "reminders.db"


def scheduler(db: Path, clock: Clock) -> ReminderScheduler:
    return ReminderScheduler(ReminderStore(db), now=clock, snooze_minutes=10)


@pytest.mark.parametrize(
    ("said", "task", "due"),
    [
        ("Remind me in 20 minutes to call Mum.", "call Mum", at(22, 14, 20)),
        ("remind me tomorrow at 9 to take my pills", "take your pills", at(23, 9)),
        ("Remind me at 5pm to feed the cat", "feed the cat", at(22, 17)),
        ("remind me to water the plants at 6", "water the plants", at(22, 18)),
        ("remind me to go to the shop at 5", "go to the shop", at(22, 17)),
        ("remind me at quarter to seven to ring Anna", "ring Anna", at(22, 18, 45)),
        ("Can you remind me to buy milk on Friday?", "buy milk", at(27, 9)),
        ("set a reminder for 5pm to call Dad", "call Dad", at(22, 17)),
        ("remind me to meet Anna in the park in 20 minutes", "meet Anna in the park", at(22, 14, 20)),
        ("remind me about the dentist tomorrow at 9", "the dentist", at(23, 9)),
        ("remind me in 20 seconds to stretch my legs", "stretch your legs", at(22, 14, 0, second=20)),
    ],
)
def test_setting_a_reminder_by_voice(db: Path, clock: Clock, said: str, task: str, due: datetime) -> None:
    sched = scheduler(db, clock)
    reply = RemindersIntent(sched)(said)
    assert reply is not None and reply.startswith("Okay") and task in reply
    [r] = sched.store.pending()
    assert (r.text, r.due) == (task, due)


def test_no_time_given_asks_for_one(db: Path, clock: Clock) -> None:
    sched = scheduler(db, clock)
    intent = RemindersIntent(sched)
    assert intent("remind me to phone the bank") == "When should I remind you to phone the bank?"
    assert sched.store.pending() == []
    assert intent("tomorrow morning") == (
        "Okay, I'll remind you tomorrow at 9 o'clock in the morning: phone the bank."
    )
    assert [r.text for r in sched.store.pending()] == ["phone the bank"]
    assert intent("tomorrow morning") is None  # the question was answered; this is conversation again


def test_list_and_cancel_by_voice(db: Path, clock: Clock) -> None:
    intent = RemindersIntent(scheduler(db, clock))
    assert intent("What are my reminders?") == "You have no reminders."
    intent("remind me in 20 minutes to call Mum")
    intent("remind me tomorrow at 9 to take my pills")
    assert intent("what are my reminders") == (
        "You have 2 reminders: call Mum, at 2:20 in the afternoon; "
        "take your pills, tomorrow at 9 o'clock in the morning."
    )
    assert intent("cancel the reminder about Mum") == "Okay, I've cancelled the reminder to call Mum."
    assert intent("cancel the reminder about the car") == "I couldn't find a reminder about the car."
    assert intent("what are my reminders?") == (
        "You have one reminder: take your pills, tomorrow at 9 o'clock in the morning."
    )
    assert intent("cancel all my reminders") == "Okay, I've cancelled your reminder to take your pills."
    assert intent("what are my reminders") == "You have no reminders."


def test_other_talk_is_left_to_the_conversation(db: Path, clock: Clock) -> None:
    intent = RemindersIntent(scheduler(db, clock))
    for said in ["that reminds me of my holiday", "I need to call Mum", "what a lovely day", "snowy weather"]:
        assert intent(said) is None


def test_store_survives_reopen_and_is_private(db: Path, clock: Clock) -> None:
    first = ReminderStore(db)
    first.add("call your mum", at(22, 15), NOW)
    first.close()
    again = ReminderStore(db)
    [r] = again.pending()
    assert (r.text, r.due, r.created) == ("call your mum", at(22, 15), NOW)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_due_reminder_is_spoken_once(db: Path, clock: Clock) -> None:
    sched = scheduler(db, clock)
    RemindersIntent(sched)("remind me in 20 minutes to call Mum")
    spoken: list[str] = []
    sched.start(spoken.append, interval_s=3600)  # started now: the first check finds nothing due
    sched.stop()
    assert spoken == [] and sched.due() == []
    clock.advance(minutes=20)
    assert [r.text for r in sched.due()] == ["call Mum"]
    assert sched.check(spoken.append) == 1
    assert spoken == ["Reminder: call Mum."]
    assert sched.check(spoken.append) == 0 and spoken == ["Reminder: call Mum."]


def test_due_while_off_is_spoken_at_the_next_start(db: Path, clock: Clock) -> None:
    sched = scheduler(db, clock)
    intent = RemindersIntent(sched)
    intent("remind me in 20 minutes to call Mum")
    intent("remind me in 30 minutes to feed the cat")
    sched.store.close()  # the device is switched off...
    clock.advance(hours=3)  # ...and on again three hours later
    after = scheduler(db, clock)
    heard = threading.Event()
    spoken: list[str] = []

    def announce(text: str) -> None:
        spoken.append(text)
        heard.set()

    after.start(announce, interval_s=0.05)
    try:
        assert heard.wait(5)
    finally:
        after.stop()
    assert spoken == ["While I was off, 2 reminders came due: call Mum and feed the cat."]
    assert after.store.pending() == []


def test_muted_keeps_it_pending(db: Path, clock: Clock) -> None:
    sched = scheduler(db, clock)
    sched._started_at = NOW  # as start() would, without the thread
    RemindersIntent(sched)("remind me in 20 minutes to call Mum")
    clock.advance(minutes=21)
    spoken: list[str] = []
    muted = True
    for _ in range(3):
        assert sched.check(spoken.append, lambda: muted) == 0
    assert spoken == [] and len(sched.due()) == 1
    muted = False
    assert sched.check(spoken.append, lambda: muted) == 1
    assert spoken == ["Reminder: call Mum."]


def test_snooze_by_voice(db: Path, clock: Clock) -> None:
    sched = scheduler(db, clock)
    sched._started_at = NOW
    intent = RemindersIntent(sched)
    assert intent("snooze") == "There's no reminder to snooze just now."
    intent("remind me in 20 minutes to call Mum")
    clock.advance(minutes=20)
    spoken: list[str] = []
    sched.check(spoken.append)
    assert intent("snooze it for 5 minutes") == "Okay, I'll remind you again in 5 minutes."
    clock.advance(minutes=4)
    assert sched.check(spoken.append) == 0
    clock.advance(minutes=1)
    assert sched.check(spoken.append) == 1
    assert intent("remind me again in 10 minutes") == "Okay, I'll remind you again in 10 minutes."
    assert [r.due for r in sched.store.pending()] == [at(22, 14, 35)]
    assert intent("Snooze.") == "Okay, I'll remind you again in 10 minutes."  # the configured default


def test_snooze_by_tap_only_right_after_a_reminder(db: Path, clock: Clock) -> None:
    sched = ReminderScheduler(ReminderStore(db), now=clock, snooze_minutes=10, tap_window_s=60)
    sched._started_at = NOW
    assert sched.snooze_last() is None  # nothing was spoken: a tap is just a tap
    RemindersIntent(sched)("remind me in 20 minutes to call Mum")
    clock.advance(minutes=20)
    sched.check(lambda text: None)
    snoozed = sched.snooze_last()
    assert snoozed is not None and snoozed.due == at(22, 14, 30) and snoozed.spoken is None
    assert sched.snooze_last() is None  # a second tap is a normal tap again
    sched.tap_window_s = 0.0
    clock.advance(minutes=10)
    sched.check(lambda text: None)
    assert sched.snooze_last() is None  # too late: the window has passed


def test_a_full_disk_is_said_and_nothing_half_saved(db: Path, clock: Clock) -> None:
    """SQLite's own 'database or disk is full' (the page limit reached): the owner hears it, the
    conversation goes on, and the reminders saved before are all still there."""
    sched = scheduler(db, clock)
    intent = RemindersIntent(sched)
    assert intent("Remind me in 20 minutes to call Mum.").startswith("Okay")  # type: ignore[union-attr]
    pages = sched.store._db.execute("PRAGMA page_count").fetchone()[0]
    sched.store._db.execute(f"PRAGMA max_page_count = {pages}")
    long_task = "take " + "the very long list of things " * 400
    reply = intent(f"Remind me in 30 minutes to {long_task}")
    assert reply == "I couldn't save that reminder: my storage is full."
    assert [r.text for r in sched.store.pending()] == ["call Mum"]
