"""Calendar objects (iCalendar text) to the occurrences in a window: recurring events with their
exceptions, all-day events and time zones, by `icalendar` and `recurring_ical_events`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import icalendar
import recurring_ical_events


class AgendaError(Exception):
    """A calendar problem, in one line that names it and the fix."""


@dataclass(frozen=True)
class Occurrence:
    """One time an event happens, in the owner's zone."""

    uid: str
    """The event's UID (every occurrence of a recurring event shares it)."""
    summary: str
    """What it is: "Lunch with Anna"."""
    start: datetime
    """When it starts (aware; an all-day event starts at midnight)."""
    end: datetime
    """When it ends (aware)."""
    all_day: bool = False
    """A date, not a time: a birthday, a holiday."""
    location: str = ""
    """Where, if the event says."""


def parse(text: str, source: str = "calendar") -> icalendar.Calendar:
    """An iCalendar object; AgendaError naming `source` if it is not one."""
    try:
        cal = icalendar.Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError) as e:
        raise AgendaError(
            f"{source}: not an iCalendar file ({str(e).splitlines()[0][:80]}); fix or remove it"
        ) from None
    if not isinstance(cal, icalendar.Calendar):
        raise AgendaError(f"{source}: not an iCalendar file; fix or remove it")
    return cal


def parse_all(objects: Iterable[str]) -> list[icalendar.Calendar]:
    """Every object that parses, merged into one calendar (expanding one is ~10x quicker than a
    thousand); one that does not parse is skipped (one bad event must not hide the owner's day)."""
    merged = icalendar.Calendar()
    zones: set[str] = set()
    for text in objects:
        try:
            cal = parse(text)
        except AgendaError:
            continue
        for comp in cal.subcomponents:
            if comp.name == "VTIMEZONE":
                if str(comp.get("TZID")) in zones:
                    continue
                zones.add(str(comp.get("TZID")))
            merged.add_component(comp)
    return [merged]


def occurrences(
    calendars: Iterable[icalendar.Calendar], start: datetime, end: datetime, zone: tzinfo
) -> list[Occurrence]:
    """Every occurrence that overlaps [start, end), sorted by start."""
    found: list[Occurrence] = []
    for cal in calendars:
        try:
            events = recurring_ical_events.of(cal).between(start, end)
        except ValueError:
            continue
        for ev in events:
            if ev.name != "VEVENT":
                continue
            found.append(_occurrence(ev, zone))
    return sorted({(o.uid, o.start): o for o in found}.values(), key=lambda o: (o.start, o.summary))


def _occurrence(ev: icalendar.Event, zone: tzinfo) -> Occurrence:
    begin = ev.decoded("DTSTART")
    all_day = isinstance(begin, date) and not isinstance(begin, datetime)
    if "DTEND" in ev:
        finish = ev.decoded("DTEND")
    elif "DURATION" in ev:
        finish = begin + ev.decoded("DURATION")
    else:
        finish = begin + (timedelta(days=1) if all_day else timedelta(0))
    return Occurrence(
        uid=str(ev.get("UID", "")),
        summary=str(ev.get("SUMMARY", "")).strip() or "an event",
        start=_aware(begin, zone),
        end=_aware(finish, zone),
        all_day=all_day,
        location=str(ev.get("LOCATION", "")).strip(),
    )


def _aware(value: date | datetime, zone: tzinfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=zone)
    if value.tzinfo is None:  # a "floating" time: the owner's own clock
        return value.replace(tzinfo=zone)
    return value.astimezone(zone)


def new_event(summary: str, start: datetime, end: datetime, uid: str | None = None) -> tuple[str, str]:
    """(uid, iCalendar text) of a new event, its times in UTC (no VTIMEZONE needed)."""
    uid = uid or f"{uuid.uuid4()}@os1"
    cal = icalendar.Calendar()
    cal.add("prodid", "-//OS1//calendar by voice//EN")
    cal.add("version", "2.0")
    ev = icalendar.Event()
    ev.add("uid", uid)
    ev.add("summary", summary)
    ev.add("dtstart", start.astimezone(UTC))
    ev.add("dtend", end.astimezone(UTC))
    ev.add("dtstamp", datetime.now(UTC))
    cal.add_component(ev)
    return uid, cal.to_ical().decode()


def with_times(text: str, uid: str, start: datetime, end: datetime) -> str:
    """The object `text` with event `uid` moved to [start, end)."""
    cal = parse(text)
    for ev in cal.walk("VEVENT"):
        if str(ev.get("UID", "")) == uid:
            for key in ("DTSTART", "DTEND", "DURATION"):
                ev.pop(key, None)
            ev.add("dtstart", start.astimezone(UTC))
            ev.add("dtend", end.astimezone(UTC))
    return cal.to_ical().decode()
