"""Contacts from the owner's CardDAV server (Radicale on loopback over TLS, the certificate pinned):
the board finds the address books from the account's root, keeps a copy that answers offline, and
says in one line what is wrong with a password or a certificate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import caldav
import pytest

from device.app.agenda import build_contacts
from device.config.schema import ContactsConfig
from device.evals.radicale import RadicaleServer
from device.mail.carddav import CardDavBook
from device.mail.contacts import ContactBook, find
from device.mail.imap import MailAuthError, MailError, MailUnreachable
from tests.conftest import run_os1

_ADDRESS_BOOK = """<?xml version="1.0"?>
<d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop>
<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>
<d:displayname>{name}</d:displayname></d:prop></d:set></d:mkcol>"""


def _card(uid: str, name: str, email: str = "") -> str:
    mail = f"EMAIL;TYPE=INTERNET:{email}\r\n" if email else ""
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\n{mail}END:VCARD\r\n"


class _Phone:
    """The owner's phone: another client of the account, keeping its address books on the server."""

    def __init__(self, srv: RadicaleServer):
        self.srv = srv
        self.client = caldav.DAVClient(
            url=srv.url, username=srv.user, password=srv.password, ssl_verify_cert=str(srv.cert)
        )

    def book(self, name: str) -> str:
        url = f"{self.srv.url}{self.srv.user}/{name}/"
        assert self.client.mkcol(url, _ADDRESS_BOOK.format(name=name)).status == 201
        return url

    def put(self, book: str, uid: str, name: str, email: str = "") -> None:
        r = self.client.put(f"{book}{uid}.vcf", _card(uid, name, email), {"Content-Type": "text/vcard"})
        assert r.status in (201, 204), r.status

    def delete(self, book: str, uid: str) -> None:
        assert self.client.delete(f"{book}{uid}.vcf").status in (200, 204)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RadicaleServer]:
    with RadicaleServer(tmp_path / "radicale") as srv:
        yield srv


def _book(srv: RadicaleServer, tmp_path: Path, url: str = "", password: str = "") -> ContactBook:
    server = CardDavBook(url or srv.url, srv.user, password or srv.password, ca_file=str(srv.cert))
    return ContactBook(tmp_path / "contacts.vcf", tmp_path / "contacts-carddav.vcf", server)


def test_every_address_book_is_found_from_the_account_root_and_the_copy_answers_offline(
    server: RadicaleServer, tmp_path: Path
) -> None:
    phone = _Phone(server)
    family, work = phone.book("family"), phone.book("work")
    phone.put(family, "anna", "Anna Lind", "anna@example.org")
    phone.put(work, "bob", "Bob Marsh", "bob@work.example")
    phone.put(work, "cara", "Cara No-Email")  # no address: not a contact to mail
    for url in (server.url, f"{server.url}{server.user}/", work):  # the root, the principal, one book
        assert len(CardDavBook(url, server.user, server.password, str(server.cert)).fetch()) == (
            2 if url == work else 3
        )
    book = _book(server, tmp_path)
    assert book.sync() == 3
    people = book.contacts()
    assert sorted(c.name for c in people) == ["Anna Lind", "Bob Marsh"]
    assert find(people, "bob").address == "bob@work.example"  # type: ignore[union-attr]
    assert (tmp_path / "contacts-carddav.vcf").stat().st_mode & 0o777 == 0o600

    phone.delete(work, "bob")  # deleted on the phone: gone from the board at the next sync
    phone.put(family, "dan", "Dan Okafor", "dan@example.org")
    assert book.sync() == 3
    assert sorted(c.name for c in book.contacts()) == ["Anna Lind", "Dan Okafor"]

    server.kill()  # offline (or cut off mid-sync): the last good copy stays, nothing doubled
    with pytest.raises(MailUnreachable):
        book.sync()
    assert sorted(c.name for c in book.contacts()) == ["Anna Lind", "Dan Okafor"]


def test_the_file_on_the_board_comes_first_for_a_name_in_both(server: RadicaleServer, tmp_path: Path) -> None:
    phone = _Phone(server)
    phone.put(phone.book("contacts"), "anna", "Anna Lind", "anna@old.example")
    (tmp_path / "contacts.vcf").write_text(_card("a", "Anna Lind", "anna@example.org"))
    book = _book(server, tmp_path)
    book.sync()
    assert [(c.name, c.address) for c in book.contacts()] == [("Anna Lind", "anna@example.org")]


def test_a_wrong_password_or_an_untrusted_certificate_is_one_line_naming_the_fix(
    server: RadicaleServer, tmp_path: Path
) -> None:
    with pytest.raises(MailAuthError, match="os1 config secret contacts_password"):
        _book(server, tmp_path, password="wrong").sync()
    unpinned = CardDavBook(server.url, server.user, server.password)  # the system's CAs: not this one
    with pytest.raises(MailError, match="certificate is not trusted; fix: os1 config set contacts.ca_file"):
        unpinned.fetch()

    state = tmp_path / "state"
    config = tmp_path / "os1.yaml"
    config.write_text(
        f"contacts:\n  source: carddav\n  url: {server.url}\n  username: {server.user}\n"
        f"  ca_file: {server.cert}\n"
    )
    env = {"OS1_STATE_DIR": str(state), "OS1_CONTACTS_PASSWORD": "wrong"}
    r = run_os1("--config", str(config), "contacts", "sync", env=env)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "refused the username or password" in r.stderr and "wrong" not in r.stderr
    doctor = run_os1("--config", str(config), "doctor", env=env)
    line = next(x for x in doctor.stdout.splitlines() if "contacts" in x)
    assert line.startswith("FAIL contacts:") and "os1 config secret contacts_password" in line, line

    phone = _Phone(server)
    phone.put(phone.book("contacts"), "anna", "Anna Lind", "anna@example.org")
    env["OS1_CONTACTS_PASSWORD"] = server.password
    r = run_os1("--config", str(config), "contacts", "sync", env=env)
    assert r.returncode == 0 and r.stdout.startswith("synced 1 cards from"), (r.stdout, r.stderr)
    server.kill()
    r = run_os1("--config", str(config), "contacts", "list", env=env)  # offline: the copy
    assert (r.returncode, r.stdout) == (0, "Anna Lind\tanna@example.org\n"), r.stderr


def test_carddav_set_up_without_a_url_or_password_is_bad_input_and_the_file_still_works(
    tmp_path: Path,
) -> None:
    with pytest.raises(MailError, match="contacts.url is empty; fix: os1 config set contacts.url"):
        build_contacts(ContactsConfig(source="carddav"), tmp_path)
    config = tmp_path / "os1.yaml"
    config.write_text("contacts:\n  source: carddav\n  url: https://dav.example.org/\n")
    env = {"OS1_STATE_DIR": str(tmp_path), "OS1_CONTACTS_PASSWORD": ""}
    r = run_os1("--config", str(config), "contacts", "sync", env=env)
    assert r.returncode == 2 and "fix: os1 config secret contacts_password" in r.stderr, r.stderr
    (tmp_path / "contacts.vcf").write_text(_card("a", "Anna Lind", "anna@example.org"))
    (tmp_path / "plain.yaml").write_text("persona:\n  name: Samantha\n")  # contacts.source: file
    r = run_os1("--config", str(tmp_path / "plain.yaml"), "contacts", "list", env=env)
    assert (r.returncode, r.stdout) == (0, "Anna Lind\tanna@example.org\n"), r.stderr
