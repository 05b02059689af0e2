"""The owner's contacts: a vCard file in the state dir (`contacts.vcf`, as a phone exports it), read
with `vobject`, to turn "Anna" into an address."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from device.mail.imap import MailError
from device.pipeline.text import plain


@dataclass(frozen=True)
class Contact:
    """One person and the address mail to them goes to."""

    name: str
    address: str


def load_contacts(path: Path) -> list[Contact]:
    """Every card with an address; none if the file is absent; MailError (one line) if it is not vCard."""
    if not path.exists():
        return []
    import vobject

    try:
        cards = list(vobject.readComponents(path.read_text(encoding="utf-8", errors="replace")))
    except Exception as e:  # noqa: BLE001 (vobject raises ParseError and others for a broken file)
        raise MailError(
            f"{path}: not a vCard file ({str(e).splitlines()[0][:80]}); fix or remove it"
        ) from None
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
