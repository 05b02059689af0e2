"""The voiceprint: the owner against impostors, clean and in street noise, short commands and long
sentences: equal error rate, false accepts, false rejects and the time per check.

The owner is Piper's joe voice, rendered with sampling noise so no two clips are alike, enrolled from
five sentences it never says again. Impostors are every other voice this box has: espeak-ng's
voices and variants, and the owner's own clips pitch-shifted by sox (a different-sounding person
made from the owner's recordings). Joe at other length and noise settings is the same voice
speaking faster, slower or flatter: it is scored as the owner (one row of its own), since counting
it a stranger would measure prosody, not identity. Pitch shifts of 2 semitones are reported apart:
closer to the owner than most real strangers are.

What a synthetic set cannot show: how real people differ from each other (far more than espeak's
formant voices do), a real owner's day-to-day changes (a cold, a whisper, a new microphone), or a
determined impostor replaying a recording of the owner.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

from device.evals.speech import (
    at_level,
    espeak_speech,
    join,
    mix,
    pink_noise,
    piper_speech,
    silence,
    sox_shift,
)
from device.pipeline.voice_check import OTHER, OWNER, UNSURE, OwnerVoice
from device.pipeline.voiceprint import Embedding, VoiceEncoder, normed

ENROL = (
    "My name is Sam, and I live by the river in an old brick house.",
    "I like walking early in the morning, before the town wakes up.",
    "Please call me Sam. Most of my friends do, and so does my mother.",
    "I work at the library, and I love quiet afternoons with a good book.",
    "My sister Anna lives in Lisbon, and we talk on the phone every Sunday.",
)
SHORT = (
    "What time is it?", "Read me my letters.", "What do you remember about me?", "Cancel my reminder.",
    "Set a timer for ten minutes.", "Forget that.", "Who am I?", "Any new messages?",
    "What's on tomorrow?", "Remind me at six.", "Read it again.", "Send the letter.",
)  # fmt: skip
LONG = (
    "Remind me to call my mother at six tonight, before dinner.",
    "I had a really long day at work, and I just want to rest for a while.",
    "Can you tell me what the weather might be like this afternoon?",
    "Forget what I told you about Anna and her new job in the city.",
    "What's on my list for tomorrow morning, before the meeting at ten?",
    "Tell me something nice about the sea, I could use it today.",
    "Write a letter to my grandmother about the garden and the roses.",
    "I think I left my keys at the cafe near the station this morning.",
    "When is my dentist appointment, and do I need to bring anything?",
    "Please read me the last letter I wrote to Anna, slowly.",
    "My brother is coming to stay next week, so remember that for me.",
    "How long would it take to walk to the park from here, roughly?",
)
ESPEAK_VOICES = (
    "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en+m1", "en+m3",
    "en+m5", "en+m7", "en+f1", "en+f2", "en+f4", "en+croak", "en+klatt", "en-us+michael",
)  # fmt: skip
SHIFTS = (-5.0, -4.0, -3.0, 3.0, 4.0, 5.0)
NEAR_SHIFTS = (-2.0, 2.0)
NOISE = {"clean": None, "street -30 dBFS": -30.0, "street -20 dBFS": -20.0}
SPEECH_DBFS = -18.0  # Piper's own level, about what a lapel microphone gives a voice
THRESHOLD = 0.75  # owner.voice_threshold's default


@dataclass
class Trial:
    who: str  # "owner", "owner, other prosody", "espeak-ng", "pitch-shifted owner", "owner ±2 semitones"
    length: str  # "short" or "long"
    noise: str
    embedding: Embedding


@dataclass
class Report:
    trials: int
    eer: float
    threshold: float
    false_accepts: dict[str, float] = field(default_factory=dict)
    false_rejects: dict[str, float] = field(default_factory=dict)
    false_rejects_second_look: dict[str, float] = field(default_factory=dict)
    asked_to_tap: dict[str, float] = field(default_factory=dict)
    false_accepts_second_look: float = 0.0
    near_owner_accepted: float = 0.0
    check_ms_median: float = 0.0
    check_ms_p90: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


def in_noise(speech: np.ndarray, noise_dbfs: float | None, seed: int) -> np.ndarray:
    """The clip as the loop hands it to the check: half a second before the words, a pause after."""
    x = join(silence(0.5), at_level(speech, SPEECH_DBFS), silence(0.3))
    if noise_dbfs is None:
        return x
    return mix(x, pink_noise(len(x) / 16000 + 0.1, noise_dbfs, seed=seed))


def owner_clip(text: str, length_scale: float | None = None, noise_scale: float = 0.667) -> np.ndarray:
    return piper_speech(text, length_scale=length_scale, noise_scale=noise_scale)


def clips(quick: bool = False) -> Iterator[tuple[str, str, np.ndarray]]:
    """(who, length, speech) for every test clip, before noise."""
    sets = (("short", SHORT[:4] if quick else SHORT), ("long", LONG[:4] if quick else LONG))
    for length, texts in sets:
        for i, text in enumerate(texts):
            yield "owner", length, owner_clip(text)
            if i % 3 == 0:
                yield "owner, other prosody", length, owner_clip(text, length_scale=0.8)
                yield "owner, other prosody", length, owner_clip(text, length_scale=1.25, noise_scale=0.3)
            voices = ESPEAK_VOICES[i % 4 :: 4] if quick else ESPEAK_VOICES[i % 2 :: 2]
            for voice in voices:
                yield "espeak-ng", length, espeak_speech(text, voice=voice)
            plain = owner_clip(text, noise_scale=0.0)
            for shift in SHIFTS[i % 2 :: 2]:
                yield "pitch-shifted owner", length, sox_shift(plain, shift, tempo=1.0 + 0.05 * (i % 3 - 1))
            yield "owner ±2 semitones", length, sox_shift(plain, NEAR_SHIFTS[i % 2])


def enrol(encoder: VoiceEncoder) -> np.ndarray:
    """The owner's voiceprint from the enrolment sentences, clean (as `os1 voice enroll` makes it)."""
    return normed(np.mean([encoder.embed(in_noise(owner_clip(t), None, 0)).vector for t in ENROL], axis=0))


