"""Email by voice: "Any new email?" (how many, from whom, about what, and how each starts), "Read me
the one from Anna.", "Reply: Friday works for me." (to the mail just read) and "Send the letter to
Anna by email." Reading is from the board's copy (mail/), so it answers offline. Nothing is sent
before it has been read back and the owner has said yes. The owner's voice only (wrapped in
private.OwnerOnly by the assembly)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from device.intents.letters import Letter
from device.mail.contacts import Contact, find
from device.mail.imap import MailAuthError, MailError, MailUnreachable
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
_REPLY = re.compile(
    r"^reply(?: to (?P<who>[\w' ]+?) (?:saying|that|and say))?[:,]? (?P<body>.+?)[.!]?$", re.I
)
_SEND_LETTER = re.compile(
    r"^(?:(?:please|can you|could you) )*(?:send|email|mail) (?:the |my )?letter to (?P<who>.+?)"
    r"(?: by e ?mail)?$"
)
_EDIT = re.compile(r"^(?:change it to|make it say|instead say|no,? say)[:,]?\s+(?P<body>.+?)[.!]?$", re.I)
_ADD = re.compile(r"^(?:add to it|and add|also say|add that)[:,]?\s+(?P<more>.+?)[.!]?$", re.I)
_YES = re.compile(r"^(?:yes|yeah|yep|sure|okay|ok|send it|do it|go ahead|please do|yes please)\b")
_NO = re.compile(r"^(?:no|nope|don't|do not|never mind|cancel|stop)\b")
UNREACHABLE = "I can't reach your email right now"
NO_SENDING = "I can't send mail yet: it needs mail.smtp_host and mail.from_address in my settings."
SAY_WORDS = 80  # how much of a mail is read out; the rest is on the owner's phone
PREVIEW_WORDS = 12


def _norm(text: str) -> str:
    return re.sub(r"\bwhat's\b", "what is", plain(text))


def _words(text: str, n: int) -> str:
    words = text.split()
    return " ".join(words[:n]) + ("…" if len(words) > n else "")


class Sender:
    """What sends (mail/send.Outbox) and whose address it is sent from."""

    def __init__(self, send: Callable[[EmailMessage], None], from_address: str):
        self.send, self.from_address = send, from_address


@dataclass
class _Draft:
    """A mail read back to the owner, waiting for yes."""

    to: str
    to_name: str
    subject: str
    body: str
    in_reply_to: str = ""


class MailIntent:
    """`sender` None: nothing can be sent (no SMTP set up); `contacts` and `latest_letter` give the
    addresses and the letters that "send the letter to Anna" needs."""

    def __init__(
        self,
        mailbox: Mailbox,
        sender: Sender | None = None,
        contacts: Callable[[], list[Contact]] = list,
        latest_letter: Callable[[str], Letter | None] = lambda _to: None,
    ):
        self.mailbox, self.sender = mailbox, sender
        self.contacts, self.latest_letter = contacts, latest_letter
        self.last: Mail | None = None
        """The mail read out last: "Reply: …" answers it."""
        self.draft: _Draft | None = None

    def claims(self, text: str) -> bool:
        t = _norm(text)
        if self.draft is not None and (
            _YES.match(t) or _NO.match(t) or _EDIT.match(text.strip()) or _ADD.match(text.strip())
        ):
            return True
        return bool(_NEW.match(t) or _FROM.match(t) or _SEND_LETTER.match(t) or _REPLY.match(text.strip()))

    def _caveat(self) -> str:
        return (
            f"{UNREACHABLE}, but from what I had: "
            if isinstance(self.mailbox.last_error, MailUnreachable)
            else ""
        )

    def __call__(self, text: str) -> str | None:
        t = _norm(text)
        if (
            self.draft is not None
            and (m := _EDIT.match(text.strip()) or _ADD.match(text.strip())) is not None
        ):
            return self._edit(m)
        if self.draft is not None and (_YES.match(t) or _NO.match(t)):
            return self._settle(bool(_YES.match(t)))
        self.draft = None
        if _NEW.match(t):
            return self._new()
        if (m := _FROM.match(t)) is not None:
            return self._read(m["who"])
        if (m := _SEND_LETTER.match(t)) is not None:
            return self._send_letter(m["who"])
        if (m := _REPLY.match(text.strip())) is not None:
            return self._reply(m["who"], m["body"])
        return None

    # ------------------------------------------------------------------ sending: read back, then yes
    def _reply(self, who: str | None, body: str) -> str:
        if self.sender is None:
            return NO_SENDING
        mail = self._from(who) if who else self.last
        if mail is None:
            return f"I can't find an email from {who}." if who else "Which email? Ask me to read it first."
        subject = mail.subject if mail.subject.lower().startswith("re:") else f"Re: {mail.subject}"
        body = _sentence(body)
        self.draft = _Draft(mail.address, mail.sender, subject, body, mail.message_id)
        return f'Reply to {mail.sender}, about {mail.subject}: "{body}" Shall I send it?'

    def _send_letter(self, who: str) -> str:
        if self.sender is None:
            return NO_SENDING
        letter = self.latest_letter(who)
        if letter is None:
            return f"I don't have a letter to {who}. Ask me to write one first."
        try:
            contacts = self.contacts()
        except MailError as e:
            return f"I can't read your contacts: {str(e).split(': ', 1)[-1].split(';')[0]}."
        contact = find(contacts, letter.greeting_name) or find(contacts, who)
        if contact is None:
            return f"I don't have an email address for {letter.greeting_name} in your contacts."
        self.draft = _Draft(
            contact.address, contact.name, f"A letter from {letter.signature or 'me'}", letter.text()
        )
        spelled = contact.address.replace("@", " at ").replace(".", " dot ")
        return f"Send the letter to {letter.greeting_name} to {spelled}? Say yes to send it."

    def _edit(self, m: re.Match[str]) -> str:
        """A dictated reply changed before it goes: "change it to …" or "add …"; read back again."""
        draft = self.draft
        assert draft is not None
        if "body" in m.groupdict():
            draft.body = _sentence(m["body"])
        else:
            draft.body = f"{draft.body.rstrip('.')}. {_sentence(m['more'])}"
        return f'Now it says: "{draft.body}" Shall I send it?'

    def _settle(self, yes: bool) -> str:
        draft, self.draft = self.draft, None
        assert draft is not None and self.sender is not None
        if not yes:
            return "Okay, I haven't sent it."
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender.from_address, draft.to, draft.subject
        msg["Date"], msg["Message-ID"] = formatdate(localtime=True), make_msgid()
        if draft.in_reply_to:
            msg["In-Reply-To"] = msg["References"] = draft.in_reply_to
        msg.set_content(draft.body)
        try:
            self.sender.send(msg)
        except MailAuthError:
            return "Your mail server refused my password, so I didn't send it."
        except MailUnreachable:
            return f"{UNREACHABLE}, so I didn't send it. Try again in a while."
        except MailError as e:
            return f"I couldn't send it: {str(e).split(': ', 1)[-1]}."
        return f"Sent to {draft.to_name}."

    def _from(self, who: str) -> Mail | None:
        wanted = set(plain(who).split()) - {"the", "my"}
        for mail in self.mailbox.mails():
            names = set(plain(f"{mail.sender} {mail.address.replace('@', ' ').replace('.', ' ')}").split())
            if wanted and wanted <= names:
                return mail
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
        mail = self._from(who)
        if mail is None:
            return f"{self._caveat()}I can't find an email from {who}."
        self.last = mail
        return self._caveat() + _say(mail)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[0].upper() + text[1:] if text else text


def _say(mail: Mail) -> str:
    body = _words(mail.text, SAY_WORDS) if mail.text else "It has no text."
    rest = " That's the start; the rest is on your phone." if len(mail.text.split()) > SAY_WORDS else ""
    files = ""
    if mail.attachments:
        n = len(mail.attachments)
        named = ", ".join(mail.attachments)
        files = f" It has {n} attachment{'s' if n > 1 else ''}, which I can't read out: {named}."
    return f"{mail.sender} wrote, about {mail.subject}: {body}{rest}{files}"
