"""The owner's mood from their words, so a reply can meet it (no "Awesome!" to a rough day).

A hybrid, chosen by measuring (`python -m device.evals.mood`):
- a request or a question for facts ("what time is it", "how do I kill a python process") is neutral,
  however loaded its words;
- strong cue words count, with negation ("lonely", "furious", "not happy about", "not bad at all");
- everything else goes by the nearest of five centroids of MiniLM embeddings of the seed phrases
  below (the embedder memory already loads), with the cues as a bonus;
- in "X but Y" the part after "but" decides, when it says anything ("got the job but my dog died").
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from device.memory.embed import Embedder

log = logging.getLogger("os1.persona")


class Mood(StrEnum):
    SAD = "sad"
    ANXIOUS = "anxious"
    ANGRY = "angry"
    HAPPY = "happy"
    NEUTRAL = "neutral"


MOODS = tuple(Mood)  # the order of every score vector here
NEGATIVE = frozenset({Mood.SAD, Mood.ANXIOUS, Mood.ANGRY})


@dataclass(frozen=True)
class MoodReading:
    mood: Mood
    """The owner's mood as read from this turn."""
    confidence: float
    """0..1: the winning mood's share of a softmax over the five scores; under ~0.4 it is a guess."""
    cue: str
    """What decided it, for logs and tests: `word "lonely"`, `not "happy"`, `request`, `seeds`, ..."""


def _phrases(block: str) -> tuple[str, ...]:
    """Phrases written several to a line, separated by "|"."""
    return tuple(p.strip() for p in block.split("|") if p.strip())


# Seed phrases per mood: their embeddings are averaged into one centroid per mood at load. Written to
# be generic; none is a sentence of the eval set (a test checks).
SEEDS: dict[Mood, tuple[str, ...]] = {
    Mood.SAD: _phrases(
        """
        I feel sad | I'm feeling down today | I'm so unhappy | my heart is broken |
        someone I love has died | my father passed away | we lost our cat | I'm grieving |
        I feel so lonely | I have nobody | I feel isolated and alone | my partner left me | we split up |
        I got fired | I was made redundant | I failed | I didn't pass | I'm ill and exhausted |
        I'm sick and feel awful | it was a terrible day | today was awful | work was horrible today |
        I feel hopeless | nothing matters anymore | I'm worn out and fed up with life | I feel like crying |
        I'm disappointed in myself | I feel worthless | I'm really struggling | I'm having a hard time |
        I miss her | I feel down and drained | my friend is very ill | I was let go from work |
        my child won't talk to me | I wasn't picked | I can't get out of bed | I can't go on like this |
        I don't see the point | I feel rejected
        """
    ),
    Mood.ANXIOUS: _phrases(
        """
        I'm nervous | I'm so anxious | I'm worried | I'm scared it will go wrong | stress is getting to me |
        I'm under a lot of stress | I can't fall asleep | I have insomnia from worrying | I'm panicking |
        I feel tense and restless | I'm nervous about my interview | my exam is tomorrow and I'm not ready |
        I'm afraid of what the doctor will say | what if it all goes wrong | I'm overwhelmed |
        I have too much to do | I can't cope with the pressure | I'm frightened |
        I'm uneasy about tomorrow | I keep overthinking everything | I'm dreading it |
        my anxiety is bad today | I'm worried about money | I'm waiting for the results and I'm a wreck |
        I'm jittery | I can't calm down | I feel a sense of dread | I'm afraid I'll mess it up |
        I haven't slept for worrying | I don't know what's going to happen |
        they're not home yet and it's late | I have to speak in front of everyone soon |
        I think I messed up and I'll be found out | things are spiralling | what will happen to me
        """
    ),
    Mood.ANGRY: _phrases(
        """
        I'm angry | I'm furious | I'm so mad | I'm fed up with this | I'm really annoyed | I'm irritated |
        this makes me so angry | I'm sick of it | I've had enough of them | he treated me unfairly |
        they ripped me off | she betrayed me | someone stole from me | they lied to me |
        my boss was unfair to me | I hate this | I hate him | that's outrageous | what a rip off |
        this is so frustrating | they wasted my whole day | nobody listens to me |
        they broke their promise | he was so rude to me | I want to shout at someone |
        they keep messing me around | this stupid thing never works | I'm seething |
        how could they do that to me | it's not fair | they did it again | I'm done with them |
        they left a mess for me to clean up | someone took my things without asking |
        they never do what they promise | of course they picked someone else | what a joke
        """
    ),
    Mood.HAPPY: _phrases(
        """
        I'm happy | I'm so happy | I feel great | I'm thrilled | I'm delighted | I'm excited | great news |
        I got good news today | I got the promotion | I was hired | I passed | we won |
        we're getting married | we're expecting a baby | it was a wonderful day | I had a great time |
        everything went well | it went brilliantly | I'm proud of myself | I'm so grateful |
        I'm in a great mood | life is good | I feel fantastic | I achieved my goal | I did it |
        the results were good news | I'm overjoyed | what a beautiful day | we celebrated |
        I'm really pleased | a new baby in the family | I finished the race | I'm healthy again |
        we're friends again | I lost weight | she accepted my proposal | a big milestone today
        """
    ),
    Mood.NEUTRAL: _phrases(
        """
        what's the time | what is the date today | what's the weather | tell me about Rome |
        remind me to take my pills | set a reminder for tomorrow | start a timer |
        what's twelve plus seven | how many miles in a kilometre | who invented the telephone |
        how does a rainbow form | tell me a fact | play some music | turn it up | what's the news today |
        I'm heading out now | I'm home | I ate a sandwich | I'm reading a book |
        my cousin visits next week | what should I wear today | how do I cook rice |
        what's a synonym for big | how do I delete a file on my computer |
        how do I stop a program that's frozen | what's the most frightening book ever written |
        what does melancholy mean | who died in the final episode | what's the most dangerous spider |
        give me a recipe for soup | yes | no thanks | sure | hello | hi there | thank you |
        what's the name of that song | spell restaurant | is the shop open | how do wars start |
        what's the definition of anger | tell me a ghost story | what's the hottest planet |
        how do I fix a leaking tap | what's your name | we need more milk | why is the sky blue |
        why do cats purr
        """
    ),
}

