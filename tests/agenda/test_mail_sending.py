"""Sending by voice against real servers on loopback: the reply goes out through aiosmtpd (implicit
TLS with a pinned self-signed certificate, AUTH required), the mail it answers comes from Dovecot.
Nothing is sent before the read-back is answered yes."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from device.app.agenda import build_contacts
from device.config.schema import ContactsConfig
from device.evals.dovecot import DovecotServer
from device.evals.radicale import RadicaleServer, free_port, self_signed
from device.intents.letters import Letter
from device.intents.mail import NO_SENDING, MailIntent, Sender
from device.mail.cache import MailCache
from device.mail.carddav import CardDavBook
from device.mail.contacts import ContactBook
from device.mail.imap import Inbox
from device.mail.mailbox import Mailbox
from device.mail.send import Outbox
from tests.agenda.test_contacts_carddav import _Phone
from tests.agenda.test_mail_by_voice import _deliver, _mail


class _Catch:
    def __init__(self) -> None:
        self.got: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.got.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


class _Auth:
    def __call__(self, _server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"sam", b"river-house")
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[Controller, _Catch, Path]]:
    cert, key = self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    catch = _Catch()
    ctl = Controller(
        catch,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=ctx,
        authenticator=_Auth(),
        auth_required=True,
        auth_require_tls=False,  # the whole session is TLS (implicit), which aiosmtpd does not count
    )
    ctl.start()
    try:
        yield ctl, catch, cert
    finally:
        ctl.stop()


@pytest.fixture
def imap() -> Iterator[DovecotServer]:
    with DovecotServer() as srv:
        yield srv


def _intent(
    imap: DovecotServer, smtp: tuple[Controller, _Catch, Path], tmp_path: Path, **kw: Any
) -> MailIntent:
    ctl, _catch, cert = smtp
    box = Mailbox(
        Inbox("127.0.0.1", imap.port, imap.user, imap.password, str(imap.cert)), MailCache(tmp_path / "m.db")
    )
    box.sync()
    outbox = Outbox("127.0.0.1", ctl.port, "sam", kw.pop("password", "river-house"), "tls", str(cert))
    return MailIntent(box, Sender(outbox.send, "sam@example.org"), **kw)


def test_a_reply_is_read_back_and_sent_only_on_yes(imap: DovecotServer, smtp: Any, tmp_path: Path) -> None:
    anna = _mail("Anna Lind <anna@example.org>", "Lunch on Friday", "Shall we meet at one?")
    anna["Message-ID"] = "<lunch-1@example.org>"
    _deliver(imap, anna.as_bytes())
    ask = _intent(imap, smtp, tmp_path)
    assert (
        ask("Read me the one from Anna.") == "Anna Lind wrote, about Lunch on Friday: Shall we meet at one?"
    )
    assert ask("Reply: Friday works for me, see you at one.") == (
        'Reply to Anna Lind, about Lunch on Friday: "Friday works for me, see you at one" Shall I send it?'
    )
    assert smtp[1].got == []
    assert ask("No.") == "Okay, I haven't sent it."
    assert smtp[1].got == []
    ask("Reply: Friday works for me.")
    assert (
        ask("Change it to: Saturday works better.") == 'Now it says: "Saturday works better" Shall I send it?'
    )
    assert ask("Also say: I'll bring the cake.") == (
        'Now it says: "Saturday works better. I\'ll bring the cake" Shall I send it?'
    )
    assert smtp[1].got == []
    assert ask("Send it.") == "Sent to Anna Lind."
    [(sender, to, raw)] = smtp[1].got
    sent = message_from_bytes(raw)
    assert (sender, to) == ("sam@example.org", ["anna@example.org"])
    assert sent["Subject"] == "Re: Lunch on Friday" and sent["In-Reply-To"] == "<lunch-1@example.org>"
    assert sent.get_payload().strip() == "Saturday works better. I'll bring the cake"


def test_a_letter_is_mailed_to_the_address_in_the_contacts(
    imap: DovecotServer, smtp: Any, tmp_path: Path
) -> None:
    (tmp_path / "contacts.vcf").write_text(
        "BEGIN:VCARD\nVERSION:3.0\nFN:Anna Lind\nEMAIL:anna@example.org\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Bob Marsh\nEMAIL:bob@example.org\nEND:VCARD\n"
    )
    letter = Letter(
        "Anna", "the garden", ["The roses are out.", "Come and see them."], date(2026, 12, 2), "Sam"
    )
    ask = _intent(
        imap,
        smtp,
        tmp_path,
        contacts=build_contacts(ContactsConfig(), tmp_path).contacts,
        latest_letter=lambda _who: letter,
    )
    assert ask("Send the letter to Anna by email.") == (
        "Send the letter to Anna to anna at example dot org? Say yes to send it."
    )
    assert ask("Yes.") == "Sent to Anna Lind."
    [(_s, to, raw)] = smtp[1].got
    assert to == ["anna@example.org"]
    assert "The roses are out. Come and see them." in message_from_bytes(raw).get_payload()
    (tmp_path / "contacts.vcf").write_text("BEGIN:VCARD\nthis is not a card\n")
    broken = ask("Send the letter to Anna by email.")
    assert broken is not None and broken.startswith("I can't read your contacts"), broken


def test_a_letter_goes_to_the_address_on_the_carddav_server_even_once_it_is_down(
    imap: DovecotServer, smtp: Any, tmp_path: Path
) -> None:
    letter = Letter("Bob", "the bikes", ["The chain is fixed."], date(2026, 12, 2), "Sam")
    with RadicaleServer(tmp_path / "radicale") as dav:
        phone = _Phone(dav)
        phone.put(phone.book("contacts"), "bob", "Bob Marsh", "bob@work.example")
        book = ContactBook(
            tmp_path / "contacts.vcf",
            tmp_path / "contacts-carddav.vcf",
            CardDavBook(dav.url, dav.user, dav.password, str(dav.cert)),
        )
        book.sync()
    ask = _intent(imap, smtp, tmp_path, contacts=book.contacts, latest_letter=lambda _who: letter)
    assert ask("Send the letter to Bob by email.") == (
        "Send the letter to Bob to bob at work dot example? Say yes to send it."
    )
    assert ask("Yes.") == "Sent to Bob Marsh."
    assert [to for _s, to, _raw in smtp[1].got] == [["bob@work.example"]]


def test_a_refused_password_or_no_smtp_sends_nothing_and_says_so(
    imap: DovecotServer, smtp: Any, tmp_path: Path
) -> None:
    _deliver(imap, _mail("Anna <anna@example.org>", "Hi", "Hello.").as_bytes())
    ask = _intent(imap, smtp, tmp_path, password="not-it")
    ask("Read me the one from Anna.")
    ask("Reply: Hello to you too.")
    assert ask("Yes.") == "Your mail server refused my password, so I didn't send it."
    assert smtp[1].got == []
    box = Mailbox(
        Inbox("127.0.0.1", imap.port, imap.user, imap.password, str(imap.cert)), MailCache(tmp_path / "n.db")
    )
    assert MailIntent(box)("Reply: Hello.") == NO_SENDING
