"""Any OpenAI-compatible chat-completions server (llama.cpp's server, llama-cpp-python's, Ollama, vLLM,
LocalAI), streamed over server-sent events: a home server's bigger mind.

The standard library's http.client does the talking (no client package: the Pi Zero front end has
512 MB), one connection per reply, closed from another thread to cancel it. The reply passes through
the same `ReplyGuard` as the board's engines, so a server's model obeys the same sentence budget.
The request is built the same way every turn (persona first, then the history), so the server's
prompt cache (`cache_prompt` on llama.cpp) keeps the first token fast.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from device.pipeline.events import DialogueStats, Message
from device.pipeline.llm.base import WholeReply, reply_guard, template_messages
from device.pipeline.settings import DialogueSettings
from device.pipeline.stages import DialogueCapabilities

log = logging.getLogger(__name__)


class ServerError(Exception):
    """The server could not give a reply: unreachable, refused, an HTTP error, or a broken stream. The
    message is one line naming the server and what went wrong (never the API key)."""


@dataclass(frozen=True)
class Server:
    """Where the server is and how to talk to it."""

    url: str
    """The API's base URL, e.g. http://homeserver:8080/v1 (the chat endpoint is url + /chat/completions)."""
    model: str = ""
    """The model name the server knows ('' lets a one-model server pick its own)."""
    api_key: str = ""
    """Sent as a Bearer token; never logged."""
    ca_file: str = ""
    """A CA certificate to trust instead of the system's, for a home server's self-signed one."""
    connect_timeout_s: float = 2.0
    """How long to wait for the TCP (and TLS) connection."""

    def __repr__(self) -> str:  # the dataclass repr would show the key
        return f"Server(url={self.url!r}, model={self.model!r}, api_key={'***' if self.api_key else ''!r})"

    def connection(self, timeout_s: float) -> tuple[http.client.HTTPConnection, str]:
        """A connection to the server and the path prefix of its API."""
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServerError(
                f"llm.remote.url {self.url!r} is not an http(s) URL; fix: e.g. http://host:8080/v1"
            )
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=self.ca_file or None)
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=timeout_s, context=context
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
        return conn, parts.path.rstrip("/")

    def headers(self) -> dict[str, str]:
        out = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            out["Authorization"] = f"Bearer {self.api_key}"
        return out

    def get(self, path: str, timeout_s: float) -> int:
        """GET a path under the API (a health check); the HTTP status, or ServerError."""
        conn, base = self.connection(timeout_s)
        try:
            conn.request("GET", base + path, headers=self.headers())
            resp = conn.getresponse()
            resp.read()
            return resp.status
        except (OSError, http.client.HTTPException) as e:
            raise ServerError(f"the server at {self.url} {_why(e)}") from e
        finally:
            conn.close()


def _why(e: BaseException) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        return (
            f"has a certificate this board does not trust ({e.verify_message}); fix: set llm.remote.ca_file"
        )
    if isinstance(e, ConnectionRefusedError):
        return "refused the connection (is it running?)"
    if isinstance(e, socket.timeout | TimeoutError):
        return "did not answer in time"
    if isinstance(e, socket.gaierror):
        return "has a name that does not resolve"
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return f"failed: {text}"


def http_error(server: Server, status: int, body: bytes) -> ServerError:
    detail = ""
    try:
        err = json.loads(body).get("error")
        detail = err.get("message", "") if isinstance(err, dict) else str(err or "")
    except (ValueError, AttributeError):
        pass
    if status in (401, 403):
        return ServerError(
            f"the server at {server.url} refused the API key (HTTP {status}); fix: put the right key in "
            "the secrets file as llm_api_key (`os1 config secret llm_api_key`)"
        )
    return ServerError(
        f"the server at {server.url} answered HTTP {status}" + (f": {detail[:120]}" if detail else "")
    )


