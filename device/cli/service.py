"""`os1 service network`: open the system service's network to the configured home server only."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from device.cli import EXIT_BAD_INPUT, EXIT_FAIL
from device.config import load as configuration


def register(sub: Any) -> list[str]:
    p = sub.add_parser("service", help="the system service's settings (as root)")
    ssub = p.add_subparsers(dest="service_action", required=True)
    net = ssub.add_parser(
        "network",
        help="let the service reach the servers it is set up for (home, calendar, mail, contacts), no others",
    )
    net.add_argument(
        "--dir", type=Path, help="where the drop-in goes (default /etc/systemd/system/os1.service.d)"
    )
    net.add_argument("--print", action="store_true", help="show the drop-in instead of writing it")
    return ["service"]


def dispatch(args: argparse.Namespace) -> int:
    from device.app import service_network

    cfg, _ = configuration.load(args.config)
    urls = service_network.server_urls(
        cfg.llm.remote.url if cfg.llm.engine == "openai" else "",
        cfg.stt.remote.uri if cfg.stt.engine == "wyoming" else "",
        cfg.tts.remote.uri if cfg.tts.engine == "wyoming" else "",
        cfg.calendar.url if cfg.calendar.source == "caldav" else "",
        f"imaps://{cfg.mail.imap_host}:{cfg.mail.imap_port}" if cfg.mail.source == "imap" else "",
        f"smtp://{cfg.mail.smtp_host}:{cfg.mail.smtp_port}" if cfg.mail.smtp_host else "",
        cfg.contacts.url if cfg.contacts.source == "carddav" and cfg.mail.source == "imap" else "",
    )
    try:
        if args.print:
            print(service_network.dropin(urls) if urls else "# no home server configured: no network", end="")
            return 0
        written = service_network.apply(urls, args.dir or service_network.DROPIN_DIR)
    except service_network.NetworkError as e:
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PermissionError as e:
        print(
            f"os1: cannot write {e.filename}; fix: run it as root (sudo os1 service network)", file=sys.stderr
        )
        return EXIT_FAIL
    print(
        f"wrote {written}: egress to {', '.join(urls)} only"
        if written
        else "no home server: the service has no network"
    )
    if args.dir is None:
        subprocess.run(["systemctl", "daemon-reload"], check=False)
        print("restart the service to use it: sudo systemctl restart os1")
    return 0
