"""The owner's inbox over IMAP (`imapclient`), implicit TLS with the certificate verified (the
system's CAs, or a pinned CA for a home server). Read-only: nothing is marked read, moved or
deleted by looking."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

from device.mail.message import Mail, parse_mail

PEEK_BYTES = 256 * 1024  # a 10 MB mail is read by its start: its text and its attachments' names


class MailError(Exception):
    """A mail problem, in one line that names it and the fix."""


class MailUnreachable(MailError):
    """The server did not answer: the board's copy answers meanwhile."""


class MailAuthError(MailError):
    """The server refused the username or password."""


def refused(where: str) -> MailAuthError:
    """The one line for a refused login, to the IMAP or the SMTP server."""
    return MailAuthError(
        f"{where}: the mail server refused the username or password; fix: os1 config secret mail_password"
    )


class Inbox:
    def __init__(
        self, host: str, port: int, username: str, password: str, ca_file: str = "", timeout_s: float = 15
    ):
        self.host, self.port, self.username, self._password = host, port, username, password
        self.ca_file, self.timeout_s = ca_file, timeout_s

    def fetch(self, newest: int = 200) -> Iterator[Mail]:
        """The newest `newest` mails of the inbox."""
        from imapclient import IMAPClient
        from imapclient.exceptions import IMAPClientError, LoginError

        where = f"{self.host}:{self.port}"
        try:
            context = ssl.create_default_context(cafile=self.ca_file or None)
            with IMAPClient(
                self.host, port=self.port, ssl=True, ssl_context=context, timeout=self.timeout_s
            ) as c:
                try:
                    c.login(self.username, self._password)
                except LoginError:
                    raise refused(where) from None
                c.select_folder("INBOX", readonly=True)
                uids = sorted(c.search(["ALL"]))[-newest:]
                sizes = c.fetch(uids, ["RFC822.SIZE", "FLAGS"]) if uids else {}
                small = [u for u in uids if sizes[u][b"RFC822.SIZE"] <= PEEK_BYTES]
                large = [u for u in uids if u not in set(small)]
                got = {}
                for batch, item in ((small, "BODY.PEEK[]"), (large, f"BODY.PEEK[]<0.{PEEK_BYTES}>")):
                    for i in range(0, len(batch), 100):
                        got.update(c.fetch(batch[i : i + 100], [item]))
        except MailError:
            raise
        except ssl.SSLCertVerificationError as e:
            raise MailUnreachable(
                f"{where}: its certificate is not trusted ({e.verify_message}); fix: mail.ca_file"
            ) from None
        except (OSError, IMAPClientError) as e:
            raise MailUnreachable(
                f"{where}: cannot read the mail ({str(e).splitlines()[0][:120] or type(e).__name__})"
            ) from None
        for uid in uids:
            data = got.get(uid, {})
            raw = next((v for k, v in data.items() if k.startswith(b"BODY[")), b"")
            yield parse_mail(uid, raw, seen=b"\\Seen" in sizes[uid][b"FLAGS"])