class OpenAIDialogue(WholeReply):
    """Chat messages to a server, the reply streamed back piece by piece (the `stages.Dialogue` contract).

    `stream` may be abandoned or cancelled from another thread at any point: the connection is closed,
    which ends a blocked read at once. A server that stops sending mid-reply raises ServerError after
    `read_timeout_s`; the caller (`fallback.FallbackDialogue`) keeps its own, shorter deadline. With
    `send_context` off, the memories recalled for a turn (`Message.context`) are not sent.
    """

    capabilities = DialogueCapabilities(prime=False)

    def __init__(
        self,
        server: Server,
        settings: DialogueSettings | None = None,
        read_timeout_s: float = 30.0,
        send_context: bool = True,
    ):
        self.server = server
        self.send_context = send_context
        self.settings = settings or DialogueSettings()
        self.read_timeout_s = read_timeout_s
        self.last_stats = DialogueStats()

    def prime(self, messages: Sequence[Message]) -> int:
        return 0  # the server's prompt cache does this on its side

    def body(self, messages: Sequence[Message], s: DialogueSettings, prefix: str) -> dict[str, object]:
        if not self.send_context:  # privacy.send_memories: false; what memory recalled stays here
            messages = [Message(m.role, m.content) for m in messages]
        chat = template_messages(messages)
        if prefix:
            # The reply's chosen start: servers that prefill a trailing assistant message (llama.cpp's)
            # go on from it; others answer after it. Either way it is spoken first (see stream).
            chat.append({"role": "assistant", "content": prefix})
        body: dict[str, object] = {
            "messages": chat,
            "stream": True,
            "max_tokens": s.max_new_tokens,
            "temperature": s.temperature,
            "cache_prompt": True,  # llama.cpp: keep the persona's KV between turns (others ignore it)
        }
        if self.server.model:
            body["model"] = self.server.model
        if s.repetition_penalty != 1.0:
            body["repeat_penalty"] = s.repetition_penalty  # llama.cpp and llama-cpp-python
        return body

    def stream(
        self,
        messages: Sequence[Message],
        cancel: threading.Event | None = None,
        settings: DialogueSettings | None = None,
        prefix: str = "",
    ) -> Iterator[str]:
        s = settings or self.settings
        start = time.monotonic()
        stats = self.last_stats = DialogueStats(stop_reason="closed")
        guard = reply_guard(messages, s)
        if prefix and (opening := guard.feed(prefix)):
            stats.first_text_s = time.monotonic() - start
            yield opening
        if cancel is not None and cancel.is_set():
            stats.stop_reason = "cancel"
            return
        conn, base = self.server.connection(self.server.connect_timeout_s)
        closer = _CloseOnCancel(conn, cancel)
        try:
            try:
                conn.request(
                    "POST",
                    base + "/chat/completions",
                    json.dumps(self.body(messages, s, prefix)),
                    self.server.headers(),
                )
                if conn.sock is not None:
                    conn.sock.settimeout(self.read_timeout_s)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                if closer.cancelled():
                    stats.stop_reason = "cancel"
                    return
                raise ServerError(f"the server at {self.server.url} {_why(e)}") from e
            if resp.status != 200:
                raise http_error(self.server, resp.status, resp.read())
            finished = False
            for delta, reason in _events(resp, self.server, closer):
                if delta:
                    stats.new_tokens += 1  # one SSE chunk is one token on llama.cpp and vLLM
                    if stats.first_token_s is None:
                        stats.first_token_s = time.monotonic() - start
                    if out := guard.feed(delta):
                        if stats.first_text_s is None:
                            stats.first_text_s = time.monotonic() - start
                        yield out
                    if guard.stop_reason:
                        stats.stop_reason = guard.stop_reason
                        return
                if reason is not None:
                    finished = True
                    out = guard.finish("budget" if reason == "length" else "eos")
                    stats.stop_reason = guard.stop_reason or "eos"
                    if out:
                        yield out
                    return
            if closer.cancelled():
                stats.stop_reason = "cancel"
                return
            if not finished:
                raise ServerError(f"the server at {self.server.url} ended the reply mid-stream")
        finally:
            closer.done()
            conn.close()
            elapsed = (time.monotonic() - start) - (stats.first_token_s or 0.0)
            if stats.new_tokens > 1 and elapsed > 0:
                stats.tokens_per_s = (stats.new_tokens - 1) / elapsed


def _events(
    resp: http.client.HTTPResponse, server: Server, closer: _CloseOnCancel
) -> Iterator[tuple[str, str | None]]:
    """(text delta, finish_reason) per server-sent event, until [DONE]."""
    while True:
        try:
            line = resp.readline()
        except (OSError, http.client.HTTPException, ValueError) as e:
            if closer.cancelled():
                return
            raise ServerError(f"the server at {server.url} {_why(e)} mid-reply") from e
        if not line:
            return  # the connection closed
        line = line.strip()
        if not line.startswith(b"data:"):
            continue  # blank lines between events, comments, "event:" lines
        data = line[5:].strip()
        if data == b"[DONE]":
            # A whole reply ends with a finish_reason before [DONE]; getting here means it did not:
            # llama_cpp.server ends a stream that way when another client's request arrives.
            raise ServerError(
                f"the server at {server.url} cut the reply short"
                " (llama_cpp.server: run it with --interrupt_requests false)"
            )
        try:
            event = json.loads(data)
        except ValueError as e:
            raise ServerError(f"the server at {server.url} sent an event that is not JSON") from e
        if "error" in event:
            raise ServerError(f"the server at {server.url} failed mid-reply: {str(event['error'])[:120]}")
        for choice in event.get("choices", [])[:1]:
            delta = (choice.get("delta") or {}).get("content") or ""
            yield delta, choice.get("finish_reason")


class _CloseOnCancel:
    """Closes the connection when `cancel` is set, from a watcher thread: a blocked read ends at once."""

    def __init__(self, conn: http.client.HTTPConnection, cancel: threading.Event | None):
        self.conn = conn
        self.cancel = cancel
        self._done = threading.Event()
        if cancel is not None:
            threading.Thread(target=self._watch, name="llm-remote-cancel", daemon=True).start()

    def _watch(self) -> None:
        assert self.cancel is not None
        while not self._done.is_set():
            if self.cancel.wait(0.05):
                sock = self.conn.sock
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def done(self) -> None:
        self._done.set()