def equal_error_rate(owner: list[float], others: list[float]) -> float:
    best = 1.0
    for t in np.unique(np.concatenate([owner, others])):
        fr = float(np.mean(np.asarray(owner) < t))
        fa = float(np.mean(np.asarray(others) >= t))
        best = min(best, max(fr, fa))
    return best


def trials_of(encoder: VoiceEncoder, quick: bool = False, progress: Callable[[str], None] = lambda _s: None
              ) -> list[Trial]:  # fmt: skip
    """Every clip in every noise, embedded once."""
    trials: list[Trial] = []
    for n, (who, length, speech) in enumerate(clips(quick)):
        for noise, dbfs in NOISE.items():
            trials.append(Trial(who, length, noise, encoder.embed(in_noise(speech, dbfs, seed=n))))
        if n % 40 == 0:
            progress(f"{len(trials)} trials")
    return trials


def evaluate(encoder: VoiceEncoder, trials: list[Trial], threshold: float = THRESHOLD) -> Report:
    voiceprint = enrol(encoder)
    check = OwnerVoice(encoder, voiceprint, threshold)
    score = {id(t): check.score(t.embedding) for t in trials}
    owners = [t for t in trials if t.who.startswith("owner") and "semitones" not in t.who]
    strangers = [t for t in trials if t.who in ("espeak-ng", "pitch-shifted owner")]
    eer = equal_error_rate([score[id(t)] for t in owners], [score[id(t)] for t in strangers])
    rep = Report(len(trials), eer, threshold)

    def alone(t: Trial) -> str:
        check.forget_previous()
        return check.decide(t.embedding).speaker

    def after_owner(t: Trial) -> str:
        """As the loop judges it just after one of the owner's utterances in the same noise."""
        before = next(o for o in owners if o.who == "owner" and o.noise == t.noise and o is not t)
        check.forget_previous()
        check.decide(before.embedding)
        return check.decide(t.embedding).speaker

    for group in ("espeak-ng", "pitch-shifted owner"):
        for noise in NOISE:
            g = [t for t in strangers if t.who == group and t.noise == noise]
            rep.false_accepts[f"{group}, {noise}"] = _rate(g, lambda t: alone(t) == OWNER)
    rep.false_accepts_second_look = _rate(strangers, lambda t: after_owner(t) == OWNER)
    for who in ("owner", "owner, other prosody"):
        for noise in NOISE:
            for length in ("short", "long"):
                g = [t for t in owners if t.who == who and t.noise == noise and t.length == length]
                key = f"{who}, {length}, {noise}"
                rep.false_rejects[key] = _rate(g, lambda t: alone(t) == OTHER)
                rep.asked_to_tap[key] = _rate(g, lambda t: alone(t) == UNSURE)
                rep.false_rejects_second_look[key] = _rate(g, lambda t: after_owner(t) == OTHER)
    near = [t for t in trials if "semitones" in t.who]
    rep.near_owner_accepted = _rate(near, lambda t: alone(t) == OWNER)
    took = [t.embedding.took_ms for t in trials]
    rep.check_ms_median, rep.check_ms_p90 = float(np.median(took)), float(np.percentile(took, 90))
    rep.counts = {w: sum(t.who == w for t in trials) for w in dict.fromkeys(t.who for t in trials)}
    return rep


