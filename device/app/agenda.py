"""The owner's calendar from config: the source it names (an ICS file in the state dir, or their
CalDAV server with the password from the secrets file) behind the board's cache."""

from __future__ import annotations

from pathlib import Path

from device.agenda.agenda import Agenda
from device.agenda.cache import AgendaCache
from device.agenda.events import AgendaError
from device.agenda.sources import CalDavCalendar, CalendarSource, LocalCalendar
from device.config import secrets
from device.config.schema import CalendarConfig
from device.intents.clock import Now, system_now


def calendar_source(cfg: CalendarConfig, state_dir: Path) -> CalendarSource | None:
    """None with calendar.source none; AgendaError (one line with the fix) if it is set up wrong."""
    if cfg.source == "none":
        return None
    if cfg.source == "local":
        return LocalCalendar(Path(state_dir) / "calendar.ics")
    if not cfg.url:
        raise AgendaError(
            "calendar.source is caldav but calendar.url is empty; fix: os1 config set calendar.url https://…"
        )
    password = secrets.get("calendar_password")
    if not password:
        raise AgendaError("no calendar password; fix: os1 config secret calendar_password")
    return CalDavCalendar(cfg.url, cfg.username, password, cfg.ca_file)


def build_agenda(cfg: CalendarConfig, state_dir: Path, now: Now = system_now) -> Agenda | None:
    source = calendar_source(cfg, state_dir)
    if source is None:
        return None
    return Agenda(source, AgendaCache(Path(state_dir) / "calendar.db"), now)
