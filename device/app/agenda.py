"""The owner's calendar and inbox from config: the source each names (an ICS file in the state dir,
or their CalDAV server; their IMAP account), with the password from the secrets file, behind the
board's copy."""

from __future__ import annotations

from pathlib import Path

from device.agenda.agenda import Agenda
from device.agenda.cache import AgendaCache
from device.agenda.events import AgendaError
from device.agenda.sources import CalDavCalendar, CalendarSource, LocalCalendar
from device.config import secrets
from device.config.schema import CalendarConfig, ContactsConfig, MailConfig
from device.intents.clock import Now, system_now
from device.intents.mail import Sender
from device.mail.cache import MailCache
from device.mail.carddav import CardDavBook
from device.mail.contacts import ContactBook
from device.mail.imap import Inbox, MailError
from device.mail.mailbox import Mailbox
from device.mail.send import Outbox


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


def build_mailbox(cfg: MailConfig, state_dir: Path) -> Mailbox | None:
    """None with mail.source none; MailError (one line with the fix) if it is set up wrong."""
    if cfg.source == "none":
        return None
    if not cfg.imap_host:
        raise MailError(
            "mail.source is imap but mail.imap_host is empty; fix: os1 config set mail.imap_host …"
        )
    password = secrets.get("mail_password")
    if not password:
        raise MailError("no mail password; fix: os1 config secret mail_password")
    inbox = Inbox(cfg.imap_host, cfg.imap_port, cfg.username, password, cfg.ca_file)
    return Mailbox(inbox, MailCache(Path(state_dir) / "mail.db"), cfg.newest)


def build_sender(cfg: MailConfig) -> Sender | None:
    """What sends mail, or None: no SMTP server or From address set (or no password)."""
    password = secrets.get("mail_password")
    if not (cfg.smtp_host and cfg.from_address and password):
        return None
    outbox = Outbox(cfg.smtp_host, cfg.smtp_port, cfg.username, password, cfg.smtp_security, cfg.ca_file)
    return Sender(outbox.send, cfg.from_address)


def build_contacts(cfg: ContactsConfig, state_dir: Path) -> ContactBook:
    """`contacts.vcf` in the state dir, and with contacts.source carddav the board's copy of the
    owner's address books (`contacts-carddav.vcf`); MailError (one line with the fix) if set up wrong."""
    state = Path(state_dir)
    server = None
    if cfg.source == "carddav":
        if not cfg.url:
            raise MailError(
                "contacts.source is carddav but contacts.url is empty; fix: os1 config set contacts.url https://…"
            )
        password = secrets.get("contacts_password")
        if not password:
            raise MailError("no contacts password; fix: os1 config secret contacts_password")
        server = CardDavBook(cfg.url, cfg.username, password, cfg.ca_file)
    return ContactBook(state / "contacts.vcf", state / "contacts-carddav.vcf", server)