# Strong cues. Phrases that carry their own negation come first ("not ready", "can't complain"), so
# the generic negation rule below leaves them alone.
_NEGATED_PHRASES: dict[Mood, str] = {
    Mood.SAD: r"(not|n't) (feeling |doing |feel )?(ok|okay|good|great|well|too good|so good|myself)"
    r"|(don't|dont|didn't) (feel |go )?(happy|well|right)|(don't|doesn't) matter|nothing went right",
    Mood.ANXIOUS: r"not ready|not sleeping"
    r"|(can't|cannot|couldn't) (sleep|relax|breathe|calm down|switch off|stop worrying)",
    Mood.ANGRY: r"(not|isn't|wasn't|n't) fair|not happy (about|with)|didn't even",
    Mood.HAPPY: r"(couldn't|could not|can't|never) (be|been|felt|have been) (happier|better)"
    r"|(can't|cannot) complain|no complaints|not (too |that |so )?bad",
}
_CUES: dict[Mood, str] = {
    Mood.SAD: r"sad|sadness|unhappy|depressed|miserable|lonely|alone|heartbroken|devastated|gutted"
    r"|grief|grieving|mourning|crying|cried|tears|passed away|died|funeral|broke up|dumped|left me"
    r"|hopeless|empty|worthless|failure|failed|flunked|disappointed|rejected|hurts"
    r"|feel(ing)? (so |really |very |pretty )?low",
    Mood.ANXIOUS: r"anxious|anxiety|nervous|nerves|worried|worry|worrying|scared|afraid|terrified"
    r"|frightened|panic|panicking|freaking out|stressed|stress|stressing|dread|dreading|overwhelmed"
    r"|on edge|overthinking|tense|what if|butterflies|unprepared|jittery",
    Mood.ANGRY: r"angry|furious|livid|fuming|raging|mad at|annoyed|annoying|irritated|infuriating"
    r"|fed up|sick of|sick and tired|had enough|had it with|hate|pissed|outrageous|ridiculous"
    r"|unfair|how dare|rude|idiot|stupid|useless|ripped me off|driv(e|es|ing) me|can you believe"
    r"|seething|rip off",
    Mood.HAPPY: r"happy|glad|thrilled|delighted|excited|overjoyed|amazing|wonderful|fantastic|brilliant"
    r"|awesome|lovely|perfect|over the moon|proud|lucky|grateful|in love|yay|hooray|best \w+ ever|so much fun"
    r"|got the job|promoted|passed(?! away)|engaged|aced|nailed",  # "passed away" is sad
}
_NEGATORS = frozenset("not no never without hardly nothing nobody".split())
_SCOPE_ENDS = frozenset("just but and so because actually though only".split())  # "not angry, just sad"
_RELIEF = re.compile(r"^(at all|anymore|any more)\b")  # "not nervous at all": relief, not nerves
_SARCASM = re.compile(r"^(oh )?(great|wonderful|brilliant|perfect|fantastic|lovely),? (just \2|another)\b")

