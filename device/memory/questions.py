"""Questions about the owner's own life, answered from what they said, never from the LLM.

"Where does my sister live?", "What am I allergic to?", "What did we talk about yesterday?": the answer
is what is stored (or said earlier in this conversation), read back in the second person; with nothing
there it says so plainly ("You haven't told me about your sister yet."). Asked such a question with
nothing to go on, SmolLM2-135M invented a sister in New York and a talk about the news (measured), so
these are not left to it. Advice ("what should I cook?") and the world ("where is Lyon?") are not
personal questions, and go to the LLM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from device.memory.retrieve import content_words
from device.memory.speech import join_spoken, second_person
from device.pipeline.text import plain

if TYPE_CHECKING:
    from device.memory.core import Memory
    from device.memory.store import Record

RELATIONS = (
    "mum|mom|mother|mummy|dad|father|daddy|sister|brother|wife|husband|partner|girlfriend|boyfriend|son|"
    "daughter|grandma|grandmother|granny|nan|grandpa|grandfather|grandad|aunt|auntie|uncle|cousin|niece|"
    "nephew|friend|best friend|boss|neighbour|neighbor|colleague|flatmate|roommate|teacher|doctor|dog|cat|"
    "kids|children|parents|family"
)
_QUESTION = re.compile(
    r"^(?:what|where|when|who|whose|which|how|why|is|are|am|do|does|did|was|were|have|has|can)\b"
)
# Advice, opinions and requests for something done ("can you help me write a letter to my friend Tom")
# are not questions about what the owner said; "can you tell me where my sister lives" is.
_ADVICE = re.compile(
    r"\b(?:should|shall|could|can|would) i\b|\bhow (?:do|can|would|should) i\b|\bwhat do you (?:think|reckon)"
    r"|\byour\b|\bdo you (?:like|love|think|know how)\b|\bwhat if\b"
    r"|\b(?:can|could|would|will) you (?!tell me\b|remind me (?:what|where|when|who)\b|remember\b)"
    r"|\bhelp me\b|\bwrite\b|\bremind me to\b|\bset (?:a|an) \w+|\bsend\b"
)
_MY = re.compile(rf"\bmy ((?:{RELATIONS})|\w+(?: \w+)?)\b")
# "mum" alone is the owner's mum ("Where does mum live?"); "a cat", "the doctor" are anyone's.
_RELATION = re.compile(rf"(?<!\ba )(?<!\ban )(?<!\bthe )(?<!\bany )(?<!\bsome )(?<!\bthat )(?<!\bthis )"
                       rf"(?<!\byour )(?<!\bgreat )(?<!\bgood )\b(?:{RELATIONS})\b")  # fmt: skip
_ME = re.compile(
    r"\b(?:am|do|did|was|have|will|were|where|when) i\b|\bi (?:said|told|was|am|wanted|live)\b|\bi'm\b"
)
_PAST = re.compile(
    r"\bwhat (?:did|have) we (?:talk|chat|speak|talked|chatted) about\b"
    r"|\bwhat were we (?:talking|chatting|speaking) about\b"
    r"|\bwhat was i (?:telling|saying to) you(?: about)?\b"
    r"|\bremind me what i was (?:telling|saying to) you\b"
    r"|\bwhat did i tell you (?:yesterday|last time|before|the other day)\b"
    r"|\bfrom what i told you (?:yesterday|last time|before)\b"
)
_FILLERS = re.compile(r"^(?:(?:um|uh|so|and|hey|ok|okay|sorry|remind me|tell me|quick question)[,\s]+)+")
_SYNONYMS = {"mum": "mother mom mummy", "mom": "mum mother", "mother": "mum mom", "dad": "father daddy",
             "father": "dad", "grandma": "grandmother granny nan", "nan": "grandma granny",
             "neighbor": "neighbour", "neighbour": "neighbor"}  # fmt: skip
# Words every personal question has, which say nothing about what it asks.
_GENERIC = {"name", "called", "call", "live", "lives", "living", "like", "say", "said", "tell", "told",
            "remember", "know", "again", "now", "do", "does", "did", "go", "going", "doing", "feeling",
            "think", "thing", "things", "anything", "something", "get", "got", "want", "wanted"}  # fmt: skip


@dataclass(frozen=True)
class Topic:
    """What a personal question is about."""

    words: frozenset[str]
    """The stems a matching memory must share one of."""
    about: str
    """How it is said back ("your sister", "that")."""
    must: frozenset[str] = frozenset()
    """Stems a matching memory must contain (the person asked about)."""


def _stem(word: str) -> str:
    return word[:5] if len(word) > 5 else word.rstrip("s")


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in content_words(text)}


def topic_of(text: str, known_names: set[str]) -> Topic | None:
    """What a personal question asks about, or None if `text` is not one."""
    t = _FILLERS.sub("", plain(text))
    if not _QUESTION.match(t) or _ADVICE.search(t):
        return None
    # What it asks about: its telling words, or, when all it has is "live" or "name", those.
    words = {w for w in content_words(t) if w not in _GENERIC} or set(content_words(t))
    person = _MY.search(t)
    names = {w for w in words if w in known_names}
    relation = _RELATION.search(t)
    if person or relation:
        who = (person.group(1) if person else relation.group(0)).replace("'s", "").strip()  # type: ignore[union-attr]
        head = who.split()[-1]  # "my best friend" is about a friend, "my book club" a club
        must = {_stem(head), *(_stem(s) for s in _SYNONYMS.get(head, "").split())}
        return Topic(frozenset(_stem(w) for w in words), f"your {who}", frozenset(must))
    if names:
        name = sorted(names)[0]
        return Topic(frozenset(_stem(w) for w in words), name.capitalize(), frozenset({_stem(name)}))
    if _ME.search(t) and words:
        return Topic(frozenset(_stem(w) for w in words), "that")
    return None


def _matches(text: str, topic: Topic) -> bool:
    said = _stems(text)
    if topic.must and not topic.must & said:
        return False
    return bool(topic.words & said) or bool(topic.must)


def _newest_per_key(records: list[Record]) -> list[Record]:
    """Of memories that state the same kind of thing (the same key), the newest: "my dog is called Max"
    after "my dog is called Rex" was a correction."""
    best: dict[str, Record] = {}
    for r in sorted(records, key=lambda r: r.updated):
        best[r.key or f"#{r.id}"] = r
    return sorted(best.values(), key=lambda r: r.updated)


def answer(memory: Memory, text: str, today: date | None = None) -> str | None:
    """The answer to a question about the owner's life, or None if `text` is not one. Cheap for
    anything else: the database is read only once the words look like such a question."""
    t = plain(text)
    if _PAST.search(t):
        return _past(memory, t, today or datetime.now().date())
    if not _looks_personal(text):
        return None
    store = memory.store
    names = {s for s in store.subjects() if s not in ("", "me", "conversation")}
    # A name said mid-sentence counts if the owner has used it before ("How old is Lily going to be?"),
    # not if it is the world's ("What's the capital of France?").
    # Only statements count: a question asked before ("What is the capital of France?") is not the
    # owner speaking of someone.
    said_before = {w for s in _statements(memory.conversation_so_far()) for w in content_words(s)}
    for word in re.findall(r"(?<=\w )([A-Z][a-z]+)", text):
        if _is_person(word.lower(), said_before, [store.get(i) for i in store.bm25([word.lower()], limit=5)]):
            names.add(word.lower())
    topic = topic_of(text, names)
    if topic is None:
        return None
    candidates = [store.get(i) for i in store.bm25(sorted(_search_words(text)), limit=50)]
    kept = [r for r in candidates if r is not None and r.kind in ("fact", "preference", "thread")]
    best, shared = _best([r.text for r in kept], topic)
    matching = [kept[i] for i in best]
    # The owner's own words in this conversation are the newest ("Anna moved to Paris" a minute ago),
    # unless a memory says more about what was asked (the office's code, not the station's).
    statements = _statements(memory.conversation_so_far())
    said_best, said_shared = _best(statements, topic)
    if said_best and said_shared >= shared:
        return f"You told me {second_person(statements[said_best[-1]])}."
    if matching:
        said = [second_person(r.text) for r in _newest_per_key(matching)[-3:]]
        return f"You told me {join_spoken(said)}."
    past = [r for r in store.of_kind("summary") if _matches(r.text, topic)]
    if past:
        return f"You told me before that {_summary_points(past[-1].text)}."
    if topic.about == "that":
        return "You haven't told me that yet."
    return f"You haven't told me about {topic.about} yet."


def _is_person(name: str, said_before: set[str], records: list[Record | None]) -> bool:
    """Whether the owner has spoken of `name` as one of their people ("my niece Lily"), not as a
    place ("Anna lives in Lyon")."""
    person = re.compile(rf"\bmy (?:{RELATIONS}) {re.escape(name)}\b|^{re.escape(name)}\b", re.I)
    texts = [r.text for r in records if r is not None]
    return any(person.search(x) for x in texts) or (name in said_before and not texts)


def _looks_personal(text: str) -> bool:
    """A question about the owner, their people, or someone named (before any lookup)."""
    t = _FILLERS.sub("", plain(text))
    if not _QUESTION.match(t) or _ADVICE.search(t):
        return False
    return bool(
        _MY.search(t) or _RELATION.search(t) or _ME.search(t) or re.search(r"(?<=\w )[A-Z][a-z]+", text)
    )


def _search_words(text: str) -> set[str]:
    """The question's content words and their synonyms ("mum": "mother"), for the full-text search
    (FTS5 stems them: "live" finds "lives")."""
    words = {w for w in content_words(plain(text)) if len(w) > 1}
    return words | {s for w in words for s in _SYNONYMS.get(w, "").split()}


def _statements(said: list[str]) -> list[str]:
    """The clauses of the owner's utterances that state something (not questions), oldest first, without
    a "Remember that" in front."""
    clauses = [c.strip().rstrip(".!") for u in said for c in re.split(r"(?<=[.!?;:])\s+|:\s*", u)]
    clauses = [_TOLD.sub("", c) for c in clauses]
    return [c for c in clauses if c and not c.endswith("?") and not _QUESTION.match(plain(c))]


_TOLD = re.compile(r"^(?:please )?(?:remember|note|don't forget)(?: that)?[,\s]+", re.I)


def _best(texts: list[str], topic: Topic) -> tuple[list[int], int]:
    """The indexes of the texts about `topic` that share the most of its words, and how many they
    share: asked for the code at the office, the one about the office, not the one about the station."""
    shared = [len(topic.words & _stems(t)) if _matches(t, topic) else -1 for t in texts]
    most = max(shared, default=-1)
    return [i for i, n in enumerate(shared) if n == most and n >= 0], most


def _summary_points(text: str) -> str:
    """'On Monday 30 November we talked about: My sister Anna got a new job; I planted …' ->
    'your sister Anna got a new job and you planted …'."""
    body = text.split(":", 1)[1] if ":" in text else text
    parts = [second_person(p.strip().rstrip(".…").strip()) for p in body.split(";") if p.strip()]
    return join_spoken(parts)


def _past(memory: Memory, t: str, today: date) -> str:
    summaries = memory.store.of_kind("summary")
    if not summaries:
        so_far = memory.conversation_so_far()
        if so_far:
            return f"So far today you've told me {second_person(so_far[-1])}."
        return "I don't have anything from before: as far as I remember, this is our first conversation."
    last = summaries[-1]
    when = _when(last.updated, today)
    if "yesterday" in t and when != "yesterday":
        return f"I don't have anything from yesterday. The last time, {when}, {_summary_points(last.text)}."
    return f"{when.capitalize()}, you told me {_summary_points(last.text)}."


def _when(stamp: str, today: date) -> str:
    try:
        day = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone().date()
    except ValueError:
        return "before"
    days = (today - day).days
    return (
        "earlier today"
        if days <= 0
        else "yesterday"
        if days == 1
        else "the other day"
        if days < 7
        else "a while ago"
    )
