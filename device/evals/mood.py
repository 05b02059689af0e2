"""Which mood reader: `python -m device.evals.mood [--json F] [--split test]`.

Reads the owner utterances of `mood_data` with each candidate and scores it on a held-out split (40%,
chosen by a hash of each utterance, per mood) that nothing here fits or tunes on: VADER's thresholds
and the logistic regression are fitted on the training split, the seed phrases ship in
`device/persona/mood.py` and share no sentence with the set. Besides accuracy and per-mood recall it
counts the two mistakes that hurt: cheering at bad news (sad/anxious/angry read as happy) and
misplaced sympathy (a neutral request read as sad or angry).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from device.evals.mood_data import TRICKY, labelled
from device.persona.mood import MOODS, NEGATIVE, Mood, MoodReader, centroids, words_of

TEST_FRACTION = 0.4
Predict = Callable[[str], Mood]
Example = tuple[Mood, str]


def split(test_fraction: float = TEST_FRACTION) -> tuple[list[Example], list[Example]]:
    """(train, test): per mood, the utterances sorted by a hash of their text, the first share held out.
    Stable across runs and machines, and adding an utterance moves few others."""
    by_mood: dict[Mood, list[str]] = {}
    for mood, text in labelled():
        by_mood.setdefault(Mood(mood), []).append(text)
    train: list[Example] = []
    test: list[Example] = []
    for mood, texts in by_mood.items():
        texts = sorted(texts, key=lambda t: hashlib.sha1(t.encode()).hexdigest())
        k = round(len(texts) * test_fraction)
        test += [(mood, t) for t in texts[:k]]
        train += [(mood, t) for t in texts[k:]]
    return train, test


@dataclass
class Score:
    name: str
    """The candidate, as in the table."""
    n: int
    """Utterances scored."""
    accuracy: float
    """Share read as their label."""
    recall: dict[str, float]
    """Per mood, the share of its utterances read as that mood."""
    cheer: int
    """Sad, anxious or angry utterances read as happy: the companion cheering at bad news."""
    negative: int
    """How many sad, anxious or angry utterances there were."""
    sympathy: int
    """Neutral utterances read as sad or angry: misplaced sympathy for a plain request."""
    neutral: int
    """How many neutral utterances there were."""
    tricky: float
    """Accuracy on the negated, mixed, sarcastic and loaded-word utterances alone."""
    ms: float
    """Mean time to read one utterance, one call each, warm."""
    note: str = ""
    """What the candidate cannot do, or why it did not run."""


def score(name: str, predict: Predict, data: list[Example], note: str = "") -> Score:
    predict(data[0][1])  # warm: the first call pays for lazy loading
    tricky = {t for _, t in TRICKY}
    got: list[Mood] = []
    start = time.perf_counter()
    for _, text in data:
        got.append(predict(text))
    ms = (time.perf_counter() - start) * 1000 / len(data)
    pairs = list(zip([m for m, _ in data], got, strict=True))
    hits_tricky = [want == have for (want, have), (_, t) in zip(pairs, data, strict=True) if t in tricky]
    return Score(
        name=name,
        n=len(data),
        accuracy=sum(w == h for w, h in pairs) / len(pairs),
        recall={m.value: _share([h == m for w, h in pairs if w == m]) for m in MOODS},
        cheer=sum(w in NEGATIVE and h is Mood.HAPPY for w, h in pairs),
        negative=sum(w in NEGATIVE for w, _ in pairs),
        sympathy=sum(w is Mood.NEUTRAL and h in (Mood.SAD, Mood.ANGRY) for w, h in pairs),
        neutral=sum(w is Mood.NEUTRAL for w, _ in pairs),
        tricky=_share(hits_tricky),
        ms=ms,
        note=note,
    )


def _share(hits: list[bool]) -> float:
    return sum(hits) / len(hits) if hits else 0.0


def _accuracy(predict: Predict, data: list[Example]) -> float:
    return sum(predict(t) == m for m, t in data) / len(data)


# --- the candidates -------------------------------------------------------------------------------


def vader(train: list[Example]) -> tuple[Predict, str]:
    """VADER's compound valence with the two thresholds that do best on the training split. Valence
    only: every negative reads as sad, the commonest negative mood and the safest reply."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    compound = {t: analyzer.polarity_scores(t)["compound"] for _, t in train}

    def mapped(value: float, low: float, high: float) -> Mood:
        return Mood.HAPPY if value >= high else Mood.SAD if value <= low else Mood.NEUTRAL

    grid = [i / 20 for i in range(1, 16)]
    low, high = max(
        ((-lo, hi) for lo in grid for hi in grid),
        key=lambda th: sum(mapped(compound[t], *th) == m for m, t in train),
    )

    def predict(text: str) -> Mood:
        return mapped(analyzer.polarity_scores(text)["compound"], low, high)

    note = f"neutral between {low:+.2f} and {high:+.2f}; cannot tell sad, anxious and angry apart"
    return predict, note


_NRC = {"sadness": Mood.SAD, "fear": Mood.ANXIOUS, "anger": Mood.ANGRY, "disgust": Mood.ANGRY}


