"""The speaker encoder and the voice check on real speech: the ONNX conversion against Resemblyzer's
own torch network, the owner (Piper joe) against other voices, and the second look's rule."""

from __future__ import annotations

import numpy as np
import pytest

from device.evals.speech import espeak_speech, join, piper_speech, silence, sox_shift
from device.models.catalog import resolve
from device.models.convert_voice import ONNX_FILE, read_legacy_checkpoint
from device.pipeline.voice_check import OTHER, OWNER, UNSURE, OwnerVoice
from device.pipeline.voiceprint import Embedding, VoiceEncoder, normed, partial_starts, similarity

ENROL = (
    "My name is Sam, and I live by the river in an old brick house.",
    "I like walking early in the morning, before the town wakes up.",
    "My sister Anna lives in Lisbon, and we talk on the phone every Sunday.",
)


@pytest.fixture(scope="module")
def encoder() -> VoiceEncoder:
    return VoiceEncoder(resolve("ge2e-voice-encoder") / ONNX_FILE)


@pytest.fixture(scope="module")
def owner_print(encoder: VoiceEncoder) -> np.ndarray:
    return normed(np.mean([encoder.embed(piper_speech(t, noise_scale=0.667)).vector for t in ENROL], axis=0))


@pytest.mark.models
def test_the_onnx_encoder_matches_resemblyzers_torch_network(encoder: VoiceEncoder) -> None:
    torch = pytest.importorskip("torch")  # the convert extra (not on a Pi)
    state = {
        k: torch.from_numpy(v)
        for k, v in read_legacy_checkpoint(resolve("ge2e-voice-encoder-pt"))["model_state"].items()
    }
    lstm, linear = torch.nn.LSTM(40, 256, 3, batch_first=True), torch.nn.Linear(256, 256)
    lstm.load_state_dict({k.removeprefix("lstm."): v for k, v in state.items() if k.startswith("lstm.")})
    linear.load_state_dict({"weight": state["linear.weight"], "bias": state["linear.bias"]})
    mels = np.abs(np.random.default_rng(0).normal(size=(3, 160, 40))).astype(np.float32)
    with torch.no_grad():
        _, (hidden, _) = lstm(torch.from_numpy(mels))
        ref = torch.relu(linear(hidden[-1]))
        ref = (ref / ref.norm(dim=1, keepdim=True)).numpy()
    ours = encoder._session.run(None, {"mels": mels})[0]
    assert np.abs(ours - ref).max() < 1e-5


@pytest.mark.models
def test_the_owner_is_told_from_other_voices(encoder: VoiceEncoder, owner_print: np.ndarray) -> None:
    check = OwnerVoice(encoder, owner_print, threshold=0.75)
    for text in ("What do you remember about me?", "Remind me to call my mother at six tonight."):
        owner = check.judge(join(silence(0.5), piper_speech(text, noise_scale=0.667), silence(0.3)))
        assert owner.speaker == OWNER, (text, owner.score)
        check.forget_previous()
        for voice in ("en-us", "en-gb", "en+f2", "en+m3"):
            other = check.judge(espeak_speech(text, voice=voice))
            assert other.speaker == OTHER and other.score < 0.7, (voice, other.score)
        shifted = check.judge(sox_shift(piper_speech(text), 5.0))  # the owner's voice, five semitones up
        assert shifted.speaker == OTHER, shifted.score


@pytest.mark.models
def test_a_check_takes_a_few_tens_of_ms_at_most(encoder: VoiceEncoder) -> None:
    long = piper_speech(" ".join(ENROL))  # ~12 s: only the last 6 s of speech are heard
    took = [encoder.embed(long).took_ms for _ in range(3)]
    assert min(took) < 150  # a budget for a loaded CI box; `os1 eval voice` reports the real figure


def _emb(v: np.ndarray) -> Embedding:
    return Embedding(v[None, :].astype(np.float32), 2.0, snr_db=40.0)  # clean speech


class _Scripted:
    """An encoder that returns given embeddings in turn (the second look's rule, not the model)."""

    def __init__(self, vectors: list[np.ndarray]):
        self.vectors = list(vectors)

    def embed(self, _audio: np.ndarray) -> Embedding:
        return _emb(self.vectors.pop(0))


def _at(score: float, base: np.ndarray, other: np.ndarray) -> np.ndarray:
    """A unit vector with cosine `score` to `base` (other must be orthogonal to base)."""
    return score * base + np.sqrt(1 - score**2) * other


