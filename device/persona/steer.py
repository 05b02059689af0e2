"""Meeting the owner's mood: a reply to bad news opens with acknowledgement and has no cheer in it,
good news gets warmth, anger gets calm. Measured before this: "I had a rough day at work today." ->
"Awesome! I'm glad to hear that you're enjoying your day so far." (SmolLM2-135M).

The mood is read from the owner's words (`mood.MoodReader`). For a clear mood the reply starts with
an opening that fits (spoken at once; the LLM goes on from it), the prompt gets a one-line hint, the
voice takes the mood's tone, and a chunk that cheers at sad news is not said: a short kind line is
said instead. A neutral turn is left to the LLM as it is.
"""

from __future__ import annotations

import itertools
import logging

from device.persona.mood import Mood, MoodReader
from device.persona.tone import Tone, TonedTTS
from device.pipeline.events import Steer

log = logging.getLogger("os1.persona")

CONFIDENT = 0.4  # below this the reading is a guess (measured): the reply is not steered

# Cheer, and what reads as cheer, at sad or worried news (an "!" too).
_CHEER = (r"!", r"\bgreat\b", r"\bawesome\b", r"\bwonderful\b", r"\bfantastic\b", r"\bamazing\b",
          r"\bbrilliant\b", r"\bexcellent\b", r"\bexcit\w*", r"\bcongrat\w*", r"\bglad\b", r"\bhappy\b",
          r"\benjoy\w*", r"\bperfect\b", r"\bfun\b", r"\blucky\b", r"\byay\b", r"\bhooray\b",
          r"\bgood (?:for you|news)\b", r"\bnice\b", r"\blove\b")  # fmt: skip
# At anger: no scolding, no shouting, no cheer.
_SCOLD = (r"!", r"\bcalm down\b", r"\brelax\b", r"\bchill\b", r"\bover ?react\w*", r"\byour (?:own )?fault\b",
          r"\bget over it\b", r"\bno big deal\b", r"\bwhatever\b", r"\bgreat\b", r"\bawesome\b", r"\bfun\b",
          r"\bglad\b", r"\bhappy\b", r"\benjoy\w*")  # fmt: skip
# At good news: no condolences.
_SORROW = (r"\bsorry\b", r"\bcondolences\b", r"\bunfortunately\b", r"\bthat's (?:hard|tough|sad)\b")

_STEERS: dict[Mood, tuple[tuple[str, ...], str, tuple[str, ...], str, Tone]] = {
    # openings (taken in turn), hint, what it must not say, the line said instead, the voice's tone
    Mood.SAD: (
        ("I'm so sorry, that sounds really hard.", "Oh, I'm sorry, that's a lot to carry.",
         "I'm really sorry to hear that."),
        "The owner has had bad news or feels low. Be gentle and kind; do not cheer or joke.",
        _CHEER,
        "I'm here if you want to talk about it.",
        Tone.SAD,
    ),
    Mood.ANXIOUS: (
        ("That sounds really stressful.", "That sounds like a lot to deal with.",
         "I'm sorry, that sounds hard."),
        "The owner is worried or stressed. Be calm and reassuring; do not cheer.",
        _CHEER,
        "We can take it one step at a time.",
        Tone.CALM,
    ),
    Mood.ANGRY: (
        ("That sounds really frustrating.", "I'd be annoyed too, that's not fair.",
         "I get why you're upset."),
        "The owner is angry. Stay calm and on their side; do not scold, joke or cheer.",
        _SCOLD,
        "That would upset anyone.",
        Tone.CALM,
    ),
    Mood.HAPPY: (
        ("That's wonderful news!", "Oh, that's lovely to hear!", "That's brilliant, well done!"),
        "The owner has good news. Be warm and happy for them.",
        _SORROW,
        "I'm really happy for you.",
        Tone.EXCITED,
    ),
}  # fmt: skip


class Steering:
    """`steering(text)` -> the Steer for a reply to `text`, or None for a neutral turn. Sets the toned
    voice's mood too, so the reply is said in a tone that fits."""

    def __init__(self, reader: MoodReader, voice: TonedTTS | None = None):
        self.reader = reader
        self.voice = voice
        self._turns = {mood: itertools.count() for mood in _STEERS}

    def __call__(self, text: str) -> Steer | None:
        reading = self.reader.read(text)
        steer = _STEERS.get(reading.mood) if reading.confidence >= CONFIDENT else None
        if self.voice is not None:
            self.voice.mood_tone = steer[4] if steer is not None else None
        if steer is None:
            return None
        openings, hint, avoid, fallback, _tone = steer
        log.info("mood: %s (%.2f, %s)", reading.mood.value, reading.confidence, reading.cue)
        opening = openings[next(self._turns[reading.mood]) % len(openings)]
        return Steer(hint=hint, opening=opening, avoid=avoid, fallback=fallback, mood=reading.mood.value)
