"""Sums and unit conversions, worked out exactly: a 135M-parameter model can't count ("What's 17
times 3?" -> "240", measured). "What's 17 times 3?", "add 250 and 175", "15 percent of 200", "nine
squared", "half of 86"; then "now double it" works on the last answer. "5 miles in kilometres",
"how many grams are in a pound", "20 degrees Celsius in Fahrenheit"."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from device.intents.numbers import NUMBER, normalise_sum, parse_number, say_number

N = rf"(?P<a>{NUMBER})"
M = rf"(?P<b>{NUMBER})"
_ASK = (
    r"^(?:(?:um|uh|so|ok|okay|hey|and|please|sorry)\s+)*"
    r"(?:(?:can|could) you (?:tell me |work out |figure out )?|do you know |tell me |quick question )?"
    r"(?:what(?:'s| is| are)|how much is|how much are|whats|calculate|work out)?\s*"
)
_BINARY: list[tuple[str, Callable[[float, float], float], str]] = [
    (rf"{N} (?:plus|\+|and) {M}", lambda a, b: a + b, "plus"),
    (rf"{N} (?:minus|-|take away|less) {M}", lambda a, b: a - b, "minus"),
    (rf"{N} (?:times|x|\*|multiplied by) {M}", lambda a, b: a * b, "times"),
    (rf"{N} (?:divided by|over|/) {M}", lambda a, b: a / b, "divided by"),
    (rf"{N} (?:percent|per cent|%) of {M}", lambda a, b: a / 100 * b, "percent of"),
    (rf"{N} to the power of {M}", lambda a, b: a**b, "to the power of"),
]
_VERBS: list[tuple[str, Callable[[float, float], float], str]] = [
    (rf"add {N} (?:and|to|plus) {M}", lambda a, b: a + b, "plus"),
    (rf"subtract {M} from {N}", lambda a, b: a - b, "minus"),
    (rf"take {M} (?:away )?from {N}", lambda a, b: a - b, "minus"),
    (rf"multiply {N} by {M}", lambda a, b: a * b, "times"),
    (rf"divide {N} by {M}", lambda a, b: a / b, "divided by"),
]
_UNARY: list[tuple[str, Callable[[float], float], str]] = [
    (rf"{N} squared", lambda a: a * a, "{a} squared"),
    (rf"{N} cubed", lambda a: a**3, "{a} cubed"),
    (rf"(?:the )?square root of {N}", math.sqrt, "the square root of {a}"),
    (rf"half (?:of )?{N}", lambda a: a / 2, "half of {a}"),
    (rf"(?:a )?quarter of {N}", lambda a: a / 4, "a quarter of {a}"),
    (rf"(?:double|twice) {N}", lambda a: a * 2, "double {a}"),
]
# On the last answer: "now double it", "and half of that", "times two", "plus 5".
_ON_LAST: list[tuple[str, Callable[[float, float], float]]] = [
    (r"(?:now |and |then )?(?:double|twice) (?:it|that)", lambda x, _: x * 2),
    (r"(?:now |and |then )?(?:half|halve) (?:of )?(?:it|that)", lambda x, _: x / 2),
    (r"(?:now |and |then )?(?:square|squared) (?:it|that)?", lambda x, _: x * x),
    (rf"(?:now |and |then )?(?:it |that )?(?:plus|add) {M}", lambda x, b: x + b),
    (rf"(?:now |and |then )?(?:it |that )?(?:minus|take away) {M}", lambda x, b: x - b),
    (rf"(?:now |and |then )?(?:it |that )?(?:times|multiplied by) {M}", lambda x, b: x * b),
    (rf"(?:now |and |then )?(?:it |that )?divided by {M}", lambda x, b: x / b),
]
_TAIL = r"(?: for me| please| again| then| exactly)*\??$"


def _compile(body: str) -> re.Pattern[str]:
    return re.compile(_ASK + body + _TAIL)


_BINARY_RE = [(_compile(p), f, w) for p, f, w in _BINARY + _VERBS]
_UNARY_RE = [(_compile(p), f, w) for p, f, w in _UNARY]
_ON_LAST_RE = [(re.compile(r"^(?:(?:um|so|ok|okay|and)\s+)*" + p + _TAIL), f) for p, f in _ON_LAST]


def _value(m: re.Match[str], group: str) -> float | None:
    text = m.group(group)
    return parse_number(text) if text else None


class MathsIntent:
    """Arithmetic on spoken numbers, with the last answer kept for a follow-up ("now double it")."""

    def __init__(self, convert: Callable[[str], str | None] | None = None):
        self.convert = convert
        self.last: float | None = None

    def __call__(self, text: str) -> str | None:
        t = normalise_sum(text)
        answer = self._binary(t) or self._unary(t) or self._on_last(t)
        if answer is None and self.convert is not None:
            return self.convert(text)
        return answer

    def claims(self, text: str) -> bool:
        saved = self.last
        try:
            return self(text) is not None
        finally:
            self.last = saved

    def _say(self, question: str, x: float) -> str:
        self.last = x
        return f"{question} is {say_number(x)}."

    def _binary(self, t: str) -> str | None:
        for pattern, f, word in _BINARY_RE:
            if m := pattern.match(t):
                a, b = _value(m, "a"), _value(m, "b")
                if a is None or b is None:
                    continue
                if word == "divided by" and b == 0:
                    return "You can't divide by zero."
                return self._say(f"{say_number(a)} {word} {say_number(b)}", f(a, b))
        return None

    def _unary(self, t: str) -> str | None:
        for pattern, f, words in _UNARY_RE:
            if (m := pattern.match(t)) and (a := _value(m, "a")) is not None:
                if f is math.sqrt and a < 0:
                    return "A negative number has no real square root."
                return self._say(words.format(a=say_number(a)).capitalize(), f(a))
        return None

    def _on_last(self, t: str) -> str | None:
        if self.last is None:
            return None
        for pattern, f in _ON_LAST_RE:
            if m := pattern.match(t):
                b = _value(m, "b") if "b" in pattern.groupindex else 0.0
                if b is None:
                    continue
                x = f(self.last, b)
                self.last = x
                return f"That's {say_number(x)}."
        return None
