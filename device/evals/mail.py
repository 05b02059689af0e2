"""What the inbox costs the board: a real IMAP server (Dovecot on loopback, TLS) holding N mails (one
in ten HTML, one in twenty with an attachment), one whole sync of the newest N into the board's copy
(wall time and this process's CPU time), and "Any new email?" answered from the copy.

    os1 eval mail [--mails 1000] [--asks 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import ssl
import statistics
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from device.evals.dovecot import DovecotServer
from device.intents.mail import MailIntent
from device.mail.cache import MailCache
from device.mail.imap import Inbox
from device.mail.mailbox import Mailbox


def _mail(i: int) -> bytes:
    m = EmailMessage()
    m["From"], m["To"] = f"Sender {i % 37} <sender{i % 37}@example.org>", "sam@example.org"
    m["Subject"] = f"Message number {i}"
    m["Date"] = "Wed, 02 Dec 2026 08:00:00 +0000"
    text = f"Hello Sam, this is message {i}. " + "Some news about the week, the weather and the garden. " * 30
    m.set_content(text)
    if i % 10 == 0:
        m.add_alternative(f"<html><body><p>{text}</p></body></html>", subtype="html")
    if i % 20 == 0:
        m.add_attachment(b"x" * 50_000, maintype="application", subtype="pdf", filename=f"file{i}.pdf")
    return m.as_bytes()


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(mails: int, asks: int) -> dict[str, object]:
    from imapclient import IMAPClient

    with DovecotServer() as srv, tempfile.TemporaryDirectory(prefix="os1-eval-mail-") as tmp:
        ctx = ssl.create_default_context(cafile=str(srv.cert))
        t0 = time.monotonic()
        with IMAPClient("127.0.0.1", port=srv.port, ssl=True, ssl_context=ctx) as c:
            c.login(srv.user, srv.password)
            for i in range(mails):
                c.append("INBOX", _mail(i))
        deliver_s = time.monotonic() - t0
        box = Mailbox(
            Inbox("127.0.0.1", srv.port, srv.user, srv.password, str(srv.cert)),
            MailCache(Path(tmp) / "m.db"),
            mails,
        )
        cpu0, t0 = _cpu_s(), time.monotonic()
        n = box.sync()
        sync_s, sync_cpu_s = time.monotonic() - t0, _cpu_s() - cpu0
        ask = MailIntent(box)
        took = []
        for _ in range(asks):
            t0 = time.monotonic()
            reply = ask("Any new email?")
            took.append((time.monotonic() - t0) * 1000)
        box.cache.close()
    took.sort()
    return {
        "mails": mails,
        "synced": n,
        "deliver_s": round(deliver_s, 1),
        "sync_s": round(sync_s, 2),
        "sync_cpu_s": round(sync_cpu_s, 2),
        "new_median_ms": round(statistics.median(took), 1),
        "new_p90_ms": round(took[int(0.9 * (len(took) - 1))], 1),
        "reply": (reply or "")[:200],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mails", type=int, default=1000)
    ap.add_argument("--asks", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    r = measure(args.mails, args.asks)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"{r['mails']} mails delivered to Dovecot in {r['deliver_s']} s (IMAP APPEND)")
    print(f"one whole sync: {r['synced']} mails in {r['sync_s']} s, {r['sync_cpu_s']} s of CPU here")
    print(f"'Any new email?' from the copy: median {r['new_median_ms']} ms, p90 {r['new_p90_ms']} ms")
    print(f"  -> {r['reply']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
