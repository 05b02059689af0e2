"""The calendar by voice: "What's on tomorrow?", "When is my dentist appointment?", "Am I free
Thursday afternoon?", "Add lunch with Anna on Friday at one.", "Move it to two.", "Cancel my meeting
with Bob." Reads come from the board's cache (agenda/); every change is read back and waits for a
"yes". The owner's voice only (wrapped in private.OwnerOnly by the assembly)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from device.agenda.agenda import Agenda
from device.agenda.events import AgendaError, Occurrence
from device.agenda.sources import AgendaConflict, AgendaUnreachable
from device.intents.clock import say_date, say_time, say_when
from device.intents.when import parse_when, split_time_tail
from device.pipeline.text import plain

_ASK = r"^(?:(?:hey|ok|okay|so|and|please|oh)\s+)*(?:(?:can|could|would|will) you\s+)?(?:please\s+)?"
_DAY = r"(?P<day>today|tonight|tomorrow|this (?:morning|afternoon|evening|week)|(?:on )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|(?:on )?the \w+(?: of \w+)?)"  # noqa: E501
_ON_DAY = re.compile(
    _ASK + r"(?:what is|what do i have|what have i got|is there anything|anything|what is happening|"
    r"what is my day(?: like)?|what does my day look like)(?: on| in my calendar| planned| happening)*"
    rf"(?: for)?(?: {_DAY})?(?: in my calendar)?$"
)
_WHEN = re.compile(_ASK + r"when is my (?P<what>.+)$")
_FREE = re.compile(_ASK + r"am i (?P<state>free|busy|available) (?P<when>.+)$")
_ADD = re.compile(
    _ASK + r"(?:add|put|schedule|book|make)(?: an? (?:event|appointment) for)? (?P<rest>.+?)"
    r"(?: (?:to|in|on|into) my (?:calendar|diary))?$"
)
_MOVE = re.compile(_ASK + r"(?:move|change|push|shift) (?:it|that|my (?P<what>.+?)) to (?P<when>.+)$")
_CANCEL = re.compile(_ASK + r"(?:cancel|delete|remove) (?:my |the )?(?P<what>.+?)(?: from my calendar)?$")
_YES = re.compile(
    r"^(?:yes|yeah|yep|sure|okay|ok|do it|go ahead|please do|yes please|that's right|correct)\b"
)
_NO = re.compile(r"^(?:no|nope|don't|do not|never mind|cancel|stop)\b")
_STOP = {"my", "the", "a", "an", "with", "appointment", "meeting", "event", "calendar", "next"}
_PARTS = {"morning": (8, 12), "afternoon": (12, 17), "evening": (17, 22), "tonight": (17, 23)}

NO_CALENDAR = "I don't have your calendar yet. It's set up with os1 config set calendar.source."
UNREACHABLE = "I can't reach your calendar right now"
CONFLICT = "That event changed on your calendar since I last looked, so I left it alone. Ask me again."


def _content(text: str) -> set[str]:
    return {w for w in plain(text).split() if w not in _STOP}


@dataclass
class _Pending:
    """A change read back to the owner, waiting for yes or no."""

    kind: str
    """"add", "move" or "cancel"."""
    summary: str
    start: datetime
    end: datetime
    occurrence: Occurrence | None = None


class CalendarIntent:
    def __init__(self, agenda: Agenda):
        self.agenda = agenda
        self.pending: _Pending | None = None
        self.last: Occurrence | None = None
        """The event spoken of last ("move it to two")."""

    def claims(self, text: str) -> bool:
        t = _norm(text)
        if self.pending is not None and (_YES.match(t) or _NO.match(t)):
            return True
        if _ON_DAY.match(t) or _WHEN.match(t) or _FREE.match(t) or _MOVE.match(t):
            return True
        if (m := _ADD.match(t)) is not None:
            return split_time_tail(m["rest"], self.agenda.now())[1] is not None
        if (m := _CANCEL.match(t)) is not None:
            return bool(self._matching(m["what"]))
        return False

    def __call__(self, text: str) -> str | None:
        t = _norm(text)
        if self.pending is not None and (_YES.match(t) or _NO.match(t)):
            return self._settle(bool(_YES.match(t)))
        self.pending = None
        if (m := _ON_DAY.match(t)) is not None:
            return self._day(m["day"] or "today")
        if (m := _WHEN.match(t)) is not None:
            return self._when(m["what"])
        if (m := _FREE.match(t)) is not None:
            return self._free(m["when"])
        if (m := _MOVE.match(t)) is not None:
            return self._move(m["what"], m["when"])
        if (m := _ADD.match(t)) is not None:
            return self._add(m["rest"], plain(text, lower=False))
        if (m := _CANCEL.match(t)) is not None and self._matching(m["what"]):
            return self._cancel(m["what"])
        return None

    # ------------------------------------------------------------------ reading
    def _caveat(self) -> str:
        return (
            f"{UNREACHABLE}, but from what I had: "
            if isinstance(self.agenda.last_error, AgendaUnreachable)
            else ""
        )

    def _window(self, phrase: str) -> tuple[datetime, datetime, str] | None:
        now = self.agenda.now()
        words = phrase.split()
        part = next((w for w in words if w in _PARTS), None)
        day_words = (
            " ".join(w for w in words if w not in _PARTS and w not in ("this", "in", "the")) or "today"
        )
        if day_words in ("today", "tonight"):
            day = now.date()
        elif day_words == "week":
            start = now
            return start, start + timedelta(days=7), "this week"
        else:
            when = parse_when(day_words, now)
            if when is None:
                return None
            day = when.date()
        lo, hi = _PARTS.get(part or "", (0, 24))
        start = datetime.combine(day, time(0), tzinfo=now.tzinfo) + timedelta(hours=lo)
        end = datetime.combine(day, time(0), tzinfo=now.tzinfo) + timedelta(hours=hi)
        ahead = (day - now.date()).days
        name = {0: "today", 1: "tomorrow"}.get(ahead) or (
            f"on {day:%A}" if 1 < ahead < 7 else f"on {say_date(day)}"
        )
        return start, end, f"{name} {('in the ' + part) if part and part != 'tonight' else ''}".strip()

    def _day(self, phrase: str) -> str:
        window = self._window(phrase.removeprefix("on ").strip())
        if window is None:
            return "I didn't catch which day you mean."
        start, end, name = window
        found = self.agenda.between(start, end)
        if not found:
            return f"{self._caveat()}Nothing in your calendar {name}."
        self.last = found[-1] if len(found) == 1 else None
        items = [_say(o, self.agenda.now(), same_day=name != "this week") for o in found]
        count = f"{len(found)} thing{'s' if len(found) > 1 else ''}"
        return f"{self._caveat()}You have {count} {name}: {_and(items)}."

    def _matching(self, what: str) -> list[Occurrence]:
        words = _content(what)
        return self.agenda.find(words) if words else []

    def _when(self, what: str) -> str | None:
        found = self._matching(what)
        if not found:  # perhaps something the owner told the memory: it answers next
            return None
        self.last = found[0]
        return f"{self._caveat()}{found[0].summary} is {_say_at(found[0], self.agenda.now())}."

    def _free(self, phrase: str) -> str:
        window = self._window(phrase.removeprefix("on ").strip())
        if window is None:
            return "I didn't catch when you mean."
        start, end, name = window
        if (end - start) >= timedelta(hours=24):
            start, end = start + timedelta(hours=8), start + timedelta(hours=20)
        busy = [o for o in self.agenda.between(start, end) if not o.all_day]
        if not busy:
            return f"{self._caveat()}Yes, you're free {name}."
        return (
            f"{self._caveat()}No, {name} you have {_and([_say(o, self.agenda.now(), True) for o in busy])}."
        )

    # ------------------------------------------------------------------ changing: read back, then yes
    def _add(self, rest: str, said: str) -> str | None:
        """`rest`: the words after "add", lowercased; `said`: the request as spoken, for the names' case."""
        now = self.agenda.now()
        summary, start = split_time_tail(rest, now)
        if start is None or not summary.strip():
            return None
        as_said = re.search(re.escape(summary.strip()), said, re.I)
        summary = as_said[0] if as_said else summary.strip()
        summary = summary[0].upper() + summary[1:]
        self.pending = _Pending("add", summary, start, start + timedelta(hours=1))
        return f"Add {summary} {say_when(start, now)}? Say yes to add it."

    def _move(self, what: str | None, phrase: str) -> str:
        occ = self.last if what is None else next(iter(self._matching(what)), None)
        if occ is None:
            return "Which event do you mean?"
        now = self.agenda.now()
        if re.search(
            r"\b(?:today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", phrase
        ):
            start = parse_when(phrase, now)
        else:  # "move it to two": the same day, at that time
            start = parse_when(f"{occ.start:%B} {occ.start.day} at {phrase.removeprefix('at ')}", now)
        if start is None:
            return "I didn't catch the new time."
        self.pending = _Pending("move", occ.summary, start, start + (occ.end - occ.start), occ)
        return f"Move {occ.summary} to {say_when(start, now).removeprefix('on ')}? Say yes to move it."

    def _cancel(self, what: str) -> str:
        occ = self._matching(what)[0]
        self.pending = _Pending("cancel", occ.summary, occ.start, occ.end, occ)
        return f"Cancel {occ.summary} {_say_at(occ, self.agenda.now())}? Say yes to cancel it."

    def _settle(self, yes: bool) -> str:
        p, self.pending = self.pending, None
        assert p is not None
        if not yes:
            return {"add": "Okay, I won't add it.", "move": "Okay, it stays where it is."}.get(
                p.kind, "Okay, it stays."
            )
        try:
            if p.kind == "add":
                self.last = self.agenda.add(p.summary, p.start, p.end)
                return f"Done: {p.summary} is in your calendar."
            assert p.occurrence is not None
            if p.kind == "move":
                self.last = self.agenda.move(p.occurrence, p.start)
                return f"Done: {p.summary} is now {say_when(p.start, self.agenda.now())}."
            self.agenda.cancel(p.occurrence)
            self.last = None
            return f"Done: {p.summary} is cancelled."
        except AgendaConflict:
            return CONFLICT
        except AgendaUnreachable:
            return f"{UNREACHABLE}, so I didn't change anything. Try again in a while."
        except AgendaError as e:
            return f"I couldn't change your calendar: {str(e).split(';')[0]}."


def _norm(text: str) -> str:
    t = plain(text)
    for long, short in (("what's", "what is"), ("when's", "when is"), ("i'm", "i am")):
        t = re.sub(rf"\b{long}\b", short, t)
    return t


def _say_at(o: Occurrence, now: datetime) -> str:
    if o.all_day:
        return "today" if o.start.date() == now.date() else f"on {say_date(o.start.date())}"
    return say_when(o.start, now)


def _say(o: Occurrence, now: datetime, same_day: bool) -> str:
    if o.all_day:
        return f"{o.summary}, all day"
    at = f"at {say_time(o.start)}" if same_day else _say_at(o, now)
    return f"{o.summary} {at}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
