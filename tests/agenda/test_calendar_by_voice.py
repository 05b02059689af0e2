"""The owner's calendar against a real CalDAV server: Radicale on loopback over TLS with a pinned
self-signed certificate (tests/servers.py). Events are put on the server as the owner's phone would
(recurring with an exception, all-day, another time zone, across the change to summer time), the
board syncs them into its cache, and the calendar intent answers and changes them as the voice
would. The clock is fixed (a Wednesday in Europe/London), so the days are known."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import caldav
import pytest

from device.agenda.agenda import Agenda
from device.agenda.cache import AgendaCache, CalendarObject
from device.agenda.sources import AgendaAuthError, AgendaUnreachable, CalDavCalendar, LocalCalendar
from device.intents.calendar import CONFLICT, UNREACHABLE, CalendarIntent
from tests.conftest import run_os1
from tests.servers import RadicaleServer

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=LONDON)  # a Wednesday

WEEKLY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//phone//EN
BEGIN:VEVENT
UID:yoga@phone
DTSTAMP:20261101T120000Z
DTSTART;TZID=Europe/London:20261105T180000
DTEND;TZID=Europe/London:20261105T190000
RRULE:FREQ=WEEKLY;BYDAY=TH
EXDATE;TZID=Europe/London:20261210T180000
SUMMARY:Yoga
END:VEVENT
BEGIN:VEVENT
UID:yoga@phone
DTSTAMP:20261101T120000Z
RECURRENCE-ID;TZID=Europe/London:20261217T180000
DTSTART;TZID=Europe/London:20261217T193000
DTEND;TZID=Europe/London:20261217T203000
SUMMARY:Yoga
END:VEVENT
END:VCALENDAR
"""
ALL_DAY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//phone//EN
BEGIN:VEVENT
UID:birthday@phone
DTSTAMP:20261101T120000Z
DTSTART;VALUE=DATE:20261204
DTEND;VALUE=DATE:20261205
SUMMARY:Anna's birthday
END:VEVENT
END:VCALENDAR
"""
NEW_YORK = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//phone//EN
BEGIN:VEVENT
UID:call@phone
DTSTAMP:20261101T120000Z
DTSTART;TZID=America/New_York:20261203T100000
DTEND;TZID=America/New_York:20261203T103000
SUMMARY:Call with Bob
END:VEVENT
END:VCALENDAR
"""
DENTIST = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//phone//EN
BEGIN:VEVENT
UID:dentist@phone
DTSTAMP:20261101T120000Z
DTSTART;TZID=Europe/London:20270329T093000
DTEND;TZID=Europe/London:20270329T100000
SUMMARY:Dentist
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RadicaleServer]:
    with RadicaleServer(tmp_path / "radicale") as srv:
        yield srv


def _phone(srv: RadicaleServer) -> caldav.Calendar:
    """The owner's phone: another client of the same account, with its own calendar on it."""
    client = caldav.DAVClient(
        url=srv.url, username=srv.user, password=srv.password, ssl_verify_cert=str(srv.cert)
    )
    principal = client.principal()
    found = principal.calendars()
    return found[0] if found else principal.make_calendar(name="Personal")


def _board(srv: RadicaleServer, tmp_path: Path, password: str | None = None) -> Agenda:
    source = CalDavCalendar(srv.url, srv.user, password or srv.password, ca_file=str(srv.cert))
    return Agenda(source, AgendaCache(tmp_path / "state" / "calendar.db"), now=lambda: NOW)