_FILLER = r"((um|uh|er|hmm|so|ok|okay|hey|oh|well|and|please|right|alright)\s+)*"
_REQUEST = re.compile(
    _FILLER + r"(what|what's|whats|who|who's|whose|when|where|where's|which|how|is|are|was|does|do"
    r"|did|can|could|would|will|should|tell|play|set|remind|translate|read|turn|call|text|spell|explain"
    r"|give|recommend|define|show|find|search|look|add|start|stop|open|put|describe|list|check|send"
    r"|pause|skip|repeat|say)\b"
)
# Feelings in the form of a question, and exclamations ("what a lovely day").
_NOT_A_REQUEST = re.compile(
    r"^" + _FILLER + r"(what if|what's the point|whats the point|what is the point|what's wrong"
    r"|what is wrong|what a|what an|what will happen|what am i going to|how dare|how could|how am i"
    r"|can you believe|could you believe|do you think i)\b"
)
_SELF_FEELING = re.compile(r"\bi('m|m| am| feel| felt|'ve been| was| got| hate| miss| can't)\b")

# Compiled once: a cue must stand as whole words.
_NEGATED_RE = {m: re.compile(rf"\b({p})\b") for m, p in _NEGATED_PHRASES.items()}
_CUE_RE = {m: re.compile(rf"\b({p})\b") for m, p in _CUES.items()}
_WORD = re.compile(r"[\w']+")
MAX_CHARS = 600  # a turn is a sentence or two; the embedder cuts at 128 tokens anyway


def words_of(text: str) -> str:
    """Lower-case words joined by single spaces, curly apostrophes made straight."""
    return " ".join(_WORD.findall(str(text)[:MAX_CHARS].lower().replace("\u2019", "'")))


@dataclass
class Cues:
    """What the words alone say about one stretch of text."""

    bonus: dict[Mood, float]
    """Per mood, how many strong cues point to it (a negated positive counts for sad or angry)."""
    found: list[tuple[Mood | None, str]]
    """Each cue and the mood it counted for (None: a negated cue that counts for nothing)."""
    masked: str
    """The text with negated cue words taken out, for the embedding ("not nervous" is not nervous)."""
    request: bool
    """A request or a question for facts, with no feeling stated about oneself."""

    def add(self, mood: Mood | None, label: str) -> None:
        if mood is not None:
            self.bonus[mood] += 1.0
        self.found.append((mood, label))

    def shown(self, mood: Mood) -> str:
        """The cues for `mood`, as `MoodReading.cue` shows them; "" if none."""
        return ", ".join(label for m, label in self.found if m is mood)


def find_cues(text: str) -> Cues:
    cues = Cues(dict.fromkeys(MOODS, 0.0), [], text, False)
    taken: list[tuple[int, int]] = []
    for mood, pattern in _NEGATED_RE.items():
        for m in pattern.finditer(text):
            cues.add(mood, f'"{m.group(0)}"')
            taken.append(m.span())
            cues.masked = _blank(cues.masked, *m.span())
    sarcasm = _SARCASM.match(text)
    if sarcasm:  # "great, just great": the praise words must not pull towards happy
        cues.add(Mood.ANGRY, f'sarcasm "{sarcasm.group(0)}"')
        taken.append(sarcasm.span())
        cues.masked = _blank(cues.masked, *sarcasm.span())
    for mood, pattern in _CUE_RE.items():
        for m in pattern.finditer(text):
            if any(a <= m.start() < b for a, b in taken):
                continue
            negator = _negator_before(text, m.start())
            if negator < 0:
                cues.add(mood, f'word "{m.group(0)}"')
                continue
            label = f'not "{m.group(0)}"'
            cues.masked = _blank(cues.masked, negator, m.end())
            after = text[m.end() :].lstrip()
            if mood is Mood.HAPPY:  # "don't feel happy", "not happy about it"
                cues.add(Mood.ANGRY if after.startswith(("about", "with")) else Mood.SAD, label)
            else:  # "not nervous at all" is relief; "not worried about it" is nothing
                cues.add(Mood.HAPPY if _RELIEF.match(after) else None, label)
    strong = any(cues.bonus[m] for m in MOODS)
    cues.request = (
        bool(_REQUEST.match(text))
        and not _NOT_A_REQUEST.match(text)
        and not (strong and _SELF_FEELING.search(text))
    )
    cues.masked = " ".join(cues.masked.split())
    return cues


