"""The owner's calendar as the companion uses it: answers come from the cache (offline, quick);
changes go to the source first and then into the cache; a background thread syncs and says a
heads-up before each event through the announce path (which waits for a pause and holds while
muted)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from device.agenda.cache import AgendaCache, CalendarObject
from device.agenda.events import AgendaError, Occurrence, new_event, occurrences, parse_all, with_times
from device.agenda.sources import AgendaUnreachable, CalendarSource
from device.periodic import run_logged

log = logging.getLogger("os1.calendar")

Now = Callable[[], datetime]
HORIZON_DAYS = 400


class Agenda:
    def __init__(self, source: CalendarSource, cache: AgendaCache, now: Now):
        self.source, self.cache, self.now = source, cache, now
        self.last_error: AgendaError | None = None
        """Why the last sync failed (None: it worked), for `os1 doctor` and the spoken caveat."""
        self._told: set[tuple[str, datetime]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Every occurrence from yesterday to a year ahead, expanded once per change of the cache: a
        # question then filters a list (expanding 1,000 events for each one took ~50 ms).
        self._index: tuple[int, datetime, datetime, list[Occurrence]] | None = None

    # ------------------------------------------------------------------ reading (the cache)
    def between(self, start: datetime, end: datetime) -> list[Occurrence]:
        index = self._index
        now = self.now()
        if index is None or index[0] != self.cache.version or now - index[1] > timedelta(days=2):
            lo, hi = now - timedelta(days=1), now + timedelta(days=HORIZON_DAYS)
            version = self.cache.version
            parsed = parse_all(o.ics for o in self.cache.objects())
            index = (version, lo, hi, occurrences(parsed, lo, hi, now.tzinfo))  # type: ignore[arg-type]
            self._index = index
        _, lo, hi, found = index
        if start < lo or end > hi:  # further than the index reaches: expand for this question alone
            return occurrences(parse_all(o.ics for o in self.cache.objects()), start, end, now.tzinfo)  # type: ignore[arg-type]
        return [o for o in found if o.start < end and (o.end > start or o.start >= start)]

    def find(self, words: set[str], days: int = 366) -> list[Occurrence]:
        """Upcoming occurrences whose summary holds every one of `words`, soonest first."""
        now = self.now()
        return [o for o in self.between(now, now + timedelta(days=days)) if words <= _words(o.summary)]

    # ------------------------------------------------------------------ syncing
    def sync(self) -> int:
        """The source's whole calendar into the cache; AgendaError (kept in last_error) if it fails."""
        t0 = time.monotonic()
        try:
            n = self.cache.replace_all(self.source.fetch())
        except AgendaError as e:
            self.last_error = e
            raise
        self.last_error = None
        self.between(self.now(), self.now())  # the index is built here, not in the owner's next question
        log.info("calendar synced: %d objects in %.0f ms", n, (time.monotonic() - t0) * 1000)
        return n

    def start(self, announce: Callable[[str], None], every_s: float, lead_min: int) -> None:
        """Sync every `every_s` and say each event `lead_min` before it starts."""

        def run() -> None:
            next_sync = 0.0
            while not self._stop.is_set():
                if time.monotonic() >= next_sync:
                    run_logged(self.sync, log, "calendar")  # down or a full disk: the heads-ups go on
                    next_sync = time.monotonic() + every_s
                if lead_min > 0:
                    for line in self.heads_up(lead_min):
                        announce(line)
                self._stop.wait(15)

        self._thread = threading.Thread(target=run, name="os1-calendar", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.cache.close()

    def heads_up(self, lead_min: int) -> list[str]:
        """What to say now about events starting within `lead_min` (each once)."""
        now = self.now()
        lines = []
        for o in self.between(now, now + timedelta(minutes=lead_min)):
            if o.all_day or o.start < now or (o.uid, o.start) in self._told:
                continue
            self._told.add((o.uid, o.start))
            minutes = max(1, round((o.start - now).total_seconds() / 60))
            where = f", at {o.location}" if o.location else ""
            lines.append(f"In {minutes} minute{'s' if minutes != 1 else ''}: {o.summary}{where}.")
        return lines

    # ------------------------------------------------------------------ changing (the source first)
    def add(self, summary: str, start: datetime, end: datetime) -> Occurrence:
        uid, ics = new_event(summary, start, end)
        self.cache.put(self.source.create(uid, ics))
        return Occurrence(uid, summary, start, end)

    def _object_of(self, occ: Occurrence) -> CalendarObject:
        for obj in self.cache.objects():
            if f"UID:{occ.uid}" in obj.ics.replace("\r\n ", ""):
                return obj
        raise AgendaError("that event is no longer in your calendar")

    def move(self, occ: Occurrence, start: datetime) -> Occurrence:
        obj = self._object_of(occ)
        end = start + (occ.end - occ.start)
        self.cache.put(self.source.update(obj, with_times(obj.ics, occ.uid, start, end)))
        return Occurrence(occ.uid, occ.summary, start, end, location=occ.location)

    def cancel(self, occ: Occurrence) -> None:
        obj = self._object_of(occ)
        self.source.delete(obj)
        self.cache.remove(obj.href)


def _words(text: str) -> set[str]:
    import re

    return set(re.findall(r"[a-z0-9']+", text.lower()))


__all__ = ["Agenda", "AgendaUnreachable"]
