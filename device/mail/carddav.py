"""The owner's address books on their CardDAV server (Radicale, Nextcloud, Fastmail, iCloud): every
vCard, fetched in one REPORT per book. CardDAV has no library of its own here, so this speaks the
two requests it needs through `caldav`'s client, which already does the auth and the TLS checks."""

from __future__ import annotations

from urllib.parse import urljoin

from device.agenda.events import AgendaError
from device.agenda.sources import check_url
from device.mail.imap import MailAuthError, MailError, MailUnreachable

_NS = {"d": "DAV:", "card": "urn:ietf:params:xml:ns:carddav"}

_FIND = """<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:resourcetype/><d:current-user-principal/><card:addressbook-home-set/></d:prop>
</d:propfind>"""

_ALL_CARDS = """<?xml version="1.0" encoding="utf-8"?>
<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:getetag/><card:address-data/></d:prop>
  <card:filter/>
</card:addressbook-query>"""


class CardDavBook:
    """Every address book of the account at `url` (or the one book `url` is), the certificate
    verified against the system's CAs or the pinned `ca_file`."""

    name = "your contacts server"

    def __init__(self, url: str, username: str, password: str, ca_file: str = "", timeout_s: float = 10.0):
        try:
            check_url(url)
        except AgendaError as e:
            raise MailError(str(e).replace("calendar.url", "contacts.url")) from None
        self.url, self.username, self._password = url, username, password
        self.verify: bool | str = ca_file or True
        self.timeout_s = timeout_s

    def fetch(self) -> list[str]:
        """The text of every card; MailUnreachable, MailAuthError or MailError (one line) if not."""
        import caldav
        from caldav.lib import error

        try:
            client = caldav.DAVClient(
                url=self.url,
                username=self.username,
                password=self._password,
                ssl_verify_cert=self.verify,
                timeout=self.timeout_s,
            )
            cards: list[str] = []
            for book in self._books(client):
                cards.extend(self._cards(client, book))
            return cards
        except error.AuthorizationError:
            raise MailAuthError(
                f"{self.url}: the contacts server refused the username or password; "
                "fix: os1 config secret contacts_password"
            ) from None
        except MailError:
            raise
        except Exception as e:  # noqa: BLE001 (niquests, ssl and DAV errors all mean: not reachable now)
            if "CERTIFICATE_VERIFY_FAILED" in str(e):  # not the network: the owner's setting
                raise MailError(
                    f"{self.url}: the contacts server's certificate is not trusted; "
                    "fix: os1 config set contacts.ca_file /path/to/its-ca.pem"
                ) from None
            first = (str(e).splitlines() or [type(e).__name__])[0][:160]
            raise MailUnreachable(f"{self.url}: cannot sync the contacts ({first})") from None

    def _props(self, client, url: str, depth: int) -> list[tuple[str, object]]:  # noqa: ANN001
        """(href, the <d:prop> element) for each resource a PROPFIND names."""
        response = client.propfind(url, props=_FIND, depth=depth)
        if response.status >= 400 or response.tree is None:
            raise MailError(f"{url}: the server answered {response.status}; fix: check contacts.url")
        out = []
        for resp in response.tree.findall("d:response", _NS):
            href = resp.findtext("d:href", "", _NS)
            for prop in resp.findall("d:propstat/d:prop", _NS):
                out.append((urljoin(url, href), prop))
        return out

    def _books(self, client, url: str | None = None, hops: int = 0) -> list[str]:  # noqa: ANN001
        """The address books at `url`: itself if it is one, else those in its home (via its principal)."""
        url = url or self.url
        props = self._props(client, url, 0)
        if any(p.find("d:resourcetype/card:addressbook", _NS) is not None for _h, p in props):
            return [url]
        for _href, prop in props:
            home = prop.findtext("card:addressbook-home-set/d:href", "", _NS)
            if home:
                inside = self._props(client, urljoin(url, home), 1)
                return [h for h, p in inside if p.find("d:resourcetype/card:addressbook", _NS) is not None]
        for _href, prop in props:
            principal = prop.findtext("d:current-user-principal/d:href", "", _NS)
            if principal and hops < 2 and urljoin(url, principal) != url:
                return self._books(client, urljoin(url, principal), hops + 1)
        raise MailError(
            f"{url}: no address book found there; fix: set contacts.url to the address book's URL"
        )

    def _cards(self, client, book: str) -> list[str]:  # noqa: ANN001
        response = client.report(book, _ALL_CARDS, depth=1)
        if response.status >= 400 or response.tree is None:
            raise MailUnreachable(f"{book}: the server answered {response.status} to the listing")
        found = response.tree.findall("d:response/d:propstat/d:prop/card:address-data", _NS)
        return [el.text for el in found if el.text]
