"""Reading a reply as text: sentences, words, numbers (digits or words), clock times, dates, names.

Pure functions, no model: the checks in `checks.py` are built on these.
"""

from __future__ import annotations

import re
from datetime import date

WORDS_PER_S = 2.6
"""Speaking rate used to estimate seconds of speech from words (an estimate, not a TTS measurement)."""

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})


def norm(text: str) -> str:
    """Curly quotes made straight, so every regex sees one apostrophe."""
    return text.translate(_APOSTROPHES)


def words(text: str) -> list[str]:
    """Lower-case words (digits and apostrophes kept): "It's 9:41." -> ["it's", "9", "41"]."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", norm(text).lower())


def plain(text: str) -> str:
    """Words only, single-spaced: for comparing two sentences regardless of punctuation and case."""
    return " ".join(words(text))


def sentences(text: str) -> list[str]:
    """Sentences split after . ! ? (and at line breaks); empty pieces dropped."""
    parts = re.split(r"(?<=[.!?])[\"')\]]*\s+|\n+", norm(text).strip())
    return [p.strip() for p in parts if p and re.search(r"[A-Za-z0-9]", p)]


LIST_MARKERS = re.compile(r"(?m)^\s*(?:[-*•]|\d+[.)])\s+\S|\b1[.)]\s+\w.*\b2[.)]\s+\w")
"""Bullets or numbered items, on their own lines or inline ("1. eggs 2. flour")."""


def speech_s(text: str) -> float:
    """Estimated seconds to say `text` aloud: words / WORDS_PER_S."""
    return len(words(text)) / WORDS_PER_S


def has_any(text: str, patterns: tuple[str, ...]) -> str | None:
    """The text matched by the first pattern (a regex, case-insensitive, on word boundaries) found."""
    t = norm(text)
    for p in patterns:
        m = re.search(rf"(?<![\w']){p}(?![\w'])", t, re.I)
        if m:
            return m.group()
    return None


_NEGATION = re.compile(r"\b(?:not|never|no|n't|haven't|hasn't|didn't|don't|can't|won't|wouldn't|isn't)\b")


def negated_before(text: str, start: int, window: int = 4) -> bool:
    """Whether one of the `window` words before position `start`, in the same sentence, negates it."""
    sentence = re.split(r"[.!?]\s", norm(text[:start]))[-1]
    before = sentence.lower().split()[-window:]
    return any(_NEGATION.search(w) or w.endswith("n't") for w in before)


# ---- numbers --------------------------------------------------------------------------------------

_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_WORD = set(_UNITS) | set(_TENS) | set(_SCALES) | {"dozen"}
_DIGITS = re.compile(r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def numbers_in(text: str, lone_one: bool = False) -> list[float]:
    """Every number in `text`, written in digits ("1,250", "2.54", "22nd") or words ("fifty-one",
    "a hundred and two", "two point five"). A lone "one" is a pronoun more often than a number
    ("that's one I know"), so it counts only with `lone_one`."""
    t = norm(text).lower()
    out = [float(m.group().replace(",", "")) for m in _DIGITS.finditer(t)]
    tokens = re.findall(r"[a-z]+|[,;:.!?]", t.replace("-", " "))  # punctuation ends a number
    run: list[str] = []
    for i, tok in enumerate(tokens + [""]):
        joins = tok == "and" and run and run[-1] in _SCALES and tokens[i + 1 : i + 2] != []
        is_number = tok in _NUMBER_WORD or (
            tok == "a"
            and tokens[i + 1 : i + 2]
            and tokens[i + 1] in ("hundred", "thousand", "million", "dozen")
        )
        if is_number and run and _starts_new(run[-1], tok):
            out += _flush(run, lone_one)
            run = []
        if is_number or joins:
            run.append(tok)
            continue
        if tok == "point" and run and tokens[i + 1 : i + 2] and tokens[i + 1] in _UNITS:
            run.append(tok)
            continue
        out += _flush(run, lone_one)
        run = []
    return out


def _starts_new(prev: str, tok: str) -> bool:
    """'five six' is two numbers; 'twenty one' and 'one hundred' are one."""
    if tok == "a" or prev in _UNITS and tok in _UNITS or prev in _UNITS and tok in _TENS:
        return True
    return prev in _TENS and (tok in _TENS or tok in _UNITS and _UNITS[tok] >= 10)


def _flush(run: list[str], lone_one: bool) -> list[float]:
    while run and run[-1] in ("and", "point"):
        run = run[:-1]
    if not run or (run == ["one"] and not lone_one) or run == ["a"]:
        return []
    whole, _, decimals = " ".join(run).partition(" point ")
    total = current = 0.0
    for tok in whole.split():
        if tok in _UNITS:
            current += _UNITS[tok]
        elif tok in _TENS:
            current += _TENS[tok]
        elif tok == "dozen":
            current = max(current, 1) * 12
        elif tok == "hundred":
            current = max(current, 1) * 100
        elif tok in _SCALES:
            total += max(current, 1) * _SCALES[tok]
            current = 0
    value = total + current
    if decimals:
        digits = "".join(str(_UNITS[d]) for d in decimals.split() if d in _UNITS and _UNITS[d] < 10)
        value += float(f"0.{digits}") if digits else 0.0
    return [value]


# ---- clock times ----------------------------------------------------------------------------------

_HOUR_WORDS = {w: n for w, n in _UNITS.items() if 1 <= n <= 12}
_MINUTE = r"(?:\d{1,2}|" + "|".join(sorted(set(_UNITS) | set(_TENS), key=len, reverse=True)) + r")"
_HOUR = r"(?:\d{1,2}|" + "|".join(_HOUR_WORDS) + r")"
_MERIDIEM = (
    r"\s*(?P<mer>a\.?m\.?|p\.?m\.?|in the morning|in the afternoon|in the evening|at night"
    r"|tonight)?"
)
_TIME_PATTERNS = [
    re.compile(r"\b(?P<h>\d{1,2})[:.](?P<m>\d{2})(?!\d)" + _MERIDIEM, re.I),
    re.compile(rf"\b(?P<h>{_HOUR})\s*o'?clock\b" + _MERIDIEM, re.I),
    re.compile(r"\b(?P<h>\d{1,2})\s*(?P<mer>a\.?m\.?|p\.?m\.?)(?![a-z])", re.I),
    re.compile(
        rf"\b(?P<m>quarter|half|{_MINUTE}(?:[ -]{_MINUTE})?)(?: minutes?)? (?P<dir>past|after|to|before)"
        rf" (?P<h>{_HOUR})\b" + _MERIDIEM,
        re.I,
    ),
    re.compile(r"\b(?P<word>noon|midday|midnight)\b", re.I),
]


def times_in(text: str) -> list[tuple[int, bool]]:
    """Clock times in `text` as (minute of the day, whether am/pm is known). Without am/pm the
    minute is taken in the morning (0-719); the caller compares it modulo 12 hours."""
    t = norm(text)
    found: list[tuple[int, int, tuple[int, bool]]] = []
    for pattern in _TIME_PATTERNS:
        for m in pattern.finditer(t):
            if any(s < m.end() and m.start() < e for s, e, _ in found):
                continue  # already read by an earlier, more specific pattern
            value = _time_value(m)
            if value is not None:
                found.append((m.start(), m.end(), value))
    return [v for _, _, v in sorted(found)]


def _time_value(m: re.Match[str]) -> tuple[int, bool] | None:
    groups = m.groupdict()
    if groups.get("word"):
        return (0, True) if groups["word"].lower() == "midnight" else (12 * 60, True)
    hour = _small_number(groups["h"])
    minute_text = (groups.get("m") or "0").lower()
    minute = {"quarter": 15, "half": 30}.get(minute_text)
    if minute is None:
        minute = _small_number(minute_text)
    if hour is None or minute is None or hour > 23 or minute > 59:
        return None
    if groups.get("dir"):
        if hour > 12:
            return None
        if groups["dir"].lower() in ("to", "before"):
            hour, minute = (hour - 1) % 12, 60 - minute
    mer = (groups.get("mer") or "").lower().replace(".", "")
    if hour > 12:
        return hour * 60 + minute, True
    if mer in ("am", "in the morning"):
        return (hour % 12) * 60 + minute, True
    if mer in ("pm", "in the afternoon", "in the evening"):
        return (hour % 12 + 12) * 60 + minute, True
    return (hour % 12) * 60 + minute, False


def _small_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    values = numbers_in(text, lone_one=True)
    return int(values[0]) if len(values) == 1 else None


# ---- dates ----------------------------------------------------------------------------------------

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_RE = "|".join(m.capitalize() for m in MONTHS) + r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec"


def weekdays_in(text: str) -> set[int]:
    """Weekdays named in `text` (0 = Monday)."""
    ws = set(words(text))
    return {i for i, d in enumerate(WEEKDAYS) if d in ws or d + "s" in ws}


def months_in(text: str) -> set[int]:
    """Months named in `text` (1-12). "May" counts only capitalised (it is also a verb)."""
    found = set()
    for m in re.finditer(rf"\b(?:{_MONTH_RE})\b", norm(text)):
        key = m.group().lower()[:3]
        found.add(next(i for i, name in enumerate(MONTHS, 1) if name.startswith(key)))
    return found


def days_of_month_in(text: str) -> set[int]:
    """Days of the month: "22nd", "the 22nd", "November 22", "22 November", ISO "2026-11-22"."""
    t = norm(text)
    found = {int(m[1]) for m in re.finditer(r"\b(\d{1,2})(?:st|nd|rd|th)\b", t, re.I)}
    found |= {int(m[1]) for m in re.finditer(rf"\b(?:{_MONTH_RE})\.? (\d{{1,2}})\b(?!:)", t)}
    found |= {int(m[1]) for m in re.finditer(rf"\b(\d{{1,2}}) (?:of )?(?:{_MONTH_RE})\b", t)}
    found |= {int(m[1]) for m in re.finditer(r"\b\d{4}-\d{2}-(\d{2})\b", t)}
    return {d for d in found if 1 <= d <= 31}


def years_in(text: str) -> set[int]:
    return {int(y) for y in re.findall(r"\b(19\d\d|20\d\d)\b", text)}


def describe_date(d: date) -> str:
    return f"{d:%A} {d.day} {d:%B}"


# ---- names ----------------------------------------------------------------------------------------

# Capitalised words that are no name or place even in the middle of a sentence.
ALWAYS_OK = frozenset(
    "i i'm i'd i've i'll ai a.i ok okay tv uk us usa eu dm sms pm am gps wifi mr mrs ms dr god".split()
    + list(WEEKDAYS)
    + [m for m in MONTHS]
)
# A sentence's first word is capitalised whatever it is, and no word list here can tell "Birthdays"
# from "Bristol". So a first word counts as a name only when the next word is capitalised too ("New
# York is …"), or it is a first name or place small models like to invent (these lists).
INVENTED_NAMES = frozenset(
    """alex alexa amy anna ben bella charlie chloe daisy david emily emma george grace harry jack jake
    james jane jessica john kate lily lucy luna mary max mia michael olivia oliver rex ruby sam sarah
    sophia sophie tom tommy bob bobby buddy coco milo bailey rocky lucky molly jasper oscar leo rosie
    paris london berlin rome madrid tokyo sydney chicago boston seattle toronto dublin amsterdam
    california texas florida york france spain italy germany england scotland america canada australia
    ashbury brooklyn manhattan hollywood vegas miami""".split()
)
_CAPITAL = re.compile(r"[A-Z][A-Za-z'.-]*[A-Za-z]|[A-Z]")
_WORD = re.compile(r"[A-Za-z][A-Za-z'.-]*[A-Za-z]|[A-Za-z]")


def names_in(text: str) -> list[str]:
    """Capitalised words that look like names or places: any capitalised word inside a sentence
    (English capitalises only names there), and a sentence's first word when the next is
    capitalised too or it is in INVENTED_NAMES. "She lives in New York" -> ["New", "York"]."""
    out: list[str] = []
    for s in sentences(text):
        for piece in _clauses(s):
            tokens = [re.sub(r"'s$", "", m.group()) for m in _WORD.finditer(piece)]
            for i, word in enumerate(tokens):
                low = word.lower().rstrip(".")
                if not _CAPITAL.fullmatch(word) or low in ALWAYS_OK:
                    continue
                if i == 0:
                    nxt = tokens[1] if len(tokens) > 1 else ""
                    pair = bool(_CAPITAL.fullmatch(nxt)) and nxt.lower() not in ALWAYS_OK
                    if not (pair or low in INVENTED_NAMES):
                        continue
                out.append(word)
    return out


def _clauses(sentence: str) -> list[str]:
    """A sentence cut after ':' and quotes, where a capital letter starts afresh."""
    return [p for p in re.split(r"(?<=[:\"])\s*", sentence) if p]
