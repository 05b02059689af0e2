"""The long day the soak plays into one daemon: what the owner says and when, the quiet and the street
between, taps, reminders, memories that pile up, and a device unplugged every hour. Seeded: one seed is
one day. The plan is JSON, and each request is a WAV made once (Piper or espeak-ng), so the daemon's
process holds only the one it is hearing."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from device.drivers.wavfile import write_wav

PLACES = ["the gym", "the office", "the pool", "the school", "the station", "the club", "the library"]
CHAT = [
    "What is the capital of France?",
    "Tell me something interesting about octopuses.",
    "What should I cook tonight?",
    "How far away is the moon?",
    "Can you suggest a good book for the weekend?",
    "Why is the sky blue?",
    "What's a nice thing to do on a rainy afternoon?",
    "Tell me a short joke.",
]
BAD_DAY = [
    "I had a really bad day at work.",
    "My dog is sick and I am worried about her.",
    "I feel lonely tonight.",
    "I failed my driving test again.",
]
QUESTIONS = ["What is seventeen times three?", "What time is it?", "What's twelve plus thirty?"]
TASKS = ["stretch my legs", "drink some water", "call my sister", "check the oven", "take my pills"]
# Most turns keep to the Piper voice the wake word knows; the espeak-ng voices are tapped in (the wake
# word misses some of them: see os1 bench), and so is a tenth of the rest.
VOICES = ["piper"] * 6 + ["piper-slow"] * 2 + ["espeak-en-us", "espeak-en-gb"]


@dataclass(frozen=True)
class Say:
    """The owner says something (and waits for the reply)."""

    text: str
    """What is said, after "Hey Jarvis." unless the button is tapped first."""
    kind: str
    """chat | bad-day | question | memory | recall | reminder."""
    voice: str
    """piper | piper-slow | espeak-en-us | espeak-en-gb."""
    tap: bool
    """The button is tapped instead of the wake word."""
    street: bool
    """Said over street noise."""
    clip: str
    """The WAV's name in the clips dir."""
    code: str = ""
    """For a memory: the code to remember (its digits), checked in the memory database at the end."""
    task: str = ""
    """For a reminder: what to be reminded of, checked in the reminders database at the end."""


@dataclass(frozen=True)
class Quiet:
    """Nobody speaks to it: silence, or the street."""

    seconds: float
    street: bool


@dataclass(frozen=True)
class Unplug:
    """The microphone or the earpiece goes away (a pulled USB plug) and comes back."""

    device: str


Item = Say | Quiet | Unplug


def plan_day(hours: float, seed: int) -> list[Item]:
    """About one request every two minutes of audio, quiet stretches of 15 s to 8 min between them, a
    third of them in the street, and an unplugged device at every hour (the microphone, then the
    earpiece; on a day of under 2.5 hours, twice in the day)."""
    rng = random.Random(seed)
    items: list[Item] = []
    every = min(3600.0, hours * 3600 / 2.5)
    audio_s, next_unplug, unplugs, codes = 0.0, every, 0, set[str]()
    remembered: list[tuple[str, str]] = []
    while audio_s < hours * 3600:
        quiet = rng.choice([15, 30, 30, 45, 60, 60, 90, 120, 180, 480])
        items.append(Quiet(float(quiet), street=rng.random() < 0.35))
        audio_s += quiet + 5
        if audio_s >= next_unplug and next_unplug < hours * 3600:  # not in the last quiet's overshoot
            items.append(Unplug("microphone" if unplugs % 2 == 0 else "earpiece"))
            unplugs, next_unplug = unplugs + 1, next_unplug + every
        items.append(_request(rng, len(items), codes, remembered))
    return items


def _request(rng: random.Random, n: int, codes: set[str], remembered: list[tuple[str, str]]) -> Say:
    kind = rng.choices(["chat", "bad-day", "question", "memory", "recall", "reminder"], [5, 2, 2, 4, 2, 2])[0]
    if kind == "recall" and not remembered:
        kind = "memory"
    code = task = ""
    if kind == "memory":
        place = rng.choice(PLACES)
        while (code := str(rng.randrange(1000, 10000))) in codes:
            pass
        codes.add(code)
        remembered.append((place, code))
        text = f"Remember that my locker code at {place} is {code}."
    elif kind == "recall":
        text = f"What is my locker code at {rng.choice(remembered)[0]}?"
    elif kind == "reminder":
        task = rng.choice(TASKS)
        text = f"Remind me in {rng.choice(['two', 'three', 'four'])} minutes to {task}."
    else:
        text = rng.choice({"chat": CHAT, "bad-day": BAD_DAY, "question": QUESTIONS}[kind])
    voice = rng.choice(VOICES)
    tap = voice.startswith("espeak") or rng.random() < 0.1
    street = rng.random() < 0.25
    return Say(text, kind, voice, tap, street, f"{n:05d}.wav", code, task)


def speak(text: str, voice: str) -> np.ndarray:
    from device.evals.speech import espeak_speech, piper_speech

    if voice.startswith("espeak-"):
        return espeak_speech(text, voice=voice.removeprefix("espeak-"))
    return piper_speech(text, length_scale=1.25 if voice == "piper-slow" else None)


def make_clips(items: list[Item], clips: Path) -> None:
    """Each request as a WAV ("Hey Jarvis." first unless tapped), made once per distinct wording."""
    from device.evals.speech import join, silence

    clips.mkdir(parents=True, exist_ok=True)
    made: dict[tuple[str, str, bool], np.ndarray] = {}
    for say in (i for i in items if isinstance(i, Say)):
        key = (say.text, say.voice, say.tap)
        if key not in made:
            parts = [] if say.tap else [speak("Hey Jarvis.", say.voice), silence(0.4)]
            made[key] = join(*parts, speak(say.text, say.voice))
        write_wav(clips / say.clip, made[key])


def save_plan(items: list[Item], path: Path) -> None:
    path.write_text(json.dumps([{"type": type(i).__name__, **asdict(i)} for i in items]) + "\n")


def load_plan(path: Path) -> list[Item]:
    kinds: dict[str, type[Say] | type[Quiet] | type[Unplug]] = {"Say": Say, "Quiet": Quiet, "Unplug": Unplug}
    return [kinds[d.pop("type")](**d) for d in json.loads(path.read_text())]
