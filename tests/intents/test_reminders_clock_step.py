"""The clock stepping ±1 h under the reminders, as NTP does on a Pi that boots without a real-time
clock (fake-hwclock starts it at the last shutdown, then the network time arrives): every reminder is
spoken once, none twice, none lost, across a restart too. The real store and scheduler on a settable
clock (the scheduler's `now`); the thread's wait is monotonic and does not care."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from device.intents.reminders import ReminderScheduler, ReminderStore
from tests.intents.test_intents_reminders import NOW, Clock


def _spoken(sched: ReminderScheduler, said: list[str]) -> list[str]:
    out: list[str] = []
    sched.check(out.append)
    said += out
    return out


def test_a_step_forward_then_back_speaks_each_reminder_once(tmp_path: Path) -> None:
    clock = Clock(NOW)
    store = ReminderStore(tmp_path / "reminders.db")
    store.add("call Anna", NOW + timedelta(minutes=30), NOW)
    store.add("take the bread out", NOW + timedelta(minutes=90), NOW)
    sched = ReminderScheduler(store, now=clock)
    sched._started_at = NOW  # as start() sets it
    said: list[str] = []
    assert _spoken(sched, said) == []
    clock.advance(hours=1)  # NTP steps forward: the first is due at once
    assert _spoken(sched, said) == ["Reminder: call Anna."]
    assert _spoken(sched, said) == []
    clock.advance(hours=-1)  # and back again: nothing is spoken twice
    assert _spoken(sched, said) == []
    clock.advance(minutes=89)
    assert _spoken(sched, said) == []
    clock.advance(minutes=2)
    assert _spoken(sched, said) == ["Reminder: take the bread out."]
    clock.advance(hours=2)
    assert _spoken(sched, said) == []
    assert said == ["Reminder: call Anna.", "Reminder: take the bread out."]


def test_a_boot_an_hour_behind_then_stepped_forward_loses_nothing_across_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "reminders.db"
    store = ReminderStore(db)
    store.add("water the plants", NOW - timedelta(minutes=10), NOW - timedelta(hours=2))  # due while off
    store.add("call Bob", NOW + timedelta(minutes=20), NOW - timedelta(hours=2))
    store.close()
    clock = Clock(NOW - timedelta(hours=1))  # the board boots with the clock an hour behind
    sched = ReminderScheduler(ReminderStore(db), now=clock)
    sched._started_at = clock()
    said: list[str] = []
    assert _spoken(sched, said) == []  # by the wrong clock nothing is due yet
    clock.advance(hours=1)  # network time arrives
    assert _spoken(sched, said) == ["Reminder: water the plants."]
    sched.store.close()
    clock.advance(minutes=25)  # a restart; the clock is right now
    again = ReminderScheduler(ReminderStore(db), now=clock)
    again._started_at = clock()
    assert _spoken(again, said) == ["While I was off, a reminder came due: call Bob."]
    assert _spoken(again, said) == []
    assert sum("water the plants" in s for s in said) == 1 and sum("call Bob" in s for s in said) == 1
