"""Where the owner's calendar lives: their CalDAV server (`caldav`), or an ICS file on the board.
Both hand out calendar objects with a version (the server's ETag, or a hash for the file), and a
change is made against the version it was read at: if it moved since, AgendaConflict, and nothing
is overwritten."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import icalendar

from device.agenda.cache import CalendarObject
from device.agenda.events import AgendaError, parse
from device.atomic import write_text_atomic

log = logging.getLogger("os1.calendar")


class AgendaUnreachable(AgendaError):
    """The server did not answer (down, no network): the cache answers meanwhile."""


class AgendaAuthError(AgendaError):
    """The server refused the username or password."""


class AgendaConflict(AgendaError):
    """The event changed elsewhere since it was read: nothing was overwritten."""


class CalendarSource(Protocol):
    name: str

    def fetch(self) -> Iterator[CalendarObject]: ...

    def create(self, uid: str, ics: str) -> CalendarObject: ...

    def update(self, obj: CalendarObject, ics: str) -> CalendarObject: ...

    def delete(self, obj: CalendarObject) -> None: ...


def _version(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class LocalCalendar:
    """An ICS file in the state dir (written atomically, 0600); each event is one object, by UID."""

    name = "your calendar file"

    def __init__(self, path: Path):
        self.path = Path(path)

    def _read(self) -> icalendar.Calendar:
        if not self.path.exists():
            cal = icalendar.Calendar()
            cal.add("prodid", "-//OS1//calendar by voice//EN")
            cal.add("version", "2.0")
            return cal
        return parse(self.path.read_text(encoding="utf-8", errors="replace"), str(self.path))

    def fetch(self) -> Iterator[CalendarObject]:
        cal = self._read()
        zones = [c for c in cal.subcomponents if c.name == "VTIMEZONE"]
        by_uid: dict[str, icalendar.Calendar] = {}
        for ev in cal.walk("VEVENT"):
            uid = str(ev.get("UID", ""))
            one = by_uid.setdefault(uid, _shell(zones))
            one.add_component(ev)  # a recurring event's exceptions share its UID, and its object
        for uid, one in by_uid.items():
            text = one.to_ical().decode()
            yield CalendarObject(uid, _version(text), text)

    def _write(self, objects: dict[str, str]) -> None:
        cal = _shell([])
        seen_zones: set[str] = set()
        for text in objects.values():
            for comp in parse(text).subcomponents:
                if comp.name == "VTIMEZONE":
                    if str(comp.get("TZID")) in seen_zones:
                        continue
                    seen_zones.add(str(comp.get("TZID")))
                cal.add_component(comp)
        write_text_atomic(self.path, cal.to_ical().decode(), mode=0o600)

    def _current(self) -> dict[str, CalendarObject]:
        return {o.href: o for o in self.fetch()}

    def create(self, uid: str, ics: str) -> CalendarObject:
        current = self._current()
        self._write({**{h: o.ics for h, o in current.items()}, uid: ics})
        return CalendarObject(uid, _version(ics), ics)

    def update(self, obj: CalendarObject, ics: str) -> CalendarObject:
        current = self._current()
        now = current.get(obj.href)
        if now is None or now.etag != obj.etag:
            raise AgendaConflict(f"{self.path}: that event changed since I read it")
        self._write({**{h: o.ics for h, o in current.items()}, obj.href: ics})
        return CalendarObject(obj.href, _version(ics), ics)

    def delete(self, obj: CalendarObject) -> None:
        current = self._current()
        now = current.get(obj.href)
        if now is None or now.etag != obj.etag:
            raise AgendaConflict(f"{self.path}: that event changed since I read it")
        self._write({h: o.ics for h, o in current.items() if h != obj.href})


def _shell(zones: list[icalendar.cal.Component]) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//OS1//calendar by voice//EN")
    cal.add("version", "2.0")
    for zone in zones:
        cal.add_component(zone)
    return cal


def check_url(url: str) -> None:
    """TLS to anything but this board itself: the password goes with every request."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise AgendaError(f"calendar.url {url!r} is not a web address; fix: e.g. https://dav.example.org/")
    loopback = host == "localhost" or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)
    if parts.scheme == "http" and not loopback:
        raise AgendaError(
            f"calendar.url {url!r} is not https; fix: use https:// (the password would go in clear)"
        )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class CalDavCalendar:
    """Every calendar of the owner's CalDAV account (or the one at `url`, if it is a calendar), the
    certificate verified against the system's CAs or the pinned `ca_file`."""

    name = "your calendar"

    def __init__(self, url: str, username: str, password: str, ca_file: str = "", timeout_s: float = 10.0):
        check_url(url)
        self.url, self.username, self._password = url, username, password
        self.verify: bool | str = ca_file or True
        self.timeout_s = timeout_s

    def _client(self):  # noqa: ANN202 (a caldav.DAVClient)
        import caldav

        return caldav.DAVClient(
            url=self.url,
            username=self.username,
            password=self._password,
            ssl_verify_cert=self.verify,
            timeout=self.timeout_s,
        )

    def _calendars(self, client) -> list:  # noqa: ANN001
        principal = client.principal()
        calendars = principal.calendars()
        if not calendars:
            calendars = [principal.make_calendar(name="OS1")]  # a new account: somewhere to write
        return calendars

    def _call(self, what: str, fn):  # noqa: ANN001, ANN202
        from caldav.lib import error

        try:
            return fn()
        except error.AuthorizationError:
            raise AgendaAuthError(
                f"{self.url}: the calendar server refused the username or password; "
                "fix: os1 config secret calendar_password"
            ) from None
        except (error.ETagMismatchError, error.ScheduleTagMismatchError):
            raise AgendaConflict("that event changed on your calendar since I read it") from None
        except AgendaError:
            raise
        except Exception as e:  # noqa: BLE001 (niquests, ssl and DAV errors all mean: not reachable now)
            first = (str(e).splitlines() or [type(e).__name__])[0][:160]
            raise AgendaUnreachable(f"{self.url}: cannot {what} ({first})") from None

    def fetch(self) -> Iterator[CalendarObject]:
        def everything() -> list[CalendarObject]:
            client = self._client()
            out = []
            for cal in self._calendars(client):
                for ev in cal.get_events():
                    out.append(CalendarObject(str(ev.url), str(ev.etag or ""), ev.data))
            return out

        yield from self._call("sync the calendar", everything)

    def create(self, uid: str, ics: str) -> CalendarObject:
        def put() -> CalendarObject:
            cal = self._calendars(self._client())[0]
            ev = cal.save_event(ics)
            return CalendarObject(str(ev.url), str(ev.etag or ""), ev.data)

        return self._call("add to the calendar", put)

    def _load(self, client, obj: CalendarObject):  # noqa: ANN001, ANN202
        import caldav

        calendar = client.calendar(url=obj.href.rsplit("/", 1)[0] + "/")  # the object's own collection
        ev = caldav.Event(client=client, url=obj.href, parent=calendar)
        ev.load()
        if obj.etag and ev.etag and ev.etag != obj.etag:
            raise AgendaConflict("that event changed on your calendar since I read it")
        return ev

    def update(self, obj: CalendarObject, ics: str) -> CalendarObject:
        def put() -> CalendarObject:
            ev = self._load(self._client(), obj)
            ev.data = ics
            ev.save()  # If-Match: the ETag it was loaded at
            return CalendarObject(obj.href, str(ev.etag or ""), ev.data)

        return self._call("change the calendar", put)

    def delete(self, obj: CalendarObject) -> None:
        def remove() -> None:
            self._load(self._client(), obj).delete(if_match=True)

        self._call("change the calendar", remove)
