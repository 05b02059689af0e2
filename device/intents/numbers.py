"""Numbers as an owner says them, and as the companion says them back.

"seventeen", "twenty-two", "a hundred and five", "2.5", "1,000" are read; results are said with as
few digits as mean anything ("8.05", "453.6", "51").
"""

from __future__ import annotations

import re

_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
NUMBER_WORDS = set(_UNITS) | set(_TENS) | set(_SCALES) | {"and", "point"}

# One number: digits (with , thousands or a decimal point), or a run of number words.
_WORD = r"(?:" + "|".join(sorted(set(_UNITS) | set(_TENS) | set(_SCALES), key=len, reverse=True)) + r")"
NUMBER = rf"(?:-?\d[\d,]*(?:\.\d+)?|{_WORD}(?:[\s-]+(?:and[\s-]+)?{_WORD})*)"


def _words_value(words: list[str]) -> float | None:
    total, current, seen = 0, 0, False
    for w in words:
        if w == "and":
            continue
        if w in _UNITS:
            current += _UNITS[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w == "hundred":
            current = (current or 1) * 100
        elif w in _SCALES:
            total += (current or 1) * _SCALES[w]
            current = 0
        else:
            return None
        seen = True
    return float(total + current) if seen else None


def parse_number(text: str) -> float | None:
    """The value of one spoken or written number, or None."""
    t = text.strip().lower().replace(",", "")
    try:
        return float(t)
    except ValueError:
        pass
    return _words_value(re.split(r"[\s-]+", t))


def say_number(x: float) -> str:
    """How a result is said: whole numbers as they are, others to about four significant digits."""
    if abs(x - round(x)) < 1e-9:
        return f"{int(round(x)):,}" if abs(x) >= 10_000 else str(int(round(x)))
    digits = 1 if abs(x) >= 100 else 2 if abs(x) >= 1 else 3
    return f"{x:.{digits}f}".rstrip("0").rstrip(".")


def normalise_sum(text: str) -> str:
    """An owner's words about numbers, lower-cased with the symbols said as words ("3+4" -> "3 plus
    4") and punctuation gone, but decimals ("2.5") and thousands ("1,000") kept whole."""
    t = (
        text.lower()
        .replace("’", "'")
        .replace("what's", "what is")
        .replace("×", " times ")
        .replace("÷", " divided by ")
    )
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)
    for symbol, word in (("+", "plus"), ("*", "times"), ("/", "divided by"), ("-", "minus")):
        t = re.sub(rf"(?<=\d)\s*{re.escape(symbol)}\s*(?=\d)", f" {word} ", t)
    t = re.sub(r"(?<=\d)\s*%", " percent", t)
    t = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", t)
    t = re.sub(r"[^\w'.\s-]", " ", t)
    return re.sub(r"\s+", " ", t).strip()
