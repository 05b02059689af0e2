"""What is worth remembering from a turn: facts, preferences and open threads, from the OWNER's words.

Patterns carry the load (the starter LLM is 135M parameters). Only the user's transcript is a
source: the companion's reply is never mined, and LLM output must be grounded in the user's words.
A clause that is a question, a hypothetical, reported speech or a negation is not a fact.

Every fact is written in the owner's first person ("My sister Anna lives in Lyon."), with a
subject and key for deduplication: a later fact with the same subject and key replaces it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

# ---- the result -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    kind: str  # fact | preference | thread | summary
    text: str  # first person, one sentence
    subject: str = ""  # 'me', a person's name (lower case), a relation ('sister')
    key: str = ""  # 'home', 'job', 'opinion:jazz', 'thread:interview'; '' = free text
    due: str = ""  # ISO date (threads)
    close: bool = False  # a thread that is over: delete the memory with this subject and key


# ---- vocabulary -------------------------------------------------------------------------------

RELATIONS = (
    "best friend|friend|sister|brother|mother|mom|mum|father|dad|wife|husband|partner|boyfriend|"
    "girlfriend|fiancee|fiancée|fiance|fiancé|son|daughter|boss|colleague|coworker|grandmother|grandma|"
    "granny|grandfather|grandpa|aunt|uncle|cousin|niece|nephew|roommate|flatmate|neighbour|neighbor|"
    "dog|cat|kid|child|baby|stepmother|stepfather|stepsister|stepbrother|therapist|doctor"
)
EVENTS = (
    "job interview|interview|exam|test|appointment|meeting|date|surgery|operation|presentation|"
    "flight|trip|game|match|concert|party|wedding|funeral|checkup|check-up|audition|deadline|class|"
    "lesson|recital|race|review|talk|scan|hearing|viva|performance|first day|birthday party"
)
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
TIMES = (
    r"today|tonight|tomorrow(?: morning| afternoon| evening| night)?|this (?:morning|afternoon|evening|week|"
    r"weekend)|next (?:week|month|" + "|".join(_WEEKDAYS) + r")|on (?:" + "|".join(_WEEKDAYS) + r")|"
    r"(?:" + "|".join(_WEEKDAYS) + r")|the day after tomorrow|in (?:two|three|a few|\d+) days"
)
STOPWORDS = frozenset(
    "a an the and or but so of to in on at for with from by about as is are was were be been being am do "
    "does did have has had i me my mine myself you your yours we our us he him his she her they them their "
    "it its this that these those there here what who whom whose when where why how which not no yes "
    "just really very too also then than now well oh um uh like okay ok please can could would should will "
    "shall may might must let lets get got go going know think tell told said say remember forget".split()
)
# Words that cannot be a person's name even when capitalised at the start of a sentence.
_NOT_NAMES = STOPWORDS | frozenset(
    "everyone everybody someone somebody nobody anyone anybody people everything nothing something "
    "mom mum dad he she they it today tomorrow yesterday hey hello hi thanks sorry maybe actually "
    "sure yeah nope lives live moved moving works work is called named".split()
)
_FILLER = re.compile(
    r"^(?:(?:well|so|oh|um+|uh+|hmm+|okay|ok|yeah|yes|actually|by the way|you know|hey|listen|"
    r"anyway|also|and|but|guess what|fun fact|remember that|remember|note that|just so you know|fyi|"
    r"for the record|you should know that|i told you)[,:\s]+)+",
    re.I,
)
_QUESTION_START = re.compile(
    r"^(?:what|where|who|whom|whose|when|why|how|which|do|does|did|is|are|was|were|can|could|would|"
    r"should|will|shall|may|might|have you|has|had|am i|isn't|aren't|don't|doesn't|didn't|won't|"
    r"tell me|guess|remind me|any idea"
    # A command to the companion is not a fact about the owner either: "add lunch with Anna on Friday".
    r"|add|schedule|book|move|cancel|delete|remove|mute|stop listening|speak|talk)\b",
    re.I,
)
_HYPOTHETICAL = re.compile(
    r"\b(?:if|suppose|supposing|imagine|pretend|what if|let's say|lets say|hypothetically|maybe|perhaps|"
    r"might|would|could|wish|in a story|dreamt|dreamed|as if|assuming|in theory|wonder)\b",
    re.I,
)
_REPORTED = re.compile(
    r"\b(?:he|she|they|you|someone|somebody|people|anna|[a-z]+) (?:said|says|told me|thinks|claims|asked)\b",
    re.I,
)
_NEGATION = re.compile(r"\b(?:not|never|no longer|n't|nobody|nowhere)\b|n't\b", re.I)

# ---- splitting --------------------------------------------------------------------------------

# A colon ends a clause too: "Sorry, I got that wrong: my dog is called Max."
_SENTENCE = re.compile(r"([^.!?;:]+)([.!?;:]*)")
# When, after a place: "I moved to Cardiff last month" is where they live, not "Cardiff last month".
_WHEN_TAIL = re.compile(
    r"\s+(?:(?:last|this|next) (?:week|month|year|summer|winter|spring|autumn)|recently"
    r"|yesterday|today|a while ago|a (?:week|month|year) ago|now)$",
    re.I,
)
# "… and I love jazz": split where a new first-person clause starts.
_CLAUSE = re.compile(r",?\s+\b(?:and|but|so|because|plus)\s+(?=(?:i|i'm|i've|my|we)\b)", re.I)


@dataclass(frozen=True)
class Clause:
    text: str
    question: bool


def clauses(text: str) -> list[Clause]:
    """The statements in an utterance, each marked whether it is a question."""
    out: list[Clause] = []
    for body, end in _SENTENCE.findall(text.replace("\u2019", "'")):
        q = "?" in end
        for part in _CLAUSE.split(body):
            part = _FILLER.sub("", part.strip(" ,-\"'")).strip(" ,")
            if part:
                out.append(Clause(part, q or bool(_QUESTION_START.match(part))))
    return out


def is_statement(c: Clause) -> bool:
    """A plain statement: not a question, hypothetical or someone else's words."""
    return not c.question and not _HYPOTHETICAL.search(c.text) and not _REPORTED.search(c.text)