def _negator_before(text: str, start: int) -> int:
    """Where a negating word starts within the three words before `start` (same clause), else -1."""
    pos = start
    for _ in range(3):
        prev = text.rfind(" ", 0, max(pos - 1, 0))
        word = text[prev + 1 : pos].strip()
        if not word or word in _SCOPE_ENDS:
            return -1
        if word in _NEGATORS or word.endswith("n't"):
            return prev + 1
        if prev < 0:
            return -1
        pos = prev + 1
    return -1


def _blank(text: str, start: int, end: int) -> str:
    """Spaces over text[start:end], keeping every other offset where it was."""
    return text[:start] + " " * (end - start) + text[end:]


@functools.lru_cache(maxsize=4)
def centroids(embedder: Embedder) -> np.ndarray:
    """[5, 384] unit centroids of the seed phrases, in `MOODS` order: embedded once per embedder."""
    rows = []
    for mood in MOODS:
        mean = embedder.embed(list(SEEDS[mood])).mean(axis=0)
        rows.append(mean / np.linalg.norm(mean))
    return np.stack(rows).astype(np.float32)


class MoodReader:
    """`read(text)` -> MoodReading. Cheap enough for every owner turn: one MiniLM call at most, none
    for a request. Without an embedder it reads the cue words alone (measured as "words only")."""

    def __init__(
        self,
        embedder: Embedder | None,
        floor: float = 0.2,
        cue_weight: float = 0.2,
        temperature: float = 0.05,
    ):
        self.embedder = embedder  # shared with memory: the companion loads one
        self.floor = floor  # a mood's seed similarity must reach this to beat neutral
        self.cue_weight = cue_weight  # added to a mood's similarity per strong cue
        self.temperature = temperature  # of the softmax that turns scores into a confidence
        self._centroids = centroids(embedder) if embedder is not None else None

    @classmethod
    def load(cls, models_dir: Path | None = None) -> MoodReader:
        return cls(Embedder.load(models_dir))

    def read(self, text: str) -> MoodReading:
        """Never raises: odd input (empty, one word, another language) reads as a guess or neutral."""
        whole = words_of(text)
        if not any(c.isalpha() for c in whole):
            return MoodReading(Mood.NEUTRAL, 1.0, "no words")
        parts = whole.split(" but ")
        tail = parts[-1] if len(parts) > 1 and parts[-1].strip() else ""
        texts = [whole, tail] if tail else [whole]
        cues = [find_cues(t) for t in texts]
        if all(c.request for c in cues):
            return MoodReading(Mood.NEUTRAL, 1.0, "request")
        if " " not in whole and not cues[0].found:  # "okay", "not", "but": nothing to go on
            return MoodReading(Mood.NEUTRAL, 1.0, "too short")
        sims = self._similarities([c.masked or t for c, t in zip(cues, texts, strict=True)])
        readings = [self._decide(c, s) for c, s in zip(cues, sims, strict=True)]
        if tail and readings[1].mood is not Mood.NEUTRAL:  # "... but my dog died": the tail is the news
            r = readings[1]
            return MoodReading(r.mood, r.confidence, f'after "but": {r.cue}')
        return readings[0]

    def _similarities(self, texts: list[str]) -> np.ndarray:
        """[len(texts), 5] cosine to each mood's centroid; zeros without an embedder."""
        if self.embedder is None or self._centroids is None:
            return np.zeros((len(texts), len(MOODS)), np.float32)
        try:
            return self.embedder.embed(texts) @ self._centroids.T
        except Exception:  # an engine failure must not cost the owner their reply
            log.exception("mood: embedding failed; reading the cue words only")
            return np.zeros((len(texts), len(MOODS)), np.float32)

    def _decide(self, cues: Cues, sims: np.ndarray) -> MoodReading:
        if cues.request:
            return MoodReading(Mood.NEUTRAL, 1.0, "request")
        scores = sims.astype(np.float64)
        scores += self.cue_weight * np.array([cues.bonus[m] for m in MOODS])
        neutral = MOODS.index(Mood.NEUTRAL)
        scores[neutral] = max(scores[neutral], self.floor)  # weak likeness to every mood is no mood
        best = int(np.argmax(scores))
        z = np.exp((scores - scores.max()) / self.temperature)
        mood = MOODS[best]
        cue = cues.shown(mood) or (
            f"seeds {sims[best]:.2f}" if mood is not Mood.NEUTRAL else "seeds: nothing close"
        )
        return MoodReading(mood, round(float(z[best] / z.sum()), 3), cue)