def nrclex(train: list[Example]) -> tuple[Predict, str]:
    """The NRC emotion lexicon. Its own tokenizer (TextBlob) needs NLTK corpora downloaded from the
    network, so it is given plain lower-case words; the emotion with the most words wins."""
    from nrclex import NRCLex

    lexicon = NRCLex()

    def predict_with(text: str, fallback: bool) -> Mood:
        lexicon.load_token_list(words_of(text).split())
        raw = lexicon.raw_emotion_scores
        votes: dict[Mood, float] = {}
        for emotion, mood in (*_NRC.items(), ("joy", Mood.HAPPY)):
            votes[mood] = votes.get(mood, 0) + raw.get(emotion, 0)
        if fallback:  # words with a valence and no emotion
            votes[Mood.SAD] += 0.5 * raw.get("negative", 0)
            votes[Mood.HAPPY] += 0.5 * raw.get("positive", 0)
        best = max(votes, key=lambda m: votes[m])
        return best if votes[best] > 0 else Mood.NEUTRAL

    fallback = _accuracy(lambda t: predict_with(t, True), train) > _accuracy(
        lambda t: predict_with(t, False), train
    )
    note = "offline only as a word list (TextBlob's corpora are a download)"
    return (lambda t: predict_with(t, fallback)), note + ("; valence words count" if fallback else "")


def textblob_offline() -> str:
    """Why NRCLex's own entry point fails here: the message of its error, or "" if it works."""
    try:
        from nrclex import NRCLex

        NRCLex().load_raw_text("I had a rough day at work today.")
        return ""
    except Exception as e:  # MissingCorpusError, or LookupError from NLTK
        first = re.sub(r"\s+", " ", str(e)).strip().split(".")[0]
        return f"{type(e).__name__}: {first}"


def seed_centroids(reader: MoodReader) -> tuple[Predict, str]:
    """The nearest centroid of the shipped seed phrases' MiniLM embeddings, nothing else."""
    assert reader.embedder is not None
    embedder = reader.embedder
    c = centroids(embedder)

    def predict(text: str) -> Mood:
        return MOODS[int(np.argmax(embedder.embed([text])[0] @ c.T))]

    return predict, "no cue words, no negation, no floor for neutral"


def logistic(reader: MoodReader, train: list[Example]) -> tuple[Predict, str]:
    """Softmax regression on MiniLM embeddings, fitted on the training split (plain gradient descent)."""
    assert reader.embedder is not None
    embedder = reader.embedder
    x = embedder.embed([t for _, t in train])
    y = np.eye(len(MOODS))[[MOODS.index(m) for m, _ in train]]
    w = np.zeros((x.shape[1], len(MOODS)))
    b = np.zeros(len(MOODS))
    for _ in range(1000):
        z = x @ w + b
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = (p - y) / len(x)
        w -= 2.0 * (x.T @ g + 1e-3 * w)
        b -= 2.0 * g.sum(axis=0)

    def predict(text: str) -> Mood:
        return MOODS[int(np.argmax(embedder.embed([text])[0] @ w + b))]

    return predict, f"fitted on the {len(train)} training utterances"


def candidates(train: list[Example], reader: MoodReader) -> list[tuple[str, Predict | None, str]]:
    """(name, predict or None if it cannot run, note), in the table's order."""
    out: list[tuple[str, Predict | None, str]] = []
    for name, make in (("vader (tuned)", vader), ("nrclex (word list)", nrclex)):
        try:
            predict, note = make(train)
            out.append((name, predict, note))
        except ImportError as e:
            out.append((name, None, f"not installed: {e}"))
    out.append(("minilm seed centroids", *seed_centroids(reader)))
    out.append(("minilm logistic (train)", *logistic(reader, train)))
    words = MoodReader(None)
    out.append(("words only (cues)", lambda t: words.read(t).mood, "the shipped rules, no embeddings"))
    shipped = "cues + request form + 'but' + seed centroids"
    out.append(("hybrid (shipped)", lambda t: reader.read(t).mood, shipped))
    return out


# --- the table ------------------------------------------------------------------------------------


def table(scores: list[Score]) -> str:
    short = {"sad": "sad", "anxious": "anx", "angry": "ang", "happy": "hap", "neutral": "neu"}
    head = f"{'reader':24} {'acc':>5} " + " ".join(f"{s:>4}" for s in short.values())
    head += f" {'cheer':>6} {'sympathy':>8} {'tricky':>6} {'ms':>6}"
    lines = [head, "-" * len(head)]
    for s in scores:
        recall = " ".join(f"{s.recall[m]:4.2f}" for m in short)
        lines.append(
            f"{s.name:24} {s.accuracy:5.3f} {recall} {f'{s.cheer}/{s.negative}':>6} "
            f"{f'{s.sympathy}/{s.neutral}':>8} {s.tricky:6.2f} {s.ms:6.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])  # prog: whatever ran it (os1 eval)
    ap.add_argument("--split", choices=("test", "train"), default="test", help="which split to score")
    ap.add_argument("--json", metavar="F", help="also write the scores to this JSON file")
    args = ap.parse_args(argv)

    train, test = split()
    data = test if args.split == "test" else train
    reader = MoodReader.load()
    scores = []
    for name, predict, note in candidates(train, reader):
        if predict is None:
            scores.append(Score(name, 0, 0.0, {m.value: 0.0 for m in MOODS}, 0, 0, 0, 0, 0.0, 0.0, note))
            continue
        scores.append(score(name, predict, data, note))

    sizes = f"{len(train)} train, {len(test)} test"
    print(f"mood readers on the {args.split} split: {len(data)} utterances ({sizes})")
    print("recall per mood; cheer = sad/anxious/angry read as happy; sympathy = neutral read as sad/angry;")
    print("tricky = accuracy on negated, mixed, sarcastic and loaded-word utterances; ms per utterance\n")
    print(table(scores))
    print()
    for s in scores:
        print(f"  {s.name}: {s.note}")
    why = textblob_offline()
    if why:
        print(f"  nrclex's own load_raw_text() fails offline: {why}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"split": args.split, "scores": [asdict(s) for s in scores]}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
