"""The system service's network, opened only as far as a home server needs.

The unit (`systemd/os1.service`) has no network at all. With `llm.engine: openai` the daemon must reach
one server, so a drop-in gives it IPv4/IPv6 sockets, egress to that server's addresses only (systemd's
IP firewall, IPAddressAllow=), and still no listening socket anywhere (SocketBindDeny=any). `os1
service network` writes it (as root, on the Pi) and `make install` runs that; with no server
configured the drop-in is removed, and the unit is back to no network.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from urllib.parse import urlsplit

DROPIN_DIR = Path("/etc/systemd/system/os1.service.d")
DROPIN_NAME = "home-server.conf"


class NetworkError(Exception):
    """The server's address cannot be turned into firewall rules; the message names the fix."""


def server_urls(llm_url: str = "", stt_uri: str = "", tts_uri: str = "", *others: str) -> list[str]:
    """Every server the config uses (the mind's URL, the speech servers' tcp:// addresses, and the
    owner's own: the calendar's)."""
    return [u for u in (llm_url, stt_uri, tts_uri, *others) if u]


def server_addresses(url: str) -> list[str]:
    """The addresses the server's host resolves to now (an IP literal is itself)."""
    host = urlsplit(url).hostname
    if not host:
        raise NetworkError(f"home server {url!r} has no host; fix: e.g. http://192.168.1.20:8080/v1")
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise NetworkError(f"{host} does not resolve ({e.strerror}); fix: use the server's IP address") from e
    return sorted({str(info[4][0]) for info in infos})


def dropin(urls: str | list[str]) -> str:
    """The drop-in that lets the daemon reach the servers at `urls`, and nothing else."""
    urls = [urls] if isinstance(urls, str) else urls
    allow = " ".join(sorted({a for url in urls for a in server_addresses(url)}))
    return (
        "# Written by `os1 service network` for the home servers configured; removed when none is.\n"
        "[Service]\n"
        "PrivateNetwork=no\n"
        "# Egress to the home server only (a hostname is resolved when this is written: rerun\n"
        "# `os1 service network` if its address changes).\n"
        "IPAddressDeny=any\n"
        f"IPAddressAllow={allow}\n"
        "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6\n"
        "# A client only: no port to listen on.\n"
        "SocketBindDeny=any\n"
    )


def apply(urls: str | list[str], folder: Path = DROPIN_DIR) -> Path | None:
    """Write the drop-in for `urls`, or remove it when there are none; the path written (None if removed)."""
    path = folder / DROPIN_NAME
    urls = [u for u in ([urls] if isinstance(urls, str) else urls) if u]
    if not urls:
        path.unlink(missing_ok=True)
        return None
    text = dropin(urls)
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o644)
    return path
