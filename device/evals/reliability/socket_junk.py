"""The junk for `os1 eval reliability fuzz-socket`: seeded random request lines and garbage, and the
checks of what the daemon must answer to each."""

from __future__ import annotations

import json
import random
from typing import Any

from device.app import control

MAX = control.MAX_REQUEST_BYTES
WORDS = ["hello", "time", "weather", "remember", "Anna", "music", "lights", "tomorrow", "why", "ok"]
NASTY = [
    "[" * 5000 + "]" * 5000,  # deeper than Python's recursion limit
    '{"cmd": "status", "x": ' + "[" * 3000 + "]" * 3000 + "}",
    "9" * 5000,  # past Python's 4300-digit limit for int()
    '{"cmd": "status", "n": ' + "1" * 5000 + "}",
    "NaN",
    '{"cmd": NaN}',
    "1e999",
    '{"cmd": "ping", "cmd": 5}',
    '"\\ud800"',
    '{"cmd": "\\ud800"}',
    "\ufeff" + '{"cmd": "ping"}',
    '{"cmd": "ping"}\r',
    '{"cmd": "ping"} {"cmd": "status"}',
    "",
    '{"cmd": "ask", "text": "What time is it?", "speak": "no"}',
    '{"cmd": "ask", "text": "What time is it?", "speak": 1}',
    '{"cmd": "forget", "all": true, "folder": "\\u0000"}',
    '{"cmd": "say", "text": "' + "a" * (control.MAX_SAY_CHARS + 1) + '"}',
    '{"cmd": "ask", "text": "' + "a" * (control.MAX_ASK_CHARS + 1) + '"}',
    ' \t{"cmd": "ping"}  ',
    '{"cmd": "ping", "text": "' + "\\\\" * 1000 + '"}',
]


def reply_problem(raw: bytes) -> str | None:
    """What is wrong with one reply line, or None."""
    if not raw.endswith(b"\n"):
        return f"a reply not ended by a line end: {raw[:80]!r}"
    try:
        reply = json.loads(raw)
    except ValueError:
        return f"a reply that is not JSON: {raw[:80]!r}"
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        return f"a reply without ok: {raw[:80]!r}"
    err = reply.get("error")
    if not reply["ok"] and (not isinstance(err, str) or not err.strip() or "\n" in err):
        return f"an error that is not one line: {raw[:80]!r}"
    return None


def expected_error(line: bytes) -> str | None:
    """The start of the error a request line must get, or None if it may be answered either way."""
    if len(line) > MAX:
        return "request too large"
    try:
        request = json.loads(line)
    except (ValueError, RecursionError):
        return "bad request"
    if not isinstance(request, dict):
        return "bad request"
    if not isinstance(request.get("cmd"), str) or request["cmd"] not in control.COMMANDS:
        return "unknown command"
    return None


def check_lines(line: bytes, raw: bytes) -> str | None:
    """A request line and the reply it got."""
    if not raw:
        return f"no reply to {line[:60]!r}"
    problem = reply_problem(raw)
    if problem:
        return problem
    want, reply = expected_error(line), json.loads(raw)
    if want and (reply["ok"] or not str(reply["error"]).startswith(want)):
        return f"{line[:60]!r} got {raw[:100]!r}, not {want!r}"
    return None


# ------------------------------------------------------------------------------------ the junk
class Junk:
    """Seeded random requests. Good `ask` and `say` requests run a real turn or a real voice: a few only."""

    def __init__(self, rng: random.Random, turns: int):
        self.rng, self.turns = rng, turns

    def text(self) -> str:
        r = self.rng
        pool = [
            chr(r.randrange(32, 0x2FFF)),
            chr(r.randrange(0, 32)),
            r.choice(WORDS) + " ",
            '"',
            "\\",
            "\u200b",
            "\ud83d",
        ]
        return "".join(r.choice(pool) for _ in range(r.randrange(0, 24)))

    def value(self, depth: int = 0) -> Any:
        r = self.rng
        k = r.randrange(8 if depth < 3 else 6)
        if k == 0:
            return None
        if k == 1:
            return r.random() < 0.5
        if k == 2:
            return r.choice([0, -1, 2**31, -(2**63), 2**64 + 1, r.randint(-(10**30), 10**30)])
        if k == 3:
            return r.choice([0.5, -0.0, 1e308, float("nan"), float("inf"), r.uniform(-1e9, 1e9)])
        if k in (4, 5):
            return self.text()
        if k == 6:
            return [self.value(depth + 1) for _ in range(r.randrange(4))]
        return {self.text(): self.value(depth + 1) for _ in range(r.randrange(4))}

    def request(self) -> dict[str, Any]:
        r = self.rng
        roll = r.random()
        if roll < 0.6:
            cmd: Any = r.choice(control.COMMANDS)
        elif roll < 0.75:
            cmd = r.choice(control.COMMANDS).upper() if r.random() < 0.5 else " " + r.choice(control.COMMANDS)
        elif roll < 0.9:
            cmd = self.text()
        else:
            cmd = self.value()
        req: dict[str, Any] = {"cmd": cmd} if r.random() < 0.95 else {}
        for key in ("text", "speak", "all", "folder", self.text()):
            if r.random() < 0.4:
                req[key] = self.value(1)
        if req.get("all") is not True and cmd == "forget" and r.random() < 0.5:
            req["all"] = True  # so that the folder is looked at
        return self._affordable(req)

    def _affordable(self, req: dict[str, Any]) -> dict[str, Any]:
        """A good ask or say costs a real turn or a spoken line: kept to the budget, else made bad."""
        text = req.get("text")
        good = isinstance(text, str) and text.strip() and len(text) <= 2000
        if req.get("cmd") not in ("ask", "say") or not good:
            return req
        if req["cmd"] == "ask" and not isinstance(req.get("speak", False), bool):
            return req  # refused for its speak
        if self.turns > 0 and self.rng.random() < 0.3:
            self.turns -= 1
            req["text"] = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randrange(1, 4)))
            req["speak"] = False
            return req
        req["text"] = self.rng.choice([None, 7, [], {}, "", "   ", True])
        return req

    def line(self) -> bytes:
        r = self.rng
        if r.random() < 0.1:
            text = r.choice(NASTY)
        else:
            text = json.dumps(
                self.value() if r.random() < 0.15 else self.request(), ensure_ascii=r.random() < 0.5
            )
        return text.encode("utf-8", "surrogatepass") + b"\n"

    def garbage(self) -> bytes:
        r = self.rng
        size = r.choice([1, 2, 100, 4096, 65536, 200_000])
        data = r.randbytes(r.randrange(1, size + 1))
        return data.replace(b"\n", b"") if r.random() < 0.2 else data
