"""Checks on facts a small model can know: numbers (arithmetic, unit conversions), clock time, date."""

from __future__ import annotations

from datetime import timedelta

from device.evals.dialogue import parse
from device.evals.dialogue.checks import Check, Context, Verdict


def number(
    value: float, tolerance: float = 0.0, others_allowed: int = 0, also: tuple[float, ...] = ()
) -> Check:
    """The number (digits or words, within `tolerance` as a fraction) appears, and at most
    `others_allowed` numbers that are neither it, nor in the question, nor in `also` (the same value
    in other units: "100 degrees Celsius (212 Fahrenheit)")."""

    def close(n: float) -> bool:
        return abs(n - value) <= max(abs(value) * tolerance, 1e-9)

    def run(reply: str, ctx: Context) -> Verdict:
        found = parse.numbers_in(reply, lone_one=value == 1)
        asked = parse.numbers_in(ctx.question, lone_one=True)
        others = [n for n in found if not close(n) and n not in asked and n not in also]
        if not any(close(n) for n in found):
            return False, f"no {value:g} in the reply (numbers: {_fmt(found) or 'none'})"
        if len(others) > others_allowed:
            return False, f"{value:g} is there, but so is {_fmt(others)}"
        return True, f"says {value:g}"

    label = f"number {value:g}" + (f" ±{tolerance:.0%}" if tolerance else "")
    return Check(label, run)


def conversion(value: float) -> Check:
    """A unit conversion: right within 1%; one more number is allowed (the factor per unit)."""
    return number(value, tolerance=0.01, others_allowed=1)


def _fmt(ns: list[float]) -> str:
    return ", ".join(f"{n:g}" for n in ns)


def clock_time(offset_min: int = 0, slack_min: int = 2) -> Check:
    """Every clock time in the reply is the clock's (plus `offset_min`) within ±`slack_min`, at some
    moment between sending the turn and the reply; without am/pm, modulo 12 hours."""

    def run(reply: str, ctx: Context) -> Verdict:
        times = parse.times_in(reply)
        if not times:
            return False, "no clock time in the reply"
        start = ctx.started.hour * 60 + ctx.started.minute + offset_min
        span = int((ctx.at - ctx.started).total_seconds() // 60) + 1
        for minute, known in times:
            period = 1440 if known else 720
            d = (minute - start) % period
            if not (d <= span + slack_min or d >= period - slack_min):
                return False, f"says {_hm(minute)}, the clock says {_hm(start)}"
        return True, "the right time"

    return Check("clock time" + (f" +{offset_min} min" if offset_min else ""), run)


def _hm(minute: int) -> str:
    return f"{minute // 60 % 24}:{minute % 60:02d}"


def today_date(offset_days: int = 0, need: str = "either") -> Check:
    """Today's (or today + offset's) weekday or day of the month appears (`need`: either, weekday,
    day), and no other weekday, day, month or year does."""

    def run(reply: str, ctx: Context) -> Verdict:
        targets = {(t + timedelta(days=offset_days)).date() for t in (ctx.started, ctx.at)}
        wd, dom = parse.weekdays_in(reply), parse.days_of_month_in(reply)
        months, years = parse.months_in(reply), parse.years_in(reply)
        right_wd = {d.weekday() for d in targets} & wd
        right_day = {d.day for d in targets} & dom
        wrong = (
            (wd - {d.weekday() for d in targets})
            or (dom - {d.day for d in targets})
            or (months - {d.month for d in targets})
            or (years - {d.year for d in targets})
        )
        want = " or ".join(parse.describe_date(d) for d in sorted(targets))
        if wrong:
            return False, f"wrong date in the reply (today{offset_days:+d} is {want})"
        ok = {"weekday": bool(right_wd), "day": bool(right_day)}.get(need, bool(right_wd or right_day))
        return (True, "the right date") if ok else (False, f"no date matching {want}")

    return Check("date" + (f" {offset_days:+d} day" if offset_days else ""), run)
