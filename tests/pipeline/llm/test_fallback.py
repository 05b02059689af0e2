"""The fallback's logic on scripted minds: what the board is given and says when the server fails at
each point, and when the server is used again. The same faults against real servers are in
tests/app/test_home_server.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest

from device.pipeline.events import DialogueStats, Message
from device.pipeline.llm.fallback import LOST_SERVER, NO_SERVER, FallbackDialogue, ServerHealth
from device.pipeline.llm.openai import ServerError
from device.pipeline.settings import DialogueSettings
from device.pipeline.stages import DialogueCapabilities

ASK = [Message("system", "You are Samantha."), Message("user", "Tell me about the sea.")]


class Scripted:
    """A mind that says `words`, then (optionally) fails or hangs, as a server can."""

    capabilities = DialogueCapabilities()

    def __init__(self, words: list[str], then: str = "end"):
        self.words, self.then = words, then
        self.settings = DialogueSettings()
        self.last_stats = DialogueStats()
        self.prefixes: list[str] = []
        self.released = threading.Event()

    def stream(
        self,
        messages: Sequence[Message],
        cancel: threading.Event | None = None,
        settings: DialogueSettings | None = None,
        prefix: str = "",
    ) -> Iterator[str]:
        self.prefixes.append(prefix)
        text = prefix + "".join(w + " " for w in self.words)
        step = 8
        for i in range(0, len(text), step):  # pieces that split words, as tokens do
            yield text[i : i + step]
        if self.then == "error":
            raise ServerError("the server at http://x ended the reply mid-stream")
        if self.then == "hang":
            while not (cancel is not None and cancel.is_set()):
                self.released.wait(0.01)

    def reply(self, messages, cancel=None, settings=None, prefix=""):  # noqa: ANN001, ANN201
        return "".join(self.stream(messages, cancel, settings, prefix))

    def prime(self, messages: Sequence[Message]) -> int:
        return 0


def _health(up: bool = True) -> ServerHealth:
    h = ServerHealth(lambda: None, first_retry_s=3600, start_check=False)
    if not up:
        h.failed("refused the connection")
    return h


def test_a_healthy_server_says_the_whole_reply_and_the_board_nothing() -> None:
    remote, board = Scripted(["The", "sea", "is", "wide."]), Scripted(["Board."])
    mind = FallbackDialogue(remote, board, _health(), deadline_s=5)
    assert mind.reply(ASK) == "The sea is wide."
    assert board.prefixes == [] and mind.last_mind == "server" and mind.takeovers == 0


@pytest.mark.parametrize("then", ["error", "hang"])
def test_a_server_that_fails_mid_reply_is_carried_on_by_the_board_from_the_words_said(then: str) -> None:
    remote = Scripted(["The", "sea", "is"], then=then)
    board = Scripted(["wide", "and", "deep."])
    mind = FallbackDialogue(remote, board, _health(), deadline_s=0.3)
    pieces = list(mind.stream(ASK))
    said = "".join(pieces)
    assert board.prefixes == ["The sea is "]  # the board was given exactly what was already out
    assert said == "The sea is wide and deep. "  # and nothing of it was said twice
    assert mind.takeovers == 1 and mind.last_mind == "board" and not mind.health.up


def test_a_server_that_never_answers_costs_the_deadline_then_the_board_answers() -> None:
    remote, board = Scripted([], then="hang"), Scripted(["Hello."])
    mind = FallbackDialogue(remote, board, _health(), deadline_s=0.2)
    assert mind.reply(ASK) == "Hello."
    assert board.prefixes == [""]


def test_while_the_server_is_down_the_board_answers_at_once_without_trying_it() -> None:
    remote, board = Scripted(["Server."]), Scripted(["Board."])
    mind = FallbackDialogue(remote, board, _health(up=False), deadline_s=5)
    assert mind.reply(ASK) == "Board."
    assert remote.prefixes == []  # never asked: no deadline paid on the owner's turn


def test_a_board_with_no_mind_of_its_own_says_so_in_one_sentence() -> None:
    mind = FallbackDialogue(Scripted([], then="error"), None, _health(), deadline_s=0.3)
    assert mind.reply(ASK) == NO_SERVER
    mid = FallbackDialogue(Scripted(["The", "sea"], then="error"), None, _health(), deadline_s=0.3)
    assert "".join(mid.stream(ASK)) == "The sea " + LOST_SERVER


def test_cancel_stops_both_and_the_board_is_not_asked() -> None:
    remote, board = Scripted(["The"], then="hang"), Scripted(["Board."])
    cancel = threading.Event()
    mind = FallbackDialogue(remote, board, _health(), deadline_s=5)
    out = mind.stream(ASK, cancel)
    assert next(out) == "The "
    cancel.set()
    assert list(out) == []
    assert board.prefixes == [] and mind.takeovers == 0


def test_the_health_check_brings_the_server_back_with_backoff() -> None:
    calls: list[int] = []
    back = threading.Event()

    def check() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise ServerError("refused the connection")
        back.set()

    health = ServerHealth(check, first_retry_s=0.01, max_retry_s=0.04, start_check=False)
    health.failed("refused the connection")
    assert back.wait(5) and len(calls) == 3
    for _ in range(100):
        if health.up:
            break
        back.wait(0.01)
    assert health.up and health.outages == 1
