"""Reminders: set, list, cancel and snooze them by voice; a small thread speaks them when they come due.

Stored in their own SQLite file (WAL, synchronous=FULL) so a reminder set a second before a power cut
is still there after it. Times are stored as UTC epoch seconds and spoken in the system timezone.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from device.intents.clock import Now, say_when, system_now
from device.intents.text import second_person, storage_problem
from device.intents.when import parse_minutes, parse_when, split_time_tail
from device.pipeline.text import plain
from device.sqlite_file import open_sqlite

log = logging.getLogger("os1.reminders")

# How late a reminder may be spoken and still count as on time rather than "while I was off".
MISSED_AFTER_S = 120


@dataclass(frozen=True)
class Reminder:
    id: int
    text: str  # what to do, already in the second person: "call your mum"
    due: datetime
    created: datetime
    spoken: datetime | None = None
    cancelled: bool = False


class ReminderStore:
    """The reminders in `path` (a SQLite file). Thread-safe: the voice thread and the scheduler share it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = open_sqlite(
            self.path,
            "CREATE TABLE IF NOT EXISTS reminders (id INTEGER PRIMARY KEY, text TEXT NOT NULL, "
            "due REAL NOT NULL, created REAL NOT NULL, spoken REAL, cancelled INTEGER NOT NULL DEFAULT 0)",
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(self, where: str, args: tuple[object, ...] = ()) -> list[Reminder]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, text, due, created, spoken, cancelled FROM reminders "
                f"WHERE {where} ORDER BY due, id",
                args,
            ).fetchall()
        return [
            Reminder(i, text, _dt(due), _dt(created), _dt(spoken) if spoken else None, bool(cancelled))
            for i, text, due, created, spoken, cancelled in rows
        ]

    def _write(self, sql: str, args: tuple[object, ...]) -> int:
        with self._lock:
            cur = self._db.execute(sql, args)
            return cur.lastrowid if sql.startswith("INSERT") else cur.rowcount  # type: ignore[return-value]

    def add(self, text: str, due: datetime, created: datetime) -> Reminder:
        rid = self._write(
            "INSERT INTO reminders (text, due, created) VALUES (?, ?, ?)",
            (text, due.timestamp(), created.timestamp()),
        )
        return self.get(rid)  # type: ignore[return-value]

    def get(self, rid: int) -> Reminder | None:
        found = self._rows("id = ?", (rid,))
        return found[0] if found else None

    def pending(self) -> list[Reminder]:
        """Not yet spoken and not cancelled, soonest first."""
        return self._rows("spoken IS NULL AND cancelled = 0")

    def due(self, now: datetime) -> list[Reminder]:
        return self._rows("spoken IS NULL AND cancelled = 0 AND due <= ?", (now.timestamp(),))

    def mark_spoken(self, rid: int, at: datetime) -> None:
        self._write("UPDATE reminders SET spoken = ? WHERE id = ?", (at.timestamp(), rid))

    def reschedule(self, rid: int, due: datetime) -> bool:
        return bool(
            self._write("UPDATE reminders SET due = ?, spoken = NULL WHERE id = ?", (due.timestamp(), rid))
        )

    def cancel(self, rid: int) -> bool:
        return bool(self._write("UPDATE reminders SET cancelled = 1 WHERE id = ? AND cancelled = 0", (rid,)))


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class ReminderScheduler:
    """Speaks reminders when they come due, through `announce` (the loop's: it waits for a pause).

    While `is_muted()` a due reminder stays pending and is spoken once unmuted. A reminder that came due
    while the device was off is spoken at the next start, prefixed "While I was off".
    """

    def __init__(
        self,
        store: ReminderStore,
        now: Now = system_now,
        snooze_minutes: int = 10,
        tap_window_s: float = 60.0,
    ):
        self.store = store
        self.now = now
        self.snooze_minutes = snooze_minutes
        self.tap_window_s = tap_window_s
        self._last: tuple[int, float] | None = None  # (id, time.monotonic()) of the last one spoken
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._started_at: datetime | None = None

    # ---- the API the voice intent and the runner use ----------------------------------------------

    def due(self, now: datetime | None = None) -> list[Reminder]:
        return self.store.due(now or self.now())

    def mark_spoken(self, rid: int) -> None:
        self.store.mark_spoken(rid, self.now())
        self._last = (rid, time.monotonic())

    def snooze(self, rid: int, minutes: int | None = None) -> Reminder | None:
        """Due again `minutes` from now (default: the configured snooze)."""
        due = self.now() + timedelta(minutes=minutes or self.snooze_minutes)
        return self.store.get(rid) if self.store.reschedule(rid, due) else None

    def last_spoken(self, within_s: float | None = None) -> int | None:
        """The id of the reminder spoken last, if it was spoken within `within_s` seconds."""
        if self._last is None:
            return None
        rid, at = self._last
        if within_s is not None and time.monotonic() - at > within_s:
            return None
        return rid

    def snooze_last(self, minutes: int | None = None) -> Reminder | None:
        """For a tap right after a reminder: snooze it. None if no reminder was spoken in the tap window."""
        rid = self.last_spoken(self.tap_window_s)
        if rid is None:
            return None
        self._last = None  # a second tap is a normal tap again
        return self.snooze(rid, minutes)

    # ---- the thread ---------------------------------------------------------------------------------

    def check(self, announce: Callable[[str], None], is_muted: Callable[[], bool] = lambda: False) -> int:
        """Speak what is due now (one pass of the thread). Returns how many were spoken."""
        if is_muted():
            return 0  # keep them pending: marked spoken only once actually handed to the voice
        now = self.now()
        due = self.store.due(now)
        if not due:
            return 0
        started = self._started_at or now
        missed = [r for r in due if r.due <= started - timedelta(seconds=MISSED_AFTER_S)]
        on_time = [r for r in due if r not in missed]
        if missed:
            announce(_while_off(missed))
        for r in on_time:
            announce(f"Reminder: {r.text}.")
        for r in missed + on_time:
            self.mark_spoken(r.id)
        return len(due)

    def start(
        self,
        announce: Callable[[str], None],
        is_muted: Callable[[], bool] = lambda: False,
        interval_s: float = 1.0,
    ) -> None:
        if self._thread is not None:
            return
        self._started_at = self.now()
        self._stop.clear()

        def run() -> None:
            while not self._stop.is_set():
                try:
                    self.check(announce, is_muted)
                except Exception:
                    log.exception("reminder check failed; trying again")
                self._stop.wait(interval_s)

        self._thread = threading.Thread(target=run, name="os1-reminders", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _while_off(missed: list[Reminder]) -> str:
    if len(missed) == 1:
        return f"While I was off, a reminder came due: {missed[0].text}."
    return f"While I was off, {len(missed)} reminders came due: {_and([r.text for r in missed])}."


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ---- the voice side ---------------------------------------------------------------------------------

_POLITE = r"^(?:(?:hey|ok|okay|so|and|please|oh)\s+)*(?:(?:can|could|would|will) you\s+)?(?:please\s+)?"
_CREATE = re.compile(
    _POLITE + r"(?:remind me|set (?:a |me a )?reminder|make a reminder)\b(?P<rest>.*)$", re.I
)
_AGAIN = re.compile(r"^again\b(?P<rest>.*)$", re.I)
_SNOOZE = re.compile(_POLITE + r"snooze\b(?: (?:it|that|this|the reminder))?(?P<rest>.*)$", re.I)
_LIST = re.compile(
    _POLITE + r"(?:(?:what|which) (?:are|is) (?:my|the) reminders?|what reminders do i have|"
    r"(?:tell me|read me|list|read) (?:my|the) reminders|do i have any reminders"
    r"|what(?:'s| is) on my reminders)"
    r"(?: (?:today|now|please|set))*$",
    re.I,
)
_CANCEL = re.compile(
    _POLITE + r"(?:cancel|delete|remove|clear|forget) (?P<all>all (?:of )?)?(?:the |my |that |this )?"
    r"reminders?(?: (?:about|to|for|that) (?P<what>.+))?$",
    re.I,
)
_TASK_LEAD = re.compile(r"^(?:to|that|about)\s+", re.I)
_STOP = {"the", "a", "an", "to", "my", "your", "about", "for", "me", "reminder", "and", "of"}


class RemindersIntent:
    """The spoken side of reminders. Asks "When should I remind you?" if no time was given."""

    def __init__(self, scheduler: ReminderScheduler):
        self.scheduler = scheduler
        self._waiting_for_time: str | None = None  # the task, while the next answer should be a time

    @property
    def now(self) -> Now:
        return self.scheduler.now

    def __call__(self, text: str) -> str | None:
        said = plain(text, lower=False)
        waiting, self._waiting_for_time = self._waiting_for_time, None
        if waiting is not None:
            when = parse_when(said, self.now())
            if when is not None:
                return self._add(waiting, when)
        if m := _SNOOZE.match(said):
            return self._snooze(m["rest"])
        if m := _CREATE.match(said):
            rest = m["rest"].strip()
            if again := _AGAIN.match(rest):
                return self._snooze(again["rest"])
            return self._create(rest)
        if _LIST.match(said):
            return self._list()
        if m := _CANCEL.match(said):
            return self._cancel(bool(m["all"]), m["what"])
        return None

    def claims(self, text: str) -> bool:
        said = plain(text, lower=False)
        if self._waiting_for_time is not None:
            return True
        return any(p.match(said) for p in (_SNOOZE, _CREATE, _LIST, _CANCEL))

    def _create(self, rest: str) -> str:
        now = self.now()
        task, when = _split_task(rest, now)
        if not task:
            return "What should I remind you about?"
        task = second_person(task)
        if when is None:
            self._waiting_for_time = task
            return (
                f"When should I remind you to {task}?"
                if _is_verb_phrase(rest)
                else "When should I remind you?"
            )
        return self._add(task, when)

    def _add(self, task: str, when: datetime) -> str:
        now = self.now()
        try:
            self.scheduler.store.add(task, when, now)
        except (sqlite3.Error, OSError) as e:  # a full disk: say so, and the conversation goes on
            log.error("reminder not saved: %s", e)
            return f"I couldn't save that reminder: {storage_problem(e)}."
        local = when.astimezone(now.tzinfo)
        if local - now < timedelta(seconds=50):
            seconds = max(1, round((local - now).total_seconds()))
            return f"Okay, in {seconds} second{'s' if seconds != 1 else ''} I'll remind you: {task}."
        if local - now < timedelta(hours=1):
            minutes = max(1, round((local - now).total_seconds() / 60))
            return f"Okay, in {minutes} minute{'s' if minutes != 1 else ''} I'll remind you: {task}."
        return f"Okay, I'll remind you {say_when(local, now)}: {task}."

    def _snooze(self, rest: str) -> str:
        rid = self.scheduler.last_spoken(within_s=30 * 60)
        if rid is None:
            return "There's no reminder to snooze just now."
        minutes = parse_minutes(rest) or self.scheduler.snooze_minutes
        self.scheduler.snooze(rid, minutes)
        return f"Okay, I'll remind you again in {minutes} minute{'s' if minutes != 1 else ''}."

    def _list(self) -> str:
        now = self.now()
        pending = self.scheduler.store.pending()
        if not pending:
            return "You have no reminders."
        said = [f"{r.text}, {say_when(r.due.astimezone(now.tzinfo), now)}" for r in pending[:5]]
        more = f", and {len(pending) - 5} more" if len(pending) > 5 else ""
        if len(pending) == 1:
            return f"You have one reminder: {said[0]}."
        return f"You have {len(pending)} reminders: {'; '.join(said)}{more}."

    def _cancel(self, everything: bool, what: str | None) -> str:
        pending = self.scheduler.store.pending()
        if not pending:
            return "You have no reminders to cancel."
        if everything:
            for r in pending:
                self.scheduler.store.cancel(r.id)
            return (
                f"Okay, I've cancelled all {len(pending)} reminders."
                if len(pending) > 1
                else (f"Okay, I've cancelled your reminder to {pending[0].text}.")
            )
        if what:
            wanted = _content_words(second_person(what))
            scored = sorted(((len(wanted & _content_words(r.text)), r) for r in pending), key=lambda s: -s[0])
            if not scored or scored[0][0] == 0:
                return f"I couldn't find a reminder about {second_person(what)}."
            target = scored[0][1]
        else:
            recent = self.scheduler.last_spoken(within_s=30 * 60)
            target = next((r for r in pending if r.id == recent), pending[-1] if len(pending) == 1 else None)  # type: ignore[arg-type]
            if target is None:
                return "Which reminder? You can say, cancel the reminder about, and what it's about."
        self.scheduler.store.cancel(target.id)
        return f"Okay, I've cancelled the reminder to {target.text}."


def _content_words(text: str) -> set[str]:
    return {w for w in plain(text).split() if w not in _STOP}


def _is_verb_phrase(rest: str) -> bool:
    return bool(re.match(r"^to\s", rest, re.I))


def _split_task(rest: str, now: datetime) -> tuple[str, datetime | None]:
    """'in 20 minutes to call Mum' / 'to call Mum at 6' / 'to call Mum' -> (task, when)."""
    words = rest.split()
    if not words:
        return "", None
    if _TASK_LEAD.match(rest):
        # "to call Mum at 6": the time is the longest tail that reads as a time.
        return split_time_tail(_TASK_LEAD.sub("", rest), now)
    # "in 20 minutes to call Mum", "at quarter to seven to call Mum": the time runs up to a "to"/"that".
    for m in re.finditer(r"\s(?:to|that|about)\s", rest, re.I):
        when = parse_when(rest[: m.start()], now)
        if when is not None:
            return rest[m.end() :].strip(), when
    when = parse_when(rest, now)
    return ("", when) if when is not None else (rest, None)
