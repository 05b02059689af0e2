"""The owner's inbox against a real IMAP server: Dovecot (Debian's dovecot-imapd) on loopback over
implicit TLS with a pinned self-signed certificate (device/evals/dovecot.py). Mails are delivered
with IMAP APPEND, as the owner's mail server would file them: plain, HTML, an attachment, an
unusual charset, 10 MB; the board syncs them into its copy and the mail intent says them."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient

from device.evals.dovecot import DovecotServer
from device.intents.mail import UNREACHABLE, MailIntent
from device.mail.cache import MailCache
from device.mail.imap import Inbox, MailAuthError, MailUnreachable
from device.mail.mailbox import Mailbox
from device.mail.message import Mail
from tests.conftest import run_os1


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DovecotServer]:
    with DovecotServer() as srv:
        yield srv


def _deliver(srv: DovecotServer, *mails: bytes, seen: bool = False) -> None:
    ctx = ssl.create_default_context(cafile=str(srv.cert))
    with IMAPClient("127.0.0.1", port=srv.port, ssl=True, ssl_context=ctx) as c:
        c.login(srv.user, srv.password)
        for raw in mails:
            c.append("INBOX", raw, flags=[b"\\Seen"] if seen else [])


def _mail(sender: str, subject: str, text: str, html: str = "", charset: str = "utf-8") -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, "sam@example.org", subject
    m["Date"] = "Wed, 02 Dec 2026 08:00:00 +0000"
    m.set_content(text, charset=charset)
    if html:
        m.add_alternative(html, subtype="html")
    return m


def _board(srv: DovecotServer, tmp_path: Path, password: str | None = None) -> Mailbox:
    inbox = Inbox("127.0.0.1", srv.port, srv.user, password or srv.password, ca_file=str(srv.cert))
    return Mailbox(inbox, MailCache(tmp_path / "state" / "mail.db"))


def test_new_mail_is_summarised_and_one_is_read_as_plain_words(server: DovecotServer, tmp_path: Path) -> None:
    anna = _mail(
        "Anna Lind <anna@example.org>", "Lunch on Friday", "Shall we meet at the café at one? I'll book."
    )
    html_only = EmailMessage()
    html_only["From"], html_only["Subject"] = "Bob <bob@example.org>", "The garden"
    html_only.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>The <b>roses</b> are out.</p>"
        "<script>track()</script><blockquote>&gt; old news</blockquote></body></html>",
        subtype="html",
    )
    russian = _mail("Olga <olga@example.org>", "Привет", "Привет, как дела?", charset="koi8-r")
    with_file = _mail("Carol <carol@example.org>", "Menu", "Here is the menu.")
    with_file.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="menu.pdf")
    old = _mail("Dan <dan@example.org>", "Old news", "Seen already.")
    _deliver(server, *(m.as_bytes() for m in (anna, html_only, russian, with_file)))
    _deliver(server, old.as_bytes(), seen=True)

    box = _board(server, tmp_path)
    assert box.sync() == 5
    ask = MailIntent(box)
    said = ask("Any new email?")
    assert said is not None and said.startswith("You have 4 new emails: from"), said
    assert 'from Anna Lind, about Lunch on Friday: "Shall we meet at the café at one? I\'ll book."' in said
    assert "Dan" not in said  # already seen on another device
    assert ask("Read me the one from Bob.") == "Bob wrote, about The garden: The roses are out."
    assert ask("Read me the one from Olga.") == "Olga wrote, about Привет: Привет, как дела?"
    assert ask("Read me the email from Carol.") == (
        "Carol wrote, about Menu: Here is the menu. It has 1 attachment, which I can't read out: menu.pdf."
    )
    assert ask("Read me the one from Zed.") == "I can't find an email from zed."
    # Looking marks nothing read on the server.
    ctx = ssl.create_default_context(cafile=str(server.cert))
    with IMAPClient("127.0.0.1", port=server.port, ssl=True, ssl_context=ctx) as c:
        c.login(server.user, server.password)
        c.select_folder("INBOX", readonly=True)
        assert len(c.search(["UNSEEN"])) == 4


def test_a_10_mb_mail_is_read_by_its_start(server: DovecotServer, tmp_path: Path) -> None:
    big = _mail("Eve <eve@example.org>", "Photos", "The photos from the weekend.")
    big.add_attachment(b"\xff" * (10 * 1024 * 1024), maintype="image", subtype="jpeg", filename="beach.jpg")
    _deliver(server, big.as_bytes())
    box = _board(server, tmp_path)
    assert box.sync() == 1
    said = MailIntent(box)("Read me the one from Eve.")
    assert said == (
        "Eve wrote, about Photos: The photos from the weekend. "
        "It has 1 attachment, which I can't read out: beach.jpg."
    )
    assert (tmp_path / "state" / "mail.db").stat().st_size < 1024 * 1024  # the photo stays on the server


def test_a_long_mail_is_read_by_its_first_lines_never_summarised_by_the_llm(
    server: DovecotServer, tmp_path: Path
) -> None:
    words = " ".join(f"word{i}" for i in range(300))
    _deliver(server, _mail("Fay <fay@example.org>", "Minutes", words).as_bytes())
    box = _board(server, tmp_path)
    box.sync()
    said = MailIntent(box)("Read me the one from Fay.")
    assert said is not None and "word79…" in said and "word80" not in said
    assert said.endswith("That's the start; the rest is on your phone.")


def test_a_server_that_is_down_gets_the_copy_and_a_wrong_password_is_one_line(
    server: DovecotServer, tmp_path: Path
) -> None:
    _deliver(server, _mail("Anna <anna@example.org>", "Hello", "Hi there.").as_bytes())
    box = _board(server, tmp_path)
    box.sync()
    with pytest.raises(MailAuthError, match="os1 config secret mail_password"):
        _board(server, tmp_path / "other", password="wrong").sync()
    config = tmp_path / "mail.yaml"
    config.write_text(
        f"mail:\n  source: imap\n  imap_host: 127.0.0.1\n  imap_port: {server.port}\n"
        f"  username: {server.user}\n  ca_file: {server.cert}\npersona:\n  onboarding: false\n"
    )
    doctor = run_os1("--config", str(config), "doctor", env={"OS1_MAIL_PASSWORD": "not-the-pass-77"})
    line = next(x for x in doctor.stdout.splitlines() if " mail" in x)
    assert (
        line.startswith("FAIL mail:") and "os1 config secret mail_password" in line and "wrong" not in line
    ), line
    server.kill()
    with pytest.raises(MailUnreachable):
        box.sync()
    assert MailIntent(box)("Do I have any new mail?") == (
        f'{UNREACHABLE}, but from what I had: You have 1 new email: from Anna, about Hello: "Hi there.".'
    )


def test_a_sync_cut_off_halfway_leaves_the_last_good_copy(tmp_path: Path) -> None:
    cache = MailCache(tmp_path / "mail.db")
    cache.replace_all([Mail(1, "Anna", "a@x", "Hi", 1.0, "Hello.")])

    def dropped() -> Iterator[Mail]:
        yield Mail(2, "Bob", "b@x", "Yo", 2.0, "Hey.")
        raise MailUnreachable("connection reset")

    with pytest.raises(MailUnreachable):
        cache.replace_all(dropped())
    assert [m.sender for m in cache.newest_first()] == ["Anna"]
