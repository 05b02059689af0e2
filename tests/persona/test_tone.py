"""Tone of voice on the real Piper voice: tones change the pace, the pause is there, tags are
never spoken, the owner's name is said the way they say it."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from device.app.engines import build_tts
from device.config.schema import TtsConfig
from device.persona.persona import Persona
from device.persona.tone import CLAUSE_PAUSE_S, VOICES, Tone, TonedTTS, classify, pause_after, take_tag
from device.pipeline.tts import PiperTTS, Prosody

pytestmark = pytest.mark.models

SENTENCE = "The garden looks lovely in the morning light, and the birds are singing."


class RecordingPiper(PiperTTS):
    """The real Piper engine, remembering what text and prosody it was given."""

    def __init__(self, inner: PiperTTS):
        self.voice, self.sample_rate, self.prosody = inner.voice, inner.sample_rate, inner.prosody
        self.calls: list[tuple[str, Prosody | None]] = []

    def synthesize(self, text: str, prosody: Prosody | None = None) -> Iterator[np.ndarray]:
        self.calls.append((text, prosody))
        return super().synthesize(text, prosody)


@pytest.fixture(scope="module")
def piper() -> PiperTTS:
    return build_tts(TtsConfig())


def speech_s(tts: TonedTTS, tone: Tone, text: str = SENTENCE) -> float:
    """Seconds of speech (without the pause) in `tone`, averaged over three renderings: Piper's
    timing noise varies each one a little."""
    runs = [sum(len(a) for a in tts.inner.synthesize(text, tts.prosody(tone))) for _ in range(3)]
    return float(np.mean(runs)) / tts.sample_rate


def test_calm_is_slower_than_excited_on_the_real_voice(piper: PiperTTS) -> None:
    tts = TonedTTS(piper, Persona())
    calm, warm, excited, sad = (speech_s(tts, t) for t in (Tone.CALM, Tone.WARM, Tone.EXCITED, Tone.SAD))
    assert calm / excited > 1.12, (calm, excited)
    assert excited < warm < calm < sad


def test_pause_follows_each_sentence(piper: PiperTTS) -> None:
    tts = TonedTTS(piper, Persona())
    [audio] = list(tts.synthesize("[calm] Take a slow breath."))
    pause = int(VOICES[Tone.CALM].pause_s * tts.sample_rate)
    assert not audio[-pause:].any()  # exact digital silence, the length of the calm pause
    assert np.abs(audio[:-pause]).max() > 1000  # and speech before it
    two = list(tts.synthesize("I'm so sorry for your loss. That is wonderful news!"))
    assert len(two) == 2  # one array per sentence, so the loop can tell what was heard
    assert [t for t, _ in tts.last_tones] == [Tone.SAD, Tone.EXCITED]


def test_a_first_chunk_cut_mid_sentence_gets_no_sentence_pause(piper: PiperTTS) -> None:
    """The loop's first chunk may end between words ("The capital city of France") or at a comma:
    the sentence goes on in the next chunk, so a full pause there would be a gap mid-sentence."""
    assert pause_after("The capital city of France", 0.45) == 0.0
    assert pause_after("Well, in the end,", 0.45) == CLAUSE_PAUSE_S
    assert pause_after('It is "Paris."', 0.45) == 0.45
    tts = TonedTTS(piper, Persona())
    [audio] = list(tts.synthesize("[calm] The capital city of France"))
    calm_pause = int(VOICES[Tone.CALM].pause_s * tts.sample_rate)
    assert audio[-calm_pause:].any()  # speech runs into the end, not a calm pause


def test_tag_is_stripped_and_sets_the_tone(piper: PiperTTS) -> None:
    rec = RecordingPiper(piper)
    tts = TonedTTS(rec, Persona())
    audio = tts.synthesize_all("[excited] We did it. (warm) Well done, you.")
    assert len(audio) > tts.sample_rate
    texts = [text for text, _ in rec.calls]
    assert texts == ["We did it.", "Well done, you."]
    assert all("[" not in t and "(" not in t for t in texts)
    lengths = [p.length_scale for _, p in rec.calls if p is not None]
    assert lengths == [pytest.approx(VOICES[Tone.EXCITED].length), pytest.approx(VOICES[Tone.WARM].length)]


def test_owner_name_is_said_their_way_and_energy_sets_the_pace(piper: PiperTTS) -> None:
    rec = RecordingPiper(piper)
    persona = Persona(owner_name="Siobhan", owner_pronunciation="Shiv-awn", energy="low")
    tts = TonedTTS(rec, persona)
    list(tts.synthesize("Good morning, Siobhan."))
    assert rec.calls[0][0] == "Good morning, Shiv-awn."
    assert tts.last_tones[0][0] is Tone.CALM  # a low-energy persona defaults to calm
    lively = TonedTTS(piper, Persona(energy="high"))
    assert lively.prosody(Tone.WARM).length_scale < tts.prosody(Tone.WARM).length_scale


def test_configured_rate_still_applies(piper: PiperTTS) -> None:
    slow = build_tts(TtsConfig(length_scale=1.5))
    base = TonedTTS(piper, Persona()).prosody(Tone.WARM).length_scale
    assert TonedTTS(slow, Persona()).prosody(Tone.WARM).length_scale == pytest.approx(1.5 * (base or 0))


@pytest.mark.parametrize(
    "text, tone",
    [
        ("I'm so sorry to hear about your loss.", Tone.SAD),
        ("Congratulations, that's amazing!", Tone.EXCITED),
        ("That is amazing.", Tone.WARM),  # no exclamation: the default
        ("Take a deep breath and relax.", Tone.CALM),
        ("Paris is the capital of France.", Tone.WARM),
        ("Sorry, that's great!", Tone.SAD),  # sympathy wins
    ],
)
def test_classifier(text: str, tone: Tone) -> None:
    assert classify(text, Tone.WARM) is tone


def test_take_tag() -> None:
    assert take_tag("[Warm] Hello.") == (Tone.WARM, "Hello.")
    assert take_tag("*happy* Yes!") == (Tone.EXCITED, "Yes!")
    assert take_tag("[laughs] Hello.") == (None, "[laughs] Hello.")  # not a tone: left for speakable()
    assert take_tag("Hello [warm].") == (None, "Hello [warm].")  # only at the start of a sentence