def test_a_borderline_score_is_settled_with_the_previous_utterance() -> None:
    e = np.eye(256, dtype=np.float32)
    vp = e[0]
    owner_said = _at(0.85, vp, e[1])
    borderline = _at(0.72, vp, e[2])  # below 0.75, within the 0.05 margin
    check = OwnerVoice(_Scripted([owner_said, borderline]), vp, threshold=0.75, margin=0.05)
    assert check.judge(np.zeros(1)).speaker == OWNER
    second = check.judge(np.zeros(1))
    assert second.speaker == OWNER and second.second_look and second.score == pytest.approx(0.72, abs=1e-4)


def test_a_stranger_after_the_owner_gets_no_second_look() -> None:
    e = np.eye(256, dtype=np.float32)
    vp = e[0]
    check = OwnerVoice(_Scripted([_at(0.9, vp, e[1]), _at(0.5, vp, e[2])]), vp, threshold=0.75, margin=0.05)
    check.judge(np.zeros(1))
    stranger = check.judge(np.zeros(1))
    assert stranger.speaker == OTHER and not stranger.second_look


def test_a_borderline_score_long_after_the_last_utterance_is_not_let_in_but_asked_to_tap() -> None:
    e = np.eye(256, dtype=np.float32)
    now = [0.0]
    check = OwnerVoice(
        _Scripted([_at(0.85, e[0], e[1]), _at(0.72, e[0], e[2])]),
        e[0],
        0.75,
        0.08,
        recent_s=120,
        clock=lambda: now[0],
    )
    check.judge(np.zeros(1))
    now[0] = 600.0
    assert check.judge(np.zeros(1)).speaker == UNSURE
    below = OwnerVoice(_Scripted([_at(0.66, e[0], e[2])]), e[0], 0.75, 0.08)
    assert below.judge(np.zeros(1)).speaker == OTHER  # under the borderline: another voice


def test_partials_cover_the_utterance_as_resemblyzer_slices_it() -> None:
    assert partial_starts(8000) == [0]  # half a second: one padded partial
    starts = partial_starts(16000 * 4)
    assert starts[0] == 0 and all(b - a == 77 for a, b in zip(starts, starts[1:], strict=False))
    assert (starts[-1] + 160) * 160 >= 0.75 * 16000 * 4


def test_similarity_is_the_cosine() -> None:
    a, b = np.array([1.0, 0.0]), np.array([1.0, 1.0])
    assert similarity(a, b) == pytest.approx(np.sqrt(0.5))


def test_a_low_score_in_loud_noise_is_unsure_not_a_stranger() -> None:
    e = np.eye(256, dtype=np.float32)
    noisy = Embedding(_at(0.6, e[0], e[1])[None, :].astype(np.float32), 2.0, snr_db=6.0)
    check = OwnerVoice(_Scripted([]), e[0], threshold=0.75)
    assert check.decide(noisy).speaker == UNSURE
    clean = Embedding(noisy.partials, 2.0, snr_db=30.0)
    assert check.decide(clean).speaker == OTHER


class _Counting:
    """Counts the utterances it is asked to embed."""

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, _audio: np.ndarray) -> Embedding:
        self.calls += 1
        return _emb(np.eye(256, dtype=np.float32)[0])


def _one_pause(voice: OwnerVoice) -> object:
    """Speech, then the words stop: the endpointer starts the check there."""
    from device.pipeline.end_of_turn import Endpointer
    from device.pipeline.settings import LoopSettings

    settings = LoopSettings()
    ep = Endpointer(settings)
    ep.start(0.0, settings, voice=voice)
    frame, t = np.zeros(512, np.int16), 0.0
    for p in [0.9] * 20 + [0.0] * 5:
        t += 0.032
        ep.update(frame, p, t, [frame], lambda: "", False)
    return ep.voice_verdict()


def test_no_voiceprint_and_no_enrolment_computes_nothing_in_the_silence() -> None:
    encoder = _Counting()
    idle = OwnerVoice(encoder, None)
    assert _one_pause(idle) is None and encoder.calls == 0
    idle.learning = True  # the first meeting listens: each answer is embedded
    verdict = _one_pause(idle)
    assert verdict is not None and verdict.result(timeout=5).embedding is not None and encoder.calls == 1  # type: ignore[attr-defined]