def test_a_day_is_read_right_across_recurrence_time_zones_all_day_and_summer_time(
    server: RadicaleServer, tmp_path: Path
) -> None:
    phone = _phone(server)
    for ics in (WEEKLY, ALL_DAY, NEW_YORK, DENTIST):
        phone.save_event(ics)
    agenda = _board(server, tmp_path)
    assert agenda.sync() == 4
    ask = CalendarIntent(agenda)
    # New York's 10 am is 3 pm in London.
    assert ask("What's on tomorrow?") == (
        "You have 2 things tomorrow: Call with Bob at 3 o'clock in the afternoon and "
        "Yoga at 6 o'clock in the evening."
    )
    assert ask("What's on Friday?") == "You have 1 thing on Friday: Anna's birthday, all day."
    assert ask("Am I free on Friday?") == "Yes, you're free on Friday."  # a birthday is not busy
    week = ask("What's on this week?")
    assert week is not None and "Yoga" in week
    # The 10th is taken out of the series, and the 17th moved to half past seven.
    assert "Yoga" not in str(ask("What's on the 10th of December?"))
    assert ask("What's on the 17th of December?") == (
        "You have 1 thing on Thursday, the 17th of December: Yoga at 7:30 in the evening."
    )
    # After the change to summer time (28 March 2027) 9:30 is still 9:30 on the owner's clock.
    assert (
        ask("When is my dentist appointment?")
        == "Dentist is on Monday, the 29th of March, at 9:30 in the morning."
    )
    assert (
        ask("Am I free Thursday evening?")
        == "No, tomorrow in the evening you have Yoga at 6 o'clock in the evening."
    )


def test_an_event_added_by_voice_is_read_back_confirmed_and_on_the_server(
    server: RadicaleServer, tmp_path: Path
) -> None:
    agenda = _board(server, tmp_path)
    agenda.sync()
    ask = CalendarIntent(agenda)
    assert ask("Add lunch with Anna on Friday at one.") == (
        "Add lunch with Anna on Friday at 1 o'clock in the afternoon? Say yes to add it."
    ).replace("Add lunch", "Add Lunch")
    assert not _phone(server).get_events(), "nothing is written before the yes"
    assert ask("Yes.") == "Done: Lunch with Anna is in your calendar."
    on_server = [e.icalendar_component for e in _phone(server).get_events()]
    assert [str(c["SUMMARY"]) for c in on_server] == ["Lunch with Anna"]
    start = on_server[0].decoded("DTSTART")
    assert start == datetime(2026, 12, 4, 13, 0, tzinfo=LONDON)
    assert (
        ask("Move it to two.")
        == "Move Lunch with Anna to Friday at 2 o'clock in the afternoon? Say yes to move it."
    )
    assert ask("yes") == "Done: Lunch with Anna is now on Friday at 2 o'clock in the afternoon."
    moved = _phone(server).get_events()[0].icalendar_component.decoded("DTSTART")
    assert moved == datetime(2026, 12, 4, 14, 0, tzinfo=LONDON)
    assert ask(
        "Cancel my lunch with Anna.",
    ).startswith("Cancel Lunch with Anna on Friday")  # type: ignore[union-attr]
    assert ask("No.") == "Okay, it stays."
    assert len(_phone(server).get_events()) == 1
    ask("Cancel my lunch with Anna.")
    assert ask("Yes please.") == "Done: Lunch with Anna is cancelled."
    assert not _phone(server).get_events()


def test_an_edit_made_elsewhere_since_the_sync_is_never_overwritten(
    server: RadicaleServer, tmp_path: Path
) -> None:
    phone = _phone(server)
    phone.save_event(NEW_YORK)
    agenda = _board(server, tmp_path)
    agenda.sync()
    ask = CalendarIntent(agenda)
    assert ask("When is my call with Bob?") is not None
    # The phone renames it after the board's sync.
    ev = phone.get_events()[0]
    ev.icalendar_component["SUMMARY"] = "Call with Bob and Carol"
    ev.save()
    ask("Move it to four.")
    assert ask("Yes.") == CONFLICT
    kept = phone.get_events()[0].icalendar_component
    assert str(kept["SUMMARY"]) == "Call with Bob and Carol"
    assert kept.decoded("DTSTART").astimezone(LONDON).hour == 15  # not moved


def test_a_server_that_is_down_gets_the_cached_answer_and_changes_nothing(
    server: RadicaleServer, tmp_path: Path
) -> None:
    _phone(server).save_event(NEW_YORK)
    agenda = _board(server, tmp_path)
    agenda.sync()
    server.kill()
    with pytest.raises(AgendaUnreachable):
        agenda.sync()
    ask = CalendarIntent(agenda)
    assert ask("What's on tomorrow?") == (
        f"{UNREACHABLE}, but from what I had: You have 1 thing tomorrow: "
        "Call with Bob at 3 o'clock in the afternoon."
    )
    ask("Add lunch with Anna on Friday at one.")
    assert ask("Yes.") == f"{UNREACHABLE}, so I didn't change anything. Try again in a while."
    assert len(agenda.cache.objects()) == 1


