"""`os1 contacts sync | list`: the owner's contacts from the shell: refresh the board's copy of their
CardDAV address books now, or see who has an address (the vCard file and the copy, offline)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from device.cli import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK
from device.config import load as configuration
from device.config import paths


def register(sub: Any) -> list[str]:
    con = sub.add_parser("contacts", help="the owner's contacts: sync the CardDAV copy, or list them")
    csub = con.add_subparsers(dest="action", required=True)
    csub.add_parser("sync", help="fetch every address book from the CardDAV server into the board's copy")
    csub.add_parser("list", help="each contact with an address, from contacts.vcf and the copy")
    return ["contacts"]


def dispatch(args: argparse.Namespace) -> int:
    from device.app.agenda import build_contacts
    from device.mail.imap import MailError

    cfg, _source = configuration.load(args.config)
    try:
        book = build_contacts(cfg.contacts, paths.dirs(cfg).state)
    except MailError as e:  # set up wrong: no url, no password
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if args.action == "sync":
            if book.server is None:
                print(
                    "os1: no contacts server: set contacts.source carddav and contacts.url", file=sys.stderr
                )
                return EXIT_BAD_INPUT
            t0 = time.monotonic()
            n = book.sync()
            print(f"synced {n} cards from {book.server.url} in {(time.monotonic() - t0) * 1000:.0f} ms")
            return EXIT_OK
        people = book.contacts()
    except MailError as e:
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_FAIL
    except OSError as e:
        print(f"os1: cannot save the contacts copy ({e}); fix: free space in the state dir", file=sys.stderr)
        return EXIT_FAIL
    for person in people:
        print(f"{person.name}\t{person.address}")
    if not people:
        print("no contacts with an email address (contacts.vcf in the state dir, or contacts.source carddav)")
    return EXIT_OK
