"""Spoken times ("in 20 minutes", "tomorrow at 9", "at half past six", "on Friday at 3pm") to a datetime.

dateparser does the calendar: days ("tomorrow", "on Friday", "the 3rd of December") and durations
("in 20 minutes", "in 2 days"). Spoken clock times it gets wrong, measured with dateparser 1.5:
"tomorrow at 9" came back at the current time of day and "at 6" as the 22nd of June; it cannot read
"half past six" or "tonight". So the clock time is taken out here first, and the hour without am/pm
is resolved the way people mean it: the next 6 o'clock for "at 6", the afternoon for "Friday at 3".
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from device.pipeline.text import plain

_UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
_NUMBER_WORDS = re.compile(
    r"\b(?:(?P<tens>twenty|thirty|forty|fifty)(?:[ -](?P<unit>one|two|three|four|five|six|seven|eight|nine))?"
    r"|(?P<single>" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r"))\b"
)
_PHRASES = [
    (r"\bhalf an hour\b", "30 minutes"),
    (r"\ban hour and a half\b", "90 minutes"),
    (r"\b(?:a )?quarter of an hour\b", "15 minutes"),
    (r"\ba couple of\b", "2"),
    (r"\ba few\b", "5"),
    (r"\bmid ?day\b|\bnoon\b", "12:00 pm"),
    (r"\bmidnight\b", "12:00 am"),
    (r"\bo'? ?clock\b", ""),
]
# Words that say morning or afternoon, and the day they imply ("tonight" = today, in the evening).
_HINTS = [
    (r"\btonight\b|\bthis evening\b", "today", "pm"),
    (r"\bthis afternoon\b", "today", "pm"),
    (r"\bthis morning\b", "today", "am"),
    (r"\b(?:in the )?morning\b", None, "am"),
    (r"\b(?:in the )?(?:afternoon|evening)\b|\bat night\b", None, "pm"),
]
_DURATION = re.compile(
    r"^(?:in )?\d+ (?:second|sec|minute|min|hour|day|week)s?(?: and \d+ (?:minute|second)s?)?$|^in an? \w+$"
)


def _words_to_digits(t: str) -> str:
    def number(m: re.Match[str]) -> str:
        if m.group("single"):
            return str(_UNITS[m.group("single")])
        return str(_TENS[m.group("tens")] + (_UNITS[m.group("unit")] if m.group("unit") else 0))

    return _NUMBER_WORDS.sub(number, t)


def _take_clock(t: str) -> tuple[str, int | None, int, str | None]:
    """Remove the clock time from t: (rest, hour, minute, 'am'|'pm'|None). hour None = no clock time."""
    patterns: list[tuple[str, Any]] = [
        (r"\b(?:at )?half past (\d{1,2})\b", lambda m: (int(m[1]), 30, None)),
        (r"\b(?:at )?(?:a )?quarter past (\d{1,2})\b", lambda m: (int(m[1]), 15, None)),
        (r"\b(?:at )?(?:a )?quarter to (\d{1,2})\b", lambda m: ((int(m[1]) - 1) % 12 or 12, 45, None)),
        (r"\b(?:at )?(\d{1,2})(?:[: ](\d{2}))? ?(am|pm)\b", lambda m: (int(m[1]), int(m[2] or 0), m[3])),
        (r"\b(?:at )?(\d{1,2}):(\d{2})\b", lambda m: (int(m[1]), int(m[2]), None)),
        (
            r"\bat (\d{1,2})(?: (\d{2}))?\b(?! (?:minute|min|hour|day|week)s?\b)",
            lambda m: (int(m[1]), int(m[2] or 0), None),
        ),  # noqa: E501
    ]
    for pattern, read in patterns:
        m = re.search(pattern, t)
        if m:
            hour, minute, meridiem = read(m)
            if hour > 23 or minute > 59 or (meridiem and not 1 <= hour <= 12):
                return t, None, 0, None
            return (t[: m.start()] + " " + t[m.end() :]).strip(), hour, minute, meridiem
    return t, None, 0, None


def _hour24(hour: int, meridiem: str | None) -> int:
    if meridiem == "am":
        return 0 if hour == 12 else hour
    if meridiem == "pm":
        return hour if hour == 12 else hour + 12
    return hour


def _dateparser(text: str, base: datetime) -> datetime | None:
    import dateparser  # ~0.1 s to import and the first parse another ~0.1 s: only when a time is asked for

    settings = {"PREFER_DATES_FROM": "future", "RELATIVE_BASE": base, "RETURN_AS_TIMEZONE_AWARE": False}
    return dateparser.parse(text, languages=["en"], settings=settings)  # type: ignore[arg-type]


def warm() -> None:
    """Import dateparser and build its English tables now, so the first reminder answers at once."""
    _dateparser("in 1 minute", datetime(2000, 1, 1))


def parse_when(phrase: str, now: datetime) -> datetime | None:
    """The moment `phrase` names, after `now` (aware, in now's zone), or None if it is not a time."""
    zone = now.tzinfo
    t = _words_to_digits(plain(phrase))
    for pattern, replacement in _PHRASES:
        t = re.sub(pattern, replacement, t)
    hint_day: str | None = None
    hint_meridiem: str | None = None
    for pattern, day, meridiem in _HINTS:
        if re.search(pattern, t):
            t = re.sub(pattern, f" {day or ''} ", t)
            hint_day = hint_day or day
            hint_meridiem = hint_meridiem or meridiem
    t = re.sub(r"\s+", " ", t).strip()
    rest, hour, minute, meridiem = _take_clock(t)
    rest = re.sub(r"^(?:at|on|for|by)\b|\b(?:at|on|for|by)$", "", rest).strip()
    if hint_day and not rest:
        rest = hint_day
    base = now.replace(tzinfo=None)
    today = rest in ("", "today")

    if hour is None:
        if not rest or (rest == "today" and not hint_meridiem):
            return None
        parsed = now.replace(tzinfo=None) if rest == "today" else _dateparser(rest, base)
        if parsed is None:
            return None
        if _DURATION.match(rest) or rest in ("next week",):
            # A duration counts from now in real time (UTC), so it is right across a DST change.
            return _sane((now.astimezone(UTC) + (parsed - base)).astimezone(zone), now)
        # A day without a time: 9 in the morning, or the part of the day that was named.
        default = {"am": 9, "pm": 19}.get(hint_meridiem or "am", 9)
        return _sane(datetime.combine(parsed.date(), time(default), tzinfo=zone), now)

    if not today:
        parsed = _dateparser(rest, base)
        if parsed is None or _DURATION.match(rest):
            return None
        day: date = parsed.date()
    else:
        day = now.date()

    meridiem = meridiem or hint_meridiem
    if meridiem or hour == 0 or hour > 12:
        hours = [_hour24(hour, meridiem)]
    elif not today:
        # "Friday at 3" means the afternoon; "Friday at 9" the morning (nobody books 3 a.m. by voice).
        hours = [hour + 12 if 1 <= hour <= 6 else hour]
    else:
        hours = [hour, (hour + 12) % 24]  # "at 6": whichever 6 o'clock comes next

    candidates = [datetime.combine(day, time(h, minute), tzinfo=zone) for h in hours]
    if today:
        candidates += [c + timedelta(days=1) for c in candidates]
        candidates = [datetime.combine(c.date(), c.time(), tzinfo=zone) for c in candidates]
    upcoming = sorted(c for c in candidates if c > now)
    return _sane(upcoming[0], now) if upcoming else None


def _sane(when: datetime, now: datetime) -> datetime | None:
    """dateparser reads odd phrases as far-off dates; a reminder is in the future and within a year."""
    return when if now < when <= now + timedelta(days=366) else None


def parse_minutes(phrase: str) -> int | None:
    """'for 10 minutes' / 'in half an hour' / 'an hour' -> minutes, or None."""
    t = _words_to_digits(plain(phrase))
    for pattern, replacement in _PHRASES[:4]:
        t = re.sub(pattern, replacement, t)
    m = re.search(r"\b(\d+|an?) (minute|min|hour)s?\b", t)
    if not m:
        return None
    n = 1 if m[1] in ("a", "an") else int(m[1])
    return n * 60 if m[2] == "hour" else n


_TIME_WORDS = {
    "in", "at", "on", "by", "tomorrow", "tonight", "today", "this", "next", "noon", "midday", "midnight",
    "half", "quarter", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
}  # fmt: skip


def split_time_tail(text: str, now: datetime) -> tuple[str, datetime | None]:
    """'call Mum at 6' / 'lunch with Anna on Friday at one' -> (what, when): the longest tail that reads
    as a time (a reminder's task, an event's title)."""
    body = text.split()
    for i in range(1, len(body)):
        if body[i].lower() in _TIME_WORDS:
            when = parse_when(" ".join(body[i:]), now)
            if when is not None:
                return " ".join(body[:i]), when
    return " ".join(body), None
