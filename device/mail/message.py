"""A mail as something to be said: who wrote it, about what, and its words as plain text (HTML read
as text, any charset the mail names, a broken one decoded with replacement marks), with attachments
named and never read."""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass(frozen=True)
class Mail:
    """One mail in the owner's inbox, as the board keeps it."""

    uid: int
    """The server's UID for it in the inbox."""
    sender: str
    """Who wrote it: the display name, else the address."""
    address: str
    """The sender's address."""
    subject: str
    date: float
    """When it was sent (epoch seconds; 0 if the mail does not say)."""
    text: str
    """Its words as plain text (the first part of a long mail: see MAX_TEXT_CHARS)."""
    attachments: list[str] = field(default_factory=list)
    """The attachments' file names."""
    seen: bool = False
    """The owner has opened it (on any device)."""
    message_id: str = ""
    """Its Message-ID, for a reply's In-Reply-To."""


MAX_TEXT_CHARS = 4000  # a mail is read by its first lines; the rest stays on the server


class _Text(HTMLParser):
    """HTML to its words: script and style dropped, a block element is a line break."""

    _BLOCKS = {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, _attrs: object) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return _tidy("".join(parser.parts))


def _tidy(text: str) -> str:
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    kept = [line for line in lines if line and not line.startswith(">")]  # quoted replies are not news
    return "\n".join(kept)


def parse_mail(uid: int, raw: bytes, seen: bool = False) -> Mail:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    name, address = email.utils.parseaddr(str(msg.get("From", "")))
    date = msg.get("Date")
    try:
        when = email.utils.parsedate_to_datetime(str(date)).timestamp() if date else 0.0
    except (TypeError, ValueError):
        when = 0.0
    body = msg.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        try:
            content = body.get_content()
        except (LookupError, UnicodeError):  # a charset Python does not know
            payload = body.get_payload(decode=True) or b""
            content = (
                payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)
            )
        text = html_to_text(content) if body.get_content_type() == "text/html" else _tidy(str(content))
    names = [part.get_filename() or "an unnamed file" for part in msg.iter_attachments()]
    return Mail(
        uid=uid,
        sender=name.strip() or address,
        address=address,
        subject=str(msg.get("Subject", "")).strip() or "no subject",
        date=when,
        text=text[:MAX_TEXT_CHARS],
        attachments=names,
        seen=seen,
        message_id=str(msg.get("Message-ID", "")).strip(),
    )
