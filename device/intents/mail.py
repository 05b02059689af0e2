"""Email by voice: "Any new email?" (how many, from whom, about what, and how each starts) and "Read
me the one from Anna." From the board's copy (mail/), so it answers offline; read-only. The owner's
voice only (wrapped in private.OwnerOnly by the assembly). Replying and sending are not built."""

from __future__ import annotations

import re

from device.mail.imap import MailUnreachable
from device.mail.mailbox import Mailbox
from device.mail.message import Mail
from device.pipeline.text import plain

_ASK = r"^(?:(?:hey|ok|okay|so|and|please|oh)\s+)*(?:(?:can|could|would|will) you\s+)?(?:please\s+)?"
_MAIL = r"(?:e ?mails?|mails?|messages?)"
_NEW = re.compile(
    _ASK + rf"(?:(?:do i have|have i got|is there|are there|did i get|got) )?(?:any )?(?:new )?{_MAIL}"
    rf"(?: for me| today)?$|{_ASK}(?:check|read) my {_MAIL}$|{_ASK}what is in my inbox$"
)
_FROM = re.compile(
    _ASK + rf"(?:read(?: me)?|what does|what did) (?:the |that )?(?:one |last |latest |newest )?(?:{_MAIL} )?"
    r"from (?P<who>.+?)(?: say)?$"
)
UNREACHABLE = "I can't reach your email right now"
SAY_WORDS = 80  # how much of a mail is read out; the rest is on the owner's phone
PREVIEW_WORDS = 12


def _norm(text: str) -> str:
    return re.sub(r"\bwhat's\b", "what is", plain(text))


def _words(text: str, n: int) -> str:
    words = text.split()
    return " ".join(words[:n]) + ("…" if len(words) > n else "")


class MailIntent:
    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    def claims(self, text: str) -> bool:
        t = _norm(text)
        return bool(_NEW.match(t) or _FROM.match(t))

    def _caveat(self) -> str:
        return (
            f"{UNREACHABLE}, but from what I had: "
            if isinstance(self.mailbox.last_error, MailUnreachable)
            else ""
        )

    def __call__(self, text: str) -> str | None:
        t = _norm(text)
        if _NEW.match(t):
            return self._new()
        if (m := _FROM.match(t)) is not None:
            return self._read(m["who"])
        return None

    def _new(self) -> str:
        new = [m for m in self.mailbox.mails() if not m.seen]
        if not new:
            return f"{self._caveat()}No new email."
        shown = new[:5]
        items = [f'from {m.sender}, about {m.subject}: "{_words(m.text, PREVIEW_WORDS)}"' for m in shown]
        more = f" And {len(new) - len(shown)} more." if len(new) > len(shown) else ""
        count = f"{len(new)} new email{'s' if len(new) > 1 else ''}"
        return f"{self._caveat()}You have {count}: " + "; ".join(items) + "." + more

    def _read(self, who: str) -> str:
        wanted = set(plain(who).split()) - {"the", "my"}
        for mail in self.mailbox.mails():
            names = set(plain(f"{mail.sender} {mail.address.replace('@', ' ').replace('.', ' ')}").split())
            if wanted and wanted <= names:
                return self._caveat() + _say(mail)
        return f"{self._caveat()}I can't find an email from {who}."


def _say(mail: Mail) -> str:
    body = _words(mail.text, SAY_WORDS) if mail.text else "It has no text."
    rest = " That's the start; the rest is on your phone." if len(mail.text.split()) > SAY_WORDS else ""
    files = ""
    if mail.attachments:
        n = len(mail.attachments)
        named = ", ".join(mail.attachments)
        files = f" It has {n} attachment{'s' if n > 1 else ''}, which I can't read out: {named}."
    return f"{mail.sender} wrote, about {mail.subject}: {body}{rest}{files}"
