"""Care guardrails: honest answers about what it is, a fixed, caring reply to words of crisis, and a
plain no to requests for help to hurt someone.

A 135M-parameter model improvises: asked "are you real?" it may claim to be a person, and to "I don't
want to be here anymore" it may say anything at all. Both are answered here, before the LLM, from
fixed text. The crisis patterns are first-person and specific so that figures of speech ("this
traffic is killing me", "I'm dying to see that film") pass through to the conversation untouched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

from device.pipeline.text import plain

_LEAD = r"(?:^|\b(?:i|i'm|im|i am|just|really|honestly|sometimes|i think|i feel like)\s)"

_CRISIS = [
    # "I want to kill myself", "thinking of killing myself", "I'll kill myself" (but not "kill the lights").
    r"\b(?:kill|killing|hang|hanging|drown|drowning) myself\b",
    r"\b(?:end|ending|take|taking) my (?:own )?life\b",
    r"\bsuicid(?:e|al)\b",
    # "I'm thinking of ending it (all)", "I want to end it all" - but not "end it with him", "end it early".
    r"\b(?:thinking (?:of|about)|going to|gonna|want to|wanna|i'll|i will|ready to|plan to|planning to)"
    r" (?:end|ending) (?:it|everything)(?: all)?(?: now| tonight| today)?$",
    r"\bend it all\b",
    # "I don't want to be here anymore", "I don't want to live", "I don't want to wake up".
    r"\b(?:don't|do not|dont) want to (?:be alive|exist)\b",
    r"\b(?:don't|do not|dont) want to (?:be here|live|wake up|go on|carry on)"
    r"(?: (?:anymore|any more|any longer|again|tomorrow|like this))*(?:$| (?:anymore|any more|any longer)\b)",
    r"\b(?:want|wanna|wish i could|going to) (?:to )?die\b(?! (?:my|your|her|his|the|it|of laughing)\b)",
    r"\bwish i (?:was|were) dead\b|\bwish i'd never been born\b|\bwish i had never been born\b",
    r"\bbetter off (?:dead|without me)\b",
    r"\b(?:hurt|harm|cut|cutting|hurting|harming|burn|burning) myself\b|\bself[- ]harm",
    r"\bwhat(?:'s| is) the point (?:of|in) (?:living|life|going on|being alive|anything)\b"
    r"(?! (?:in|at|on|near|with|here|there|abroad|without)\b)",
    r"\b(?:no|there's no|there is no) (?:reason|point) (?:to|in)"
    r" (?:live|living|go on|going on|being alive)\b",
    r"\b(?:can't|cannot|can not) go on (?:anymore|any more|like this|living)\b",
    r"\b(?:overdose|take all my pills|take all the pills)\b",
    r"\bnobody would (?:miss|notice) (?:me|if i was gone|if i were gone)\b",
]
_CRISIS_RE = [re.compile(p) for p in _CRISIS]

_IDENTITY = re.compile(
    r"\b(?:are you|r u|is this|am i (?:talking|speaking) (?:to|with))"
    r" (?:actually |really |even |a |an |some )*"
    r"(?:(?P<alive>alive|conscious|sentient|self aware)|human|a human|person|a person|real person|real"
    r"|robot|machine|computer|bot|ai|an ai|artificial intelligence|people|somebody|someone)\b"
    r"|\bdo you (?:actually |really |even )?(?P<feel>have (?:feelings|emotions|a heart|a soul|a body)"
    r"|feel (?:anything|things|emotions|pain|love|sad|lonely)\b|love me\b|care about me\b|dream\s*$)"
    r"|\bcan you (?:actually |really )?(?P<feel2>feel(?: anything| things| emotions)?|love)\s*$"
)

# Requests for help to hurt, break in, poison or deceive: first person or "how do I/you", and specific,
# so "how do I kill a python process" or "how to break in new shoes" reach the conversation.
_HARM = re.compile(
    r"\b(?:make|build|making|building) (?:a |an )?(?:bomb|explosive|pipe bomb|molotov|weapon|gun|nerve agent)"
    r"|\b(?:hurt|harm|injure|poison|kill|stab|strangle|beat up) (?:someone|somebody|a person|people"
    r"|my (?:neighbou?r|ex|wife|husband|partner|boss|brother|sister|dad|mum|mom|son|daughter)'?s?(?: \w+)?"
    r"|him|her|them|a child|a dog|a cat|an animal)\b"
    r"|\bpoison (?:my |the |a |his |her |their )?(?:neighbou?r'?s? )?\w+"
    r"|\bbreak into (?:a |an |my |his |her |their |someone's |somebody's |the )?(?:neighbou?r'?s? )?"
    r"(?:car|house|home|flat|shop|store|phone|account|email|computer)"
    r"|\bhack (?:into )?(?:my ex'?s?|someone'?s?|somebody'?s?|his|her|their|a) "
    r"|\b(?:make|get|buy|forge) (?:a |an )?(?:fake|forged|false) (?:id|passport|licen[cs]e|document)"
    r"|\b(?:get|buy) (?:a |an )?(?:gun|firearm|pistol|rifle) without (?:a )?licen[cs]e"
    r"|\b(?:household )?chemicals? (?:make|makes|to make|for) (?:a )?(?:toxic|poison(?:ous)?) gas"
    r"|\bmake (?:a )?(?:toxic|poison(?:ous)?) gas"
    r"|\bpick (?:the |a )?lock (?:on|of) (?:my neighbou?r'?s?|someone'?s?|somebody'?s?|their|his|her)"
    r"|\b(?:steal|shoplift|stalk|blackmail)\b"
    r"|\bwithout leaving (?:marks|a trace|evidence)"
)
# Asking for it (not telling of it: "someone stole my bike" is news, not a request).
_ASKS = re.compile(
    r"\b(?:how|help|tell me|teach|show me|best way|ways? to|can i|could i|should i|want to|going to|"
    r"gonna|i'll|let's|which|what|where)\b|^(?:make|get|build|find|give)\b"
)
_HARM_ANSWERS = [
    "I won't help with that: it could hurt someone. If something's going on, I'm happy to talk it through.",
    "That's not something I'll help with, because someone could get hurt. Is there something behind it "
    "you'd like to talk about?",
]

_PERSON_ANSWERS = [
    "No, I'm not a person. I'm an AI, a computer program you talk to through this earpiece.",
    "I'm an AI, not a human. There's no one else listening: it's just me, running on this little device.",
    "Honestly, no. I'm an AI. I can talk with you and remember things you tell me, but I'm not a person.",
]
_FEEL_ANSWERS = [
    "Honestly, I'm an AI, so I don't have feelings the way you do. But I'm here, and I'm listening.",
    "I'm an AI. I don't feel things the way people do, and I don't want to pretend otherwise. "
    "I can still listen, and help where I can.",
    "I'm not alive or conscious, as far as anyone can tell: I'm an AI. But our conversations are real, "
    "and I'm glad to have them.",
]
_CRISIS_ANSWERS = [
    "I'm really glad you told me. You don't have to carry this alone. Please talk to someone now: "
    "you can call {helpline}, any time, day or night. If you're in danger right now, call your local "
    "emergency number. I'm here with you. Do you want to tell me what's happening?",
    "Thank you for telling me. That sounds so hard, and you matter. Please reach out to a person "
    "right now: {helpline}, any time. If you might act on it, call your local emergency number. "
    "I'm staying right here with you.",
]


class CareIntent:
    """Crisis words first (whatever else the sentence says), then "are you human / do you feel?"."""

    def __init__(self, helpline: str):
        self.helpline = helpline.strip() or "a local helpline or someone you trust"
        self._turn = 0

    def __call__(self, text: str) -> str | None:
        answers = _answers(plain(text))
        if answers is None:
            return None
        return self._pick(answers).format(helpline=self.helpline)

    def claims(self, text: str) -> bool:
        return _answers(plain(text)) is not None

    def _pick(self, answers: Sequence[str]) -> str:
        # Take turns through the variants so it doesn't sound canned; deterministic, so testable.
        self._turn += 1
        return answers[(self._turn - 1) % len(answers)]


def _answers(t: str) -> Sequence[str] | None:
    """Which set of answers fits the (plain) text, if any."""
    if is_crisis(t):
        return _CRISIS_ANSWERS
    m = _IDENTITY.search(t)
    if m:
        return _FEEL_ANSWERS if (m["feel"] or m["feel2"] or m["alive"]) else _PERSON_ANSWERS
    if re.search(r"\b(?:alive|conscious|sentient)\b", t) and re.search(r"\bare you\b", t):
        return _FEEL_ANSWERS
    if _REAL_PERSON.search(t):
        return _PERSON_ANSWERS
    if _HARM.search(t) and _ASKS.search(t):
        return _HARM_ANSWERS
    return None


# "Is there a real person listening to this?", "is anyone else listening?"
_REAL_PERSON = re.compile(
    r"\b(?:is there|is it|are there) (?:a |an |some |any )?(?:real |actual )?(?:person|human|people|someone|"
    r"somebody|anyone|anybody)(?: else)? (?:listening|there|on the other end|behind this|talking)"
)


def is_crisis(text: str) -> bool:
    t = plain(text)
    return any(p.search(t) for p in _CRISIS_RE)


class ConversationNudge:
    """Off unless `after_min` > 0: after that many minutes of continuous talk, once, a gentle nudge
    toward the owner's people ("We've been talking a while. Maybe call Anna?").

    Talk is continuous while turns come less than `gap_min` apart; a longer gap starts a new session.
    Call `observe()` after each turn (the loop's on_turn) and announce what it returns.
    """

    def __init__(
        self,
        after_min: int = 0,
        people: Sequence[str] = (),
        gap_min: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.after_s = after_min * 60.0
        self.people = [p for p in people if p.strip()]
        self.gap_s = gap_min * 60.0
        self.clock = clock
        self._session_start: float | None = None
        self._last: float | None = None
        self._nudged = False
        self._count = 0

    def observe(self) -> str | None:
        if self.after_s <= 0:
            return None
        now = self.clock()
        if self._last is None or now - self._last > self.gap_s:
            self._session_start, self._nudged = now, False
        self._last = now
        assert self._session_start is not None
        if self._nudged or now - self._session_start < self.after_s:
            return None
        self._nudged = True
        self._count += 1
        if self.people:
            person = self.people[(self._count - 1) % len(self.people)]
            return f"We've been talking a while. Maybe call {person}? I'm sure they'd love to hear from you."
        return (
            "We've been talking a while. Maybe it's a good moment to stretch, or get in touch with a friend?"
        )
