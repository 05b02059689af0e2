"""Unit conversions, exactly: "5 miles in kilometres", "how many grams are in a pound", "how many feet
is 3 metres", "20 degrees Celsius in Fahrenheit", "convert 10 kilos to pounds"."""

from __future__ import annotations

import re

from device.intents.numbers import NUMBER, normalise_sum, parse_number, say_number

# (names as said, singular first and plural second for speaking; quantity; size in the base unit)
_UNITS: list[tuple[tuple[str, ...], str, float]] = [
    (("millimetre", "millimetres", "millimeter", "millimeters", "mm"), "length", 0.001),
    (("centimetre", "centimetres", "centimeter", "centimeters", "cm"), "length", 0.01),
    (("metre", "metres", "meter", "meters", "m"), "length", 1.0),
    (("kilometre", "kilometres", "kilometer", "kilometers", "km", "k"), "length", 1000.0),
    (("inch", "inches"), "length", 0.0254),
    (("foot", "feet", "ft"), "length", 0.3048),
    (("yard", "yards"), "length", 0.9144),
    (("mile", "miles"), "length", 1609.344),
    (("milligram", "milligrams", "mg"), "mass", 0.001),
    (("gram", "grams", "g"), "mass", 1.0),
    (("kilogram", "kilograms", "kilo", "kilos", "kg"), "mass", 1000.0),
    (("ounce", "ounces", "oz"), "mass", 28.349523125),
    (("pound", "pounds", "lb", "lbs"), "mass", 453.59237),
    (("stone", "stones"), "mass", 6350.29318),
    (("tonne", "tonnes"), "mass", 1_000_000.0),
    (("millilitre", "millilitres", "milliliter", "milliliters", "ml"), "volume", 0.001),
    (("litre", "litres", "liter", "liters", "l"), "volume", 1.0),
    (("pint", "pints"), "volume", 0.56826125),
    (("gallon", "gallons"), "volume", 4.54609),
    (("cup", "cups"), "volume", 0.25),
    (("teaspoon", "teaspoons"), "volume", 0.005),
    (("tablespoon", "tablespoons"), "volume", 0.015),
    (("second", "seconds"), "time", 1.0),
    (("minute", "minutes"), "time", 60.0),
    (("hour", "hours"), "time", 3600.0),
    (("day", "days"), "time", 86400.0),
    (("week", "weeks"), "time", 604800.0),
    (("celsius", "celsius", "centigrade", "c"), "temperature", 0.0),
    (("fahrenheit", "fahrenheit", "f"), "temperature", 0.0),
    (("kelvin", "kelvin", "kelvins"), "temperature", 0.0),
]
_BY_NAME = {name: (names, kind, size) for names, kind, size in _UNITS for name in names}
_UNIT = "(?:" + "|".join(sorted(map(re.escape, _BY_NAME), key=len, reverse=True)) + ")"
_DEG = r"(?:degrees? )?"
_LEAD = (
    r"^(?:(?:um|uh|so|ok|okay|hey|and|please|sorry)\s+)*"
    r"(?:(?:can|could) you (?:tell me |work out )?|do you know |tell me )?"
)
_TAIL = r"(?: for me| please| again)*\??$"
_PATTERNS = [
    # "5 miles in kilometres", "what's 20 degrees celsius in fahrenheit", "convert 10 kilos to pounds"
    re.compile(
        _LEAD + rf"(?:what(?:'s| is| are)|whats|convert|change)?\s*(?P<n>{NUMBER}) {_DEG}(?P<src>{_UNIT})"
        rf"(?: is)? (?:in|to|into|as) {_DEG}(?P<dst>{_UNIT})" + _TAIL
    ),
    # "how many centimetres are in an inch", "how many millilitres in 2 litres"
    re.compile(
        _LEAD + rf"how many {_DEG}(?P<dst>{_UNIT}) (?:are |is |is there |are there )?"
        rf"(?:there )?in (?P<n>{NUMBER})?\s*{_DEG}(?P<src>{_UNIT})" + _TAIL
    ),
    # "how many feet is 3 metres", "how many pounds are 10 kilos"
    re.compile(
        _LEAD
        + rf"how many {_DEG}(?P<dst>{_UNIT}) (?:is|are|make|makes) (?P<n>{NUMBER})?\s*{_DEG}(?P<src>{_UNIT})"
        + _TAIL
    ),
]


def _temperature(x: float, src: str, dst: str) -> float:
    kelvin = {"celsius": x + 273.15, "fahrenheit": (x - 32) * 5 / 9 + 273.15, "kelvin": x}[src]
    return {"celsius": kelvin - 273.15, "fahrenheit": (kelvin - 273.15) * 9 / 5 + 32, "kelvin": kelvin}[dst]


def _spoken(names: tuple[str, ...], x: float) -> str:
    singular, plural = names[0], names[1]
    if names[0] in ("celsius", "fahrenheit", "kelvin"):
        return f"degrees {names[0].capitalize()}" if names[0] != "kelvin" else "kelvin"
    return singular if abs(x) == 1 else plural


def convert(text: str) -> str | None:
    """The conversion `text` asks for, said as a sentence; None if it asks none."""
    t = normalise_sum(text)
    for pattern in _PATTERNS:
        m = pattern.match(t)
        if not m:
            continue
        src, dst = _BY_NAME[m.group("src")], _BY_NAME[m.group("dst")]
        if src[1] != dst[1] or src[0] == dst[0]:
            continue
        said = m.group("n") if m.group("n") not in (None, "a", "an") else None
        n = parse_number(said) if said else None
        if said and n is None:
            continue
        amount = 1.0 if n is None else n
        if src[1] == "temperature":
            x = _temperature(amount, src[0][0], dst[0][0])
        else:
            x = amount * src[2] / dst[2]
        if n is None:  # "how many grams are in a pound": one of it
            article = "an" if src[0][0][0] in "aeiou" or src[0][0] == "hour" else "a"
            return f"There are {say_number(x)} {_spoken(dst[0], x)} in {article} {src[0][0]}."
        return f"{say_number(n)} {_spoken(src[0], n)} is {say_number(x)} {_spoken(dst[0], x)}."
    return None
