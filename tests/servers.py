"""Real servers started by the tests on loopback, and the faults a network has (a port that accepts and
never answers). Each is a context manager that stops what it started."""

from __future__ import annotations

import json
import urllib.request

from device.evals.llama_server import LlamaServer  # noqa: F401 (the tests' servers, here)
from device.evals.radicale import RadicaleServer, free_port, self_signed  # noqa: F401 (the tests' servers, here)
from device.evals.server_stall import hung_port
from device.evals.wyoming_server import WyomingServer  # noqa: F401 (the tests' servers, here)


def chat(url: str, text: str, api_key: str = "") -> dict[str, object]:
    """One non-streamed chat request, as a plain client would make it (to check the server itself)."""
    body = json.dumps({"messages": [{"role": "user", "content": text}], "max_tokens": 16}).encode()
    req = urllib.request.Request(url + "/chat/completions", body, {"Content-Type": "application/json"})
    if api_key:
        req.add_header("Authorization", f"Bearer {api_key}")
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def silent_server():  # noqa: ANN201 (a context manager of the port)
    """A port that accepts connections and never answers: a hung server (the bench's own, reused)."""
    return hung_port()