def _rate(trials: list[Trial], hit: Callable[[Trial], bool]) -> float:
    return float(np.mean([hit(t) for t in trials])) if trials else float("nan")


def print_report(rep: Report) -> None:
    print(f"{rep.trials} trials ({', '.join(f'{k}: {v}' for k, v in rep.counts.items())})")
    print(f"equal error rate of the score (owner against strangers, all conditions): {rep.eer:.1%}")
    print(f"\nfalse accepts at the threshold {rep.threshold:.2f}:")
    for k, v in rep.false_accepts.items():
        print(f"  {k:48} {v:6.1%}")
    print(f"  {'any stranger, just after the owner spoke':48} {rep.false_accepts_second_look:6.1%}")
    print(f"  {'owner ±2 semitones (not counted above)':48} {rep.near_owner_accepted:6.1%} accepted")
    print(
        "\nthe owner: refused as a stranger / asked to tap (borderline or too loud) / refused after "
        "speaking once:"
    )
    for k, v in rep.false_rejects.items():
        print(f"  {k:48} {v:6.1%} / {rep.asked_to_tap[k]:6.1%} / {rep.false_rejects_second_look[k]:6.1%}")
    print(f"\ntime per check on this box: median {rep.check_ms_median:.1f} ms, p90 {rep.check_ms_p90:.1f} ms")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--threshold",
        type=float,
        nargs="+",
        default=[THRESHOLD],
        help="operating points (owner.voice_threshold)",
    )
    ap.add_argument("--quick", action="store_true", help="a third of the clips (for the tests)")
    ap.add_argument("--json", metavar="F", help="also write the report to this JSON file")
    ap.add_argument(
        "--enrol-into", metavar="DIR", help="only write the owner's voiceprint into this state dir"
    )
    args = ap.parse_args(argv)
    from device.models.catalog import resolve
    from device.models.convert_voice import ONNX_FILE

    encoder = VoiceEncoder(resolve("ge2e-voice-encoder") / ONNX_FILE)
    if args.enrol_into:
        from pathlib import Path

        from device.persona import voiceprint

        vp = voiceprint.Voiceprint(enrol(encoder), len(ENROL), 0.0, "ge2e-voice-encoder")
        print(f"voiceprint of the eval's owner written to {voiceprint.save(Path(args.enrol_into), vp)}")
        return 0
    trials = trials_of(encoder, args.quick, progress=lambda s: print(s, flush=True))
    reports = []
    for threshold in args.threshold:
        reports.append(evaluate(encoder, trials, threshold))
        print()
        print_report(reports[-1])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump([asdict(r) for r in reports], f, indent=2)
    return 0
