"""The inbox as the companion uses it: answers come from the board's copy; a background thread
refreshes it from the owner's server."""

from __future__ import annotations

import logging
import time

from device.mail.cache import MailCache
from device.mail.imap import Inbox, MailError
from device.mail.message import Mail
from device.periodic import Periodic

log = logging.getLogger("os1.mail")


class Mailbox:
    def __init__(self, inbox: Inbox, cache: MailCache, newest: int = 200):
        self.inbox, self.cache, self.newest = inbox, cache, newest
        self.last_error: MailError | None = None
        """Why the last sync failed (None: it worked)."""
        self._sync = Periodic("os1-mail", self.sync, log, "mail")

    def mails(self) -> list[Mail]:
        return self.cache.newest_first()

    def sync(self) -> int:
        t0 = time.monotonic()
        try:
            n = self.cache.replace_all(self.inbox.fetch(self.newest))
        except MailError as e:
            self.last_error = e
            raise
        self.last_error = None
        log.info("mail synced: %d mails in %.0f ms", n, (time.monotonic() - t0) * 1000)
        return n

    def start(self, every_s: float) -> None:
        self._sync.start(every_s)

    def stop(self) -> None:
        self._sync.stop()
        self.cache.close()
