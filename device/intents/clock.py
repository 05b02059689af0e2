"""The time and the date, from the system clock in the system timezone: never from the LLM."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo

from device.intents.text import ordinal
from device.pipeline.text import plain

Now = Callable[[], datetime]


def local_zone() -> tzinfo:
    """The system timezone as a real zone (DST-aware), not a fixed offset: reminders cross DST changes."""
    try:
        import tzlocal

        return tzlocal.get_localzone()
    except Exception:  # no /etc/localtime, odd TZ value: the offset in force now is the best left
        zone = datetime.now().astimezone().tzinfo
        assert zone is not None
        return zone


def system_now() -> datetime:
    return datetime.now(local_zone())


def part_of_day(hour: int) -> str:
    if hour < 5:
        return "at night"
    if hour < 12:
        return "in the morning"
    if hour < 17:
        return "in the afternoon"
    if hour < 22:
        return "in the evening"
    return "at night"


def say_time(t: datetime) -> str:
    """'9:41 in the evening', '9 o'clock in the morning', 'noon', 'midnight'."""
    if t.minute == 0 and t.hour in (0, 12):
        return "midnight" if t.hour == 0 else "noon"
    hour = t.hour % 12 or 12
    clock = f"{hour} o'clock" if t.minute == 0 else f"{hour}:{t.minute:02d}"
    return f"{clock} {part_of_day(t.hour)}"


def say_date(d: date) -> str:
    """'Sunday, the 22nd of November'."""
    return f"{d:%A}, the {ordinal(d.day)} of {d:%B}"


def say_when(t: datetime, now: datetime) -> str:
    """When something is, relative to now: 'at 6:00 in the evening', 'tomorrow at noon', 'on Friday …'."""
    days = (t.date() - now.date()).days
    at = f"at {say_time(t)}"
    if days == 0:
        return at
    if days == 1:
        return f"tomorrow {at}"
    if 1 < days < 7:
        return f"on {t:%A} {at}"
    return f"on {say_date(t.date())}, {at}"


_TIME = re.compile(
    r"^(?:(?:hey|ok|okay|so|and|um|uh|please|sorry|excuse me)\s+)*"
    r"(?:(?:can|could) you (?:tell me )?|do you know |tell me )?"
    r"(?:what(?:'s| is) the time|what time is it|what time it is|the time please"
    r"|(?:got|have you got) the time)"
    r"(?: (?:now|right now|please|again))*$"
)
_DATE = re.compile(
    r"^(?:(?:hey|ok|okay|so|and|um|uh|please|sorry)\s+)*"
    r"(?:(?:can|could) you (?:tell me )?|do you know |tell me )?"
    r"(?:what(?:'s| is) (?:the date|today's date|the day)|what day is it|what day it is|what date is it"
    r"|what(?:'s| is) the date today|(?:what|which) day of the week is it|which day is it|what's today)"
    r"(?: (?:today|now|please|again))*$"
)
# "what day is it tomorrow", "what's the date tomorrow", "what day was it yesterday", "what day is tomorrow"
_OTHER_DAY = re.compile(
    r"^(?:(?:hey|ok|okay|so|and|um|uh|please|sorry)\s+)*"
    r"(?:what(?:'s| is| was)? (?:the date|the day|day|date)(?: is it| was it| will it be)?|what day is)"
    r" (?P<when>tomorrow|yesterday|the day after tomorrow)$"
)


# Right after the time or the date: "and tomorrow?", "what about in an hour?", "and the day after?"
_THEN = r"^(?:(?:and|what about|how about|so|ok|okay)\s+)*"
_NEXT_DAY = re.compile(_THEN + r"(?:tomorrow|the day after(?: tomorrow)?|yesterday)(?: then)?$")
_LATER = re.compile(_THEN + r"in (?P<n>an|a|one|two|three|half an|\d+) (?P<unit>hours?|minutes?)(?: time)?$")
_NUMBERS = {"an": 1, "a": 1, "one": 1, "two": 2, "three": 3}
FOLLOW_UP_S = 120.0  # a follow-up this soon after the answer is about the same thing


class ClockIntent:
    """Answers 'what time is it' and 'what's the date' exactly, and a follow-up on them ("and
    tomorrow?"); nothing else (not 'I had a great time')."""

    def __init__(self, now: Now = system_now):
        self.now = now
        self._last: tuple[str, datetime] | None = None  # what was asked ("time"/"date") and when

    def __call__(self, text: str) -> str | None:
        t, now = plain(text), self.now()
        if _TIME.match(t):
            self._last = ("time", now)
            return f"It's {say_time(now)}."
        if _DATE.match(t):
            self._last = ("date", now)
            return f"It's {say_date(now.date())}."
        if m := _OTHER_DAY.match(t):
            self._last = ("date", now)
            return self._other_day(m["when"], now)
        return self._follow_up(t, now)

    def _follow_up(self, t: str, now: datetime) -> str | None:
        if self._last is None or (now - self._last[1]).total_seconds() > FOLLOW_UP_S:
            return None
        kind = self._last[0]
        if kind == "date" and (m := _NEXT_DAY.match(t)):
            return self._other_day(m.group(0), now)
        if kind == "time" and (m := _LATER.match(t)):
            n = _NUMBERS.get(m["n"], None)
            amount = 0.5 if m["n"] == "half an" else float(n if n is not None else int(m["n"]))
            minutes = amount * (60 if m["unit"].startswith("hour") else 1)
            later = say_time(now + timedelta(minutes=minutes))
            return f"In {m['n']} {m['unit']}, it'll be {later}."
        return None

    @staticmethod
    def _other_day(said: str, now: datetime) -> str:
        days = -1 if "yesterday" in said else 2 if "day after" in said else 1
        word = {1: "Tomorrow", 2: "The day after tomorrow", -1: "Yesterday"}[days]
        verb = "was" if days < 0 else "is"
        return f"{word} {verb} {say_date((now + timedelta(days=days)).date())}."

    def claims(self, text: str) -> bool:
        t = plain(text)
        return bool(_TIME.match(t) or _DATE.match(t) or _OTHER_DAY.match(t))