# ---- helpers ----------------------------------------------------------------------------------


def _name(word: str) -> str | None:
    w = word.strip(" ,.'\"")
    if not re.fullmatch(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'-]{1,30}", w) or w.lower() in _NOT_NAMES:
        return None
    return w[0].upper() + w[1:]


def _tail(text: str, max_words: int) -> str | None:
    """The rest of a clause as an object ('jazz', 'New York'), or None if it is too long or empty."""
    t = re.sub(
        r"\s+(?:now|these days|nowadays|at the moment|right now)$", "", text.strip(" ,.!'\""), flags=re.I
    )
    t = re.sub(r"\s+(?:very much|so much|a lot|a bit|too)$", "", t, flags=re.I)
    words = t.split()
    if not words or len(words) > max_words:
        return None
    return t


def _place(text: str, caps_known: bool) -> str | None:
    """A place name; an all-lower-case transcript (Vosk) gets capitals on its non-function words."""
    place = _tail(_WHEN_TAIL.sub("", text.strip().rstrip(".!?")), 5)
    if place is None or caps_known:
        return place
    return " ".join(w if w in STOPWORDS else w[:1].upper() + w[1:] for w in place.split())


def _norm(text: str) -> str:
    words = [w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in ("a", "an", "the", "my", "some")]
    return " ".join(words)


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def resolve_due(when: str, today: date) -> date:
    w = when.lower().strip()
    if w.startswith(("today", "tonight", "this morning", "this afternoon", "this evening")):
        return today
    if w.startswith("the day after tomorrow"):
        return today + timedelta(days=2)
    if w.startswith("tomorrow"):
        return today + timedelta(days=1)
    if w == "this week":
        return today + timedelta(days=max(0, 4 - today.weekday()))
    if w == "this weekend":
        return today + timedelta(days=(5 - today.weekday()) % 7)
    if w == "next week":
        return today + timedelta(days=7)
    if w == "next month":
        return today + timedelta(days=30)
    m = re.fullmatch(r"in (two|three|a few|\d+) days", w)
    if m:
        n = {"two": 2, "three": 3, "a few": 3}.get(m.group(1)) or int(m.group(1))
        return today + timedelta(days=n)
    for i, day in enumerate(_WEEKDAYS):
        if w.endswith(day):
            # "next Monday" said on a Saturday usually means the coming one: same as "on Monday".
            return today + timedelta(days=(i - today.weekday()) % 7 or 7)
    return today


def spoken_date(d: date, today: date) -> str:
    if d == today:
        return "today"
    return f"on {d.strftime('%A')} {d.day} {d.strftime('%B')}"


# ---- the patterns -----------------------------------------------------------------------------

_R = re.IGNORECASE
_P_NAME = re.compile(r"^(?:please )?(?:call me|my name is|my name's|i'm called|i am called) (\S+)$", _R)
_P_REL_NAMED = re.compile(
    rf"^my ({RELATIONS})(?:'s name is|'s name's| is called| is named|'s called) (\S+)$", _R
)
_P_REL_HOME = re.compile(
    rf"^my ({RELATIONS})(?:,)? (?:(\S+) )?(?:lives|is living|now lives|still lives|has moved to|moved to|"
    rf"just moved to|is moving to|relocated to)(?: in)? (.+)$",
    _R,
)
_P_PERSON_HOME = re.compile(
    r"^(\S+) (?:lives|is living|now lives|has moved to|moved to|just moved to|has just moved to|is moving to|"
    r"relocated to)(?: in)? (.+)$",
    _R,
)
_P_ME_HOME = re.compile(
    r"^i (?:live|am living|'m living|have moved to|'ve moved to|moved to|just moved to|'ve just moved to)"
    r"(?: in)? (.+)$",
    _R,
)
_P_JOB = re.compile(r"^(?:i work as|my job is|i'm working as|i am working as) (.+)$", _R)
_P_WORKPLACE = re.compile(r"^i (?:work|am working|'m working) (at|for) (.+)$", _R)
_P_OPINION = re.compile(
    r"^i (?:really |absolutely |just |totally |kind of |quite )?"
    r"(like|love|enjoy|adore|hate|dislike|detest|loathe|can't stand|cannot stand|don't like|do not like|"
    r"don't enjoy|am into|'m into|am a fan of|'m a fan of|prefer) (.+)$",
    _R,
)
_P_ALLERGY = re.compile(r"^(?:i'm|i am) (?:very |really |severely |badly )?allergic to (.+)$", _R)
_P_ALLERGY2 = re.compile(r"^i have an? (.+?) allergy$", _R)
_P_FAVORITE = re.compile(r"^my (?:favou?rite|fave) ((?:\S+ ){0,2}\S+) (?:is|are) (.+)$", _R)
_P_PET = re.compile(rf"^i have an? ({RELATIONS}) (?:called|named) (\S+)$", _R)
_P_MY_X = re.compile(r"^my ((?:\S+ ){0,2}\S+?) (?:is|are) (.+)$", _R)
_P_THREAD = re.compile(
    rf"^(?:i have|i've got|i have got|i got|i've) (?:an?|my|the|this|that) ((?:\S+ ){{0,3}}?(?:{EVENTS}))"
    rf"((?: (?:with|at|in|for) .+?)?) ({TIMES})$",
    _R,
)
_P_THREAD_FRONT = re.compile(
    rf"^({TIMES}),? i (?:have|'ve got|have got) (?:an?|my|the) ((?:\S+ ){{0,3}}?(?:{EVENTS}))$", _R
)
_P_THREAD_DONE = re.compile(
    rf"^(?:the|my) ((?:\S+ ){{0,3}}?(?:{EVENTS})) (?:went|was|is over|got cancelled|was cancelled|"
    r"is done|got moved|was moved)\b",
    _R,
)
_OPINION_VERB = {
    "like": "like",
    "love": "love",
    "enjoy": "enjoy",
    "adore": "adore",
    "hate": "hate",
    "dislike": "dislike",
    "detest": "detest",
    "loathe": "loathe",
    "can't stand": "can't stand",
    "cannot stand": "can't stand",
    "don't like": "don't like",
    "do not like": "don't like",
    "don't enjoy": "don't enjoy",
    "am into": "am into",
    "'m into": "am into",
    "am a fan of": "am a fan of",
    "'m a fan of": "am a fan of",
    "prefer": "prefer",
}
_PRONOUN_OBJECTS = re.compile(
    r"^(?:you|it|that|this|them|him|her|those|these|when|how|what|the way|your|yours)\b", _R
)
# "my X is Y" about things that pass within the hour is not a memory.
_TRANSIENT = re.compile(
    r"^(?:day|week|morning|evening|night|head|back|stomach|throat|battery|phone|mood|coffee|tea|food|"
    r"train|bus|flight|turn|bad|point|question|guess|feeling|hand|hands|feet|foot|leg|legs|eyes|"
    r"neck|nose|tooth|teeth|car|computer|laptop|internet|wifi|signal|place|room|house|kitchen)$",
    _R,
)
_TRANSIENT_VALUE = re.compile(
    r"^(?:going|killing|hurting|sore|broken|dead|dying|so |really |kind of|a bit|a little|bad|good|fine|"
    r"ok|okay|great|terrible|awful|over|late|early|here|there|gone|full|empty|busy|free|"
    r"tired|wrong|right|next|coming|ready|done|up|down)\b",
    _R,
)

# "I love the weather today", "my mom is visiting tomorrow": about now, not about who they are.
_TIMELY = re.compile(
    r"\b(?:today|tonight|tomorrow|yesterday|right now|at the moment|"
    r"this (?:morning|afternoon|evening|week))\b",
    _R,
)

PersonLookup = Callable[[str], str | None]  # a name -> 'sister' (from memory), or None


def _no_lookup(_name: str) -> str | None:
    return None


def _clause_facts(text: str, relation_of: PersonLookup, today: date, caps_known: bool) -> list[Fact]:
    """The facts in one statement clause (already checked not to be a question or hypothetical). The
    first kind of statement that matches decides; a negated one is only an opinion ("I don't like")."""
    negated = bool(_NEGATION.search(text))
    opinion = _opinion_facts(text, negated)
    if opinion is not None or negated:
        return opinion or []
    for kind in (_thread_facts(text, today), _people_facts(text, relation_of, caps_known), _life_facts(text)):
        if kind is not None:
            return kind
    return []


def _opinion_facts(text: str, negated: bool) -> list[Fact] | None:
    m = _P_OPINION.match(text)
    if not m:
        return None
    verb = _OPINION_VERB[m.group(1).lower()]
    obj = _tail(m.group(2), 6)
    if obj and not _PRONOUN_OBJECTS.match(obj) and not _TIMELY.search(obj):
        if negated and verb not in ("can't stand", "don't like", "don't enjoy"):
            return []
        return [Fact("preference", _sentence(f"I {verb} {obj}"), "me", f"opinion:{_norm(obj)}")]
    return []


def _thread_facts(text: str, today: date) -> list[Fact] | None:
    """Something coming up ("I have an interview tomorrow"), or done ("the interview went well")."""
    m = _P_THREAD.match(text) or _P_THREAD_FRONT.match(text)
    if m:
        if m.re is _P_THREAD:
            event, extra, when = m.group(1), m.group(2), m.group(3)
        else:
            event, extra, when = m.group(2), "", m.group(1)
        due = resolve_due(when, today)
        noun = _event_noun(event)
        text_out = _sentence(f"I have {_article(event)} {event}{extra} {spoken_date(due, today)}")
        return [Fact("thread", text_out, "me", f"thread:{noun}", due.isoformat())]
    m = _P_THREAD_DONE.match(text)
    if m:
        return [Fact("thread", "", "me", f"thread:{_event_noun(m.group(1))}", close=True)]
    return None


def _people_facts(text: str, relation_of: PersonLookup, caps_known: bool) -> list[Fact] | None:
    """Names and homes: the owner's, their people's."""
    if m := _P_NAME.match(text):
        name = _name(m.group(1))
        return [Fact("fact", f"My name is {name}.", "me", "name")] if name else []
    if m := _P_REL_NAMED.match(text):
        rel, name = m.group(1).lower(), _name(m.group(2))
        return [Fact("fact", f"My {rel} is called {name}.", name.lower(), "who")] if name else []
    if m := _P_REL_HOME.match(text):
        rel, raw_name, place = m.group(1).lower(), m.group(2), _place(m.group(3), caps_known)
        name = _name(raw_name) if raw_name else None
        if raw_name and not name or not place:
            return []
        who = f"My {rel} {name}" if name else f"My {rel}"
        return [Fact("fact", f"{who} lives in {place}.", (name or rel).lower(), "home")]
    if m := _P_ME_HOME.match(text):
        place = _place(m.group(1), caps_known)
        return [Fact("fact", f"I live in {place}.", "me", "home")] if place else []
    if m := _P_PERSON_HOME.match(text):
        raw, place = m.group(1), _place(m.group(2), caps_known)
        name = _name(raw)
        known = relation_of(name.lower()) if name else None
        # A bare name needs a capital letter from the STT, or to be someone we already know.
        if name and place and (known or (caps_known and raw[0].isupper())):
            who = f"My {known} {name}" if known else name
            return [Fact("fact", f"{who} lives in {place}.", name.lower(), "home")]
        return []
    return None


def _life_facts(text: str) -> list[Fact] | None:
    """Work, allergies, favourites, pets, and "my X is Y"."""
    if m := _P_JOB.match(text):
        job = _tail(m.group(1), 6)
        return [Fact("fact", _sentence(f"I work as {job}"), "me", "job")] if job else []
    if m := _P_WORKPLACE.match(text):
        place = _tail(m.group(2), 6)
        return (
            [Fact("fact", _sentence(f"I work {m.group(1).lower()} {place}"), "me", "workplace")]
            if place
            else []
        )
    if m := (_P_ALLERGY.match(text) or _P_ALLERGY2.match(text)):
        what = _tail(m.group(1), 5)
        return [Fact("fact", f"I'm allergic to {what}.", "me", f"allergy:{_norm(what)}")] if what else []
    if m := _P_FAVORITE.match(text):
        what, value = m.group(1).lower(), _tail(m.group(2), 6)
        fact = Fact("preference", _sentence(f"My favourite {what} is {value}"), "me", f"favorite:{what}")
        return [fact] if value else []
    if m := _P_PET.match(text):
        rel, name = m.group(1).lower(), _name(m.group(2))
        return [Fact("fact", f"My {rel} is called {name}.", name.lower(), "who")] if name else []
    if m := _P_MY_X.match(text):
        what, value = m.group(1).lower(), _tail(m.group(2), 8)
        if not value or _TRANSIENT.match(what) or _TRANSIENT_VALUE.match(value) or _TIMELY.search(value):
            return []
        if re.match(rf"^(?:{RELATIONS})$", what, _R):  # "my sister is a nurse": about the sister
            return [Fact("fact", _sentence(f"My {what} is {value}"), what, "is")]
        return [Fact("fact", _sentence(f"My {what} is {value}"), "me", f"my:{_norm(what)}")]
    return None


def _event_noun(event: str) -> str:
    """'job interview' and 'the interview' are the same thread: keyed by the last word."""
    return event.lower().split()[-1]


def _article(phrase: str) -> str:
    return "an" if phrase[:1].lower() in "aeiou" else "a"


def extract(
    user_text: str,
    reply_text: str = "",
    relation_of: PersonLookup = _no_lookup,
    today: date | None = None,
) -> list[Fact]:
    """The facts the owner stated in `user_text`. `reply_text` (the companion's words) is never mined;
    it is accepted so callers pass the whole turn and so LLM output can be checked against it."""
    del reply_text  # deliberately unused: the companion's words are not evidence about the owner
    today = today or date.today()
    caps_known = user_text != user_text.lower()  # Vosk writes all lower case; Whisper capitalises
    facts: list[Fact] = []
    for c in clauses(user_text):
        if is_statement(c):
            facts.extend(_clause_facts(c.text, relation_of, today, caps_known))
    # One fact per subject and key: the last statement wins ("I love jazz. Well, I like jazz.").
    last: dict[tuple[str, str], Fact] = {}
    free: list[Fact] = []
    for f in facts:
        if f.key:
            last[(f.subject, f.key)] = f
        else:
            free.append(f)
    return list(last.values()) + free


# ---- optional: the LLM, checked against the owner's words -------------------------------------

LLM_PROMPT = (
    "List facts the user states about themselves or people they know. One per line, each a short "
    "sentence in the user's voice starting with 'I' or 'My'. If there are none, write NONE."
)
_CONTENT = re.compile(r"[a-z0-9']+")


def grounded(candidate: str, user_text: str) -> bool:
    """Every content word of `candidate` occurs in the owner's words (allowing simple inflections)."""
    said = set(_CONTENT.findall(user_text.lower()))
    stems = {w[:5] for w in said if len(w) >= 5}
    for w in _CONTENT.findall(candidate.lower()):
        if w in STOPWORDS or w in said or w in ("i'm", "i've", "lives", "live"):
            continue
        if len(w) >= 5 and w[:5] in stems:
            continue
        return False
    return True


def validate_llm_lines(output: str, user_text: str) -> list[Fact]:
    """Keep only LLM lines that are first-person statements grounded in the owner's words."""
    out: list[Fact] = []
    if not any(is_statement(c) for c in clauses(user_text)):
        return out
    for raw in output.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", raw).strip().strip('"')
        if not line or line.upper().startswith("NONE") or "?" in line:
            continue
        if not re.match(r"^(?:I|I'm|I've|My)\b", line) or not 3 <= len(line.split()) <= 15:
            continue
        c = Clause(line, False)
        if not is_statement(c) or not grounded(line, user_text):
            continue
        out.append(Fact("fact", _sentence(line)))
    return out