def test_a_wrong_password_is_one_line_naming_the_fix(server: RadicaleServer, tmp_path: Path) -> None:
    agenda = _board(server, tmp_path, password="wrong")
    with pytest.raises(AgendaAuthError, match="os1 config secret calendar_password"):
        agenda.sync()
    config = tmp_path / "cal.yaml"
    config.write_text(
        f"calendar:\n  source: caldav\n  url: {server.url}\n  username: {server.user}\n"
        f"  ca_file: {server.cert}\n"
    )
    r = run_os1("--config", str(config), "calendar", "sync", env={"OS1_CALENDAR_PASSWORD": "wrong"})
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "refused the username or password" in r.stderr and "wrong" not in r.stderr
    doctor = run_os1("--config", str(config), "doctor", env={"OS1_CALENDAR_PASSWORD": "wrong"})
    line = next(x for x in doctor.stdout.splitlines() if "calendar" in x)
    assert line.startswith("FAIL calendar:") and "os1 config secret calendar_password" in line, line
    r = run_os1("--config", str(config), "calendar", "sync", env={"OS1_CALENDAR_PASSWORD": server.password})
    assert r.returncode == 0 and r.stdout.startswith("synced 0 calendar objects"), (r.stdout, r.stderr)


def test_a_sync_cut_off_halfway_leaves_the_last_good_copy(tmp_path: Path) -> None:
    cache = AgendaCache(tmp_path / "calendar.db")
    cache.replace_all([CalendarObject("a", "1", ALL_DAY), CalendarObject("b", "1", NEW_YORK)])

    def dropped_connection() -> Iterator[CalendarObject]:
        yield CalendarObject("c", "1", WEEKLY)
        raise AgendaUnreachable("connection reset halfway")

    with pytest.raises(AgendaUnreachable):
        cache.replace_all(dropped_connection())
    assert [o.href for o in cache.objects()] == ["a", "b"]


def test_the_local_calendar_file_keeps_events_and_a_malformed_one_is_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    # `os1 calendar show tomorrow` below reads the real clock, so this test's "tomorrow" must be real too.
    today = datetime.now(LONDON).replace(hour=9, minute=0, second=0, microsecond=0)
    agenda = Agenda(
        LocalCalendar(state / "calendar.ics"), AgendaCache(state / "calendar.db"), now=lambda: today
    )
    ask = CalendarIntent(agenda)
    ask("Add dinner with Sam tomorrow at 7 pm.")
    assert ask("yes") == "Done: Dinner with Sam is in your calendar."
    assert (state / "calendar.ics").stat().st_mode & 0o777 == 0o600
    agenda.sync()
    assert (
        ask("What's on tomorrow?")
        == "You have 1 thing tomorrow: Dinner with Sam at 7 o'clock in the evening."
    )
    (state / "calendar.ics").write_text("BEGIN:VCALENDAR\nthis is not\n")
    config = tmp_path / "cal.yaml"
    config.write_text("calendar:\n  source: local\n")
    r = run_os1("--config", str(config), "calendar", "sync", env={"OS1_STATE_DIR": str(state)})
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "calendar.ics" in r.stderr and "not an iCalendar file" in r.stderr
    r = run_os1("--config", str(config), "calendar", "show", "tomorrow", env={"OS1_STATE_DIR": str(state)})
    assert "Dinner with Sam" in r.stdout, (r.stdout, r.stderr)  # the last good copy answers


def test_a_heads_up_is_said_once_before_an_event(tmp_path: Path) -> None:
    now = [NOW]
    agenda = Agenda(LocalCalendar(tmp_path / "c.ics"), AgendaCache(tmp_path / "c.db"), now=lambda: now[0])
    agenda.add("Coffee with Ana", NOW + timedelta(minutes=30), NOW + timedelta(minutes=60))
    assert agenda.heads_up(10) == []
    now[0] = NOW + timedelta(minutes=22)
    assert agenda.heads_up(10) == ["In 8 minutes: Coffee with Ana."]
    assert agenda.heads_up(10) == []
