"""The owner's contacts, to turn "Anna" into an address: a vCard file in the state dir (`contacts.vcf`,
as a phone exports it) and, with `contacts.source: carddav`, the board's copy of their CardDAV
address books, refreshed in the background and answering offline. Read with `vobject`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from device.atomic import write_text_atomic
from device.mail.carddav import CardDavBook
from device.mail.imap import MailError
from device.periodic import Periodic
from device.pipeline.text import plain

log = logging.getLogger("os1.contacts")


@dataclass(frozen=True)
class Contact:
    """One person and the address mail to them goes to."""

    name: str
    address: str


def load_contacts(path: Path) -> list[Contact]:
    """Every card with an address; none if the file is absent; MailError (one line) if it is not vCard."""
    if not path.exists():
        return []
    try:
        cards = _cards(path.read_text(encoding="utf-8", errors="replace"))
    except Exception as e:  # noqa: BLE001 (vobject raises ParseError and others for a broken file)
        why = (str(e).splitlines() or [type(e).__name__])[0][:80]
        raise MailError(f"{path}: not a vCard file ({why}); fix or remove it") from None
    return _with_address(cards)


def _cards(text: str) -> list:
    import vobject

    return list(vobject.readComponents(text))


def _with_address(cards: list) -> list[Contact]:
    out = []
    for card in cards:
        name = str(getattr(card, "fn", None).value) if hasattr(card, "fn") else ""
        emails = card.contents.get("email", [])
        if name and emails:
            out.append(Contact(name.strip(), str(emails[0].value).strip()))
    return out


def find(contacts: list[Contact], who: str) -> Contact | None:
    """The contact whose name holds every word of `who` ("Anna", "Anna Lind"), if just one does."""
    wanted = set(plain(who).split()) - {"my", "the"}
    found = [c for c in contacts if wanted and wanted <= set(plain(c.name).split())]
    return found[0] if len(found) == 1 else None


class ContactBook:
    """The contacts file and, with a CardDAV `server`, the board's copy of it (`copy`, replaced whole
    and atomically after a complete fetch: a sync cut off halfway leaves the last good copy)."""

    def __init__(self, local: Path, copy: Path, server: CardDavBook | None = None):
        self.local, self.copy, self.server = Path(local), Path(copy), server
        self.last_error: MailError | None = None
        """Why the last sync failed (None: it worked, or there is no server)."""
        self._sync = Periodic("os1-contacts", self.sync, log, "contacts")

    def contacts(self) -> list[Contact]:
        """The file's cards first, then the server's copy's (a name in both: the file's address)."""
        seen: set[str] = set()
        out = []
        for c in load_contacts(self.local) + (load_contacts(self.copy) if self.server else []):
            if plain(c.name) not in seen:
                seen.add(plain(c.name))
                out.append(c)
        return out

    def sync(self) -> int:
        """Fetch every card and replace the copy; the number kept. A card that is not vCard is left
        out (logged), not the whole book."""
        if self.server is None:
            return 0
        t0 = time.monotonic()
        try:
            fetched = self.server.fetch()
        except MailError as e:
            self.last_error = e
            raise
        good = []
        for text in fetched:
            try:
                _cards(text)
            except Exception as e:  # noqa: BLE001 (any vobject failure: this card is unreadable)
                log.warning("contacts: a card on the server is not vCard, left out (%s)", str(e)[:80])
                continue
            good.append(text if text.endswith("\n") else text + "\n")
        write_text_atomic(self.copy, "".join(good), mode=0o600)
        self.last_error = None
        log.info("contacts synced: %d cards in %.0f ms", len(good), (time.monotonic() - t0) * 1000)
        return len(good)

    def start(self, every_s: float) -> None:
        if self.server is not None:
            self._sync.start(every_s)

    def stop(self) -> None:
        self._sync.stop()
