"""Sending the owner's mail over SMTP (`smtplib`) to their own account's server: implicit TLS or
STARTTLS, the certificate verified (the system's CAs, or a pinned CA), never in clear."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from device.mail.imap import MailError, MailUnreachable, refused


class Outbox:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        security: str = "tls",
        ca_file: str = "",
        timeout_s: float = 20,
    ):
        self.host, self.port, self.username, self._password = host, port, username, password
        self.security, self.ca_file, self.timeout_s = security, ca_file, timeout_s

    def send(self, msg: EmailMessage) -> None:
        where = f"{self.host}:{self.port}"
        context = ssl.create_default_context(cafile=self.ca_file or None)
        try:
            if self.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout_s, context=context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
                smtp.starttls(context=context)
            with smtp:
                smtp.login(self.username, self._password)
                smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError:
            raise refused(where) from None
        except smtplib.SMTPRecipientsRefused:
            raise MailError(f"{where}: the server refused the address {msg['To']}") from None
        except (OSError, smtplib.SMTPException) as e:
            raise MailUnreachable(
                f"{where}: cannot send ({str(e).splitlines()[0][:120] or type(e).__name__})"
            ) from None
