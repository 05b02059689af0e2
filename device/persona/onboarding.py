"""The first meeting: a short spoken setup, like OS1's, run as an intent before the LLM.

It asks the owner's name and how to say it, what to call the companion, what the owner wants from
it, and how it should speak. Every answer is saved at once (profile.json), so a restart resumes at
the same question. `opening()` is the first line to announce; `handle(text)` takes each answer and
returns the next line, or None once the setup is over and normal conversation resumes.

A question the config already answers (a name set in config, say) is not asked: config wins.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from device.config.schema import PersonaConfig
from device.persona.profile import Profile, ProfileStore

STEPS = ("owner_name", "pronunciation", "companion_name", "wishes", "style")

_QUESTIONS = {
    "owner_name": "What's your name?",
    "pronunciation": "Did I say your name right, {owner}? If not, say it the way you say it.",
    "companion_name": "And what would you like to call me? I'm {name} for now.",
    "wishes": "What would you like from me? Company, reminders, someone to think out loud with?",
    "style": "Last thing: do you like short answers or longer ones? And should I sound calmer or livelier?",
}

_DONT_KNOW = re.compile(
    r"\b(you (choose|pick|decide)|up to you|i don'?t know|dunno|no idea|(i )?don'?t mind|whatever"
    r"|surprise me|doesn'?t matter|don'?t care|not sure)\b",
    re.IGNORECASE,
)
_STOP_SETUP = re.compile(
    r"\b(skip (the |this )?(setup|set up|whole thing|all|everything|onboarding)|not now|maybe later"
    r"|stop (the )?(setup|set up|questions))\b",
    re.IGNORECASE,
)
_SKIP_ONE = re.compile(r"^\W*(skip( (it|that|this( one)?|this question))?|pass|next( question)?)\W*$", re.I)
_YES = re.compile(
    r"^\W*(yes|yeah|yep|yup|right|correct|perfect|exactly|that'?s (it|right|correct|perfect|fine)"
    r"|close enough|sounds? (right|good|fine)|you (said|got) it( right)?)\b",
    re.IGNORECASE,
)
# Words around a name that are not the name.
_NOT_NAME = {
    "a", "an", "and", "but", "please", "thanks", "thank", "you", "though", "actually", "so", "then",
    "okay", "ok", "well", "um", "uh", "er", "erm", "yeah", "yes", "no", "oh", "hi", "hello", "hey",
    "there", "here", "sure", "name", "my", "is", "it", "its", "it's", "i", "i'm", "just", "call", "me",
    "the", "be", "fine", "good", "great", "nice", "to", "meet", "of", "course", "said", "say", "like",
    "yourself",
}  # fmt: skip
_OWNER_PREFIX = re.compile(
    r"\b(?:my name is|my name's|name's|i am|i'm|it's|it is|call me|this is|they call me|people call me)\s+",
    re.IGNORECASE,
)
_COMPANION_PREFIX = re.compile(
    r"\b(?:call yourself|call you|your name is|your name's|you are|you're|you can be|be called|"
    r"how about|name you|go with|let's go with|let's call you|i'll call you|i like|keep|stay|be)[\s,]+",
    re.IGNORECASE,
)
_KEEP = re.compile(
    r"\b(keep (it|that|your name|the name)|stay (as you are|the same)|the same|as you are|is fine"
    r"|that'?s fine|i like (it|that|your name))\b",
    re.IGNORECASE,
)
_PRONOUNCE_PREFIX = re.compile(
    r"^\W*(?:(?:no|nope|not quite|almost)\b)?\W*"
    r"(?:it's pronounced|it is pronounced|it's said|it sounds like|it's|it is|"
    r"you say it|i say it|say|pronounced|more like|like)?\b\s*",
    re.IGNORECASE,
)
_WISH_PREFIX = re.compile(
    r"^\W*(?:(?:well|um|uh|so|hmm|i think|honestly|mostly|just)[, ]+)*"
    r"(?:i(?:'d| would)? (?:really |just |mostly )?(?:like|want|need|love|hope)(?: for)?(?: you)?(?: to)?"
    r"(?: be)?\s+)?",
    re.IGNORECASE,
)


def _name_words(segment: str, original_case: bool) -> str | None:
    """The name at the start of `segment`: one word, two if the second is capitalized (a surname)."""
    words = re.findall(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'\-]*", segment)
    out: list[str] = []
    for w in words:
        if w.lower() in _NOT_NAME:
            if out:
                break
            continue
        if out and not (original_case and w[0].isupper()):
            break
        out.append(w[:1].upper() + w[1:])
        if len(out) == 2:
            break
    return " ".join(out) or None


def parse_owner_name(text: str) -> str | None:
    """ "My name is Theodore." / "Theodore" / "It's Theo." -> the name; None if there is none."""
    if _DONT_KNOW.search(text):
        return None
    m = _OWNER_PREFIX.search(text)
    rest = text[m.end() :] if m else text
    segment = re.split(r"[,.;!?]", rest.strip())[0]
    if m is None and len(segment.split()) > 3:
        return None  # a sentence without "my name is": not a name
    return _name_words(segment, original_case=True)


def parse_companion_name(text: str, current: str) -> tuple[str, str]:
    """(name, how): how is "new", "kept" or "chose" (the owner left it to the companion)."""
    if _DONT_KNOW.search(text):
        return current, "chose"
    m = _COMPANION_PREFIX.search(text)
    if m is not None:
        segment = re.split(r"[,.;!?]", text[m.end() :].strip())[0]
        # Nobody says "call yourself so ..." as a filler: "so fear" is how STT writes "Sophie".
        heard = re.fullmatch(r"(so)\s+([A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'\-]*)", segment, re.IGNORECASE)
        if heard is not None:
            name = " ".join(w[:1].upper() + w[1:] for w in heard.groups())
            return name, "kept" if name.lower() == current.lower() else "new"
        # "Call yourself, um, Sophie": the name may come after a pause the STT wrote as a comma.
        for part in re.split(r"[,.;!?]", text[m.end() :].strip())[:3]:
            name = _name_words(part, original_case=True)
            if name is not None:
                return name, "kept" if name.lower() == current.lower() else "new"
    if _KEEP.search(text):
        return current, "kept"
    segment = re.split(r"[,.;!?]", text.strip())[0]
    name = _name_words(segment, original_case=True) if len(segment.split()) <= 3 else None
    if name is None:
        return current, "unclear"
    return name, "kept" if name.lower() == current.lower() else "new"


def parse_pronunciation(text: str, name: str) -> str | None:
    """ "" if the owner says it was right; their spelling of how it sounds; None if unclear."""
    if _YES.search(text):
        return ""
    rest = _PRONOUNCE_PREFIX.sub("", text.strip(), count=1)
    spoken = " ".join(re.findall(r"[A-Za-zÀ-ÿ'\-]+", re.split(r"[.;!?]", rest)[0])[:4])
    if not spoken:
        return None
    return "" if spoken.lower() == name.lower() else spoken


def parse_wishes(text: str) -> str:
    """What the owner wants, as a short phrase ("" for "I don't know")."""
    if _DONT_KNOW.search(text) or re.fullmatch(r"\W*(nothing|nothing much|no|none)\W*", text, re.I):
        return ""
    rest = _WISH_PREFIX.sub("", text.strip(), count=1).strip().rstrip(".!?")
    return " ".join(rest.split()[:20])


def parse_style(text: str) -> tuple[str | None, str | None]:
    """(length, energy): "short"/"medium" and "low"/"medium"/"high"; None where not said."""
    t = text.lower()
    length = None
    if re.search(r"\bnot (too |very |so )?long", t):
        length = "short"
    elif re.search(r"\bnot (too |very |so )?short", t):
        length = "medium"
    elif re.search(r"\b(short|shorter|brief|briefer|quick|concise)\b", t):
        length = "short"
    elif re.search(r"\b(long|longer|more detail|detailed|more)\b", t):
        length = "medium"
    energy = None
    if re.search(r"\bnot (too |so )?(calm|quiet|slow)", t):
        energy = "high"
    elif re.search(r"\bnot (too |so )?(lively|loud|excited|fast)", t):
        energy = "low"
    elif re.search(r"\b(calm|calmer|quiet|quieter|gentle|gentler|slow|slower|soft|softer|relaxed)\b", t):
        energy = "low"
    elif re.search(r"\b(lively|livelier|energetic|upbeat|excited|bright|brighter|cheerful|faster)\b", t):
        energy = "high"
    elif re.search(r"\b(in between|in the middle|medium|as you are|both)\b", t):
        energy = "medium"
    return length, energy


class Onboarding:
    """The setup as an intent handler. Thread-safe: answers arrive on the loop's reply thread."""

    def __init__(
        self,
        store: ProfileStore,
        config: PersonaConfig,
        on_change: Callable[[Profile], None] | None = None,
    ):
        self.store = store
        self.config = config
        self.on_change = on_change  # after each saved answer: rebuild the persona from it
        self.profile = store.load()
        self._lock = threading.Lock()
        self._retried = False

    # ------------------------------------------------------------------ where we are
    def _fixed(self) -> set[str]:
        """Steps the config already decides (it was set to something other than the default)."""
        d, c = PersonaConfig(), self.config
        fixed = set()
        if c.owner_name != d.owner_name:
            fixed.add("owner_name")
        if c.owner_pronunciation != d.owner_pronunciation:
            fixed.add("pronunciation")
        if c.name != d.name:
            fixed.add("companion_name")
        if c.length != d.length and c.energy != d.energy:
            fixed.add("style")
        return fixed

    def pending(self) -> str | None:
        """The next question's step, or None when there is nothing left to ask."""
        fixed = self._fixed()
        for step in STEPS:
            if step in self.profile.answered or step in fixed:
                continue
            if step == "pronunciation" and not self._owner():
                continue  # no name to say
            return step
        return None

    @property
    def active(self) -> bool:
        return self.config.onboarding and not self.profile.done and self.pending() is not None

    def _owner(self) -> str:
        return self.config.owner_name or self.profile.owner_name

    def _name(self) -> str:
        default = PersonaConfig().name
        if self.config.name != default:
            return self.config.name
        return self.profile.companion_name or self.config.name

    def _question(self, step: str) -> str:
        return _QUESTIONS[step].format(owner=self._owner(), name=self._name())

    # ------------------------------------------------------------------ the conversation
    def opening(self) -> str | None:
        """The first line to speak at start, or None if there is no setup to run."""
        with self._lock:
            if not self.active:
                return None
            step = self.pending()
            assert step is not None
            if self.profile.answered:
                return f"Hi again. Let's finish getting to know each other. {self._question(step)}"
            return f"Hi, I'm {self._name()}. Before we start, I'd like to know a little about you. " + (
                self._question(step)
            )

    def handle(self, text: str) -> str | None:
        """The reply to one answer: the next question, or the goodbye line when done; None once the
        setup is over (or off), so the LLM answers."""
        with self._lock:
            if not self.active:
                return None
            step = self.pending()
            assert step is not None
            if _STOP_SETUP.search(text):
                self.profile.done = True
                self._save()
                return "Okay, we'll skip the rest. I'm here whenever you want to talk."
            if _SKIP_ONE.match(text):
                ack: str | None = "Okay, let's move on."
            else:
                ack = self._answer(step, text)
            if ack is None:
                if not self._retried:
                    self._retried = True
                    return f"Sorry, I didn't catch that. {self._question(step)}"
                ack = "Let's leave that for now."
            self._retried = False
            self.profile.answered.append(step)
            following = self.pending()
            if following is None:
                self.profile.done = True
                reply = f"{ack} {self._closing()}"
            else:
                reply = f"{ack} {self._question(following)}"
            self._save()
            return reply

    def _answer(self, step: str, text: str) -> str | None:
        """Store one answer; return the acknowledgement, or None if it was not understood."""
        p = self.profile
        if step == "owner_name":
            name = parse_owner_name(text)
            if name is None:
                return None
            p.owner_name = name
            return f"Nice to meet you, {name}."
        if step == "pronunciation":
            said = parse_pronunciation(text, self._owner())
            if said is None:
                return None
            p.owner_pronunciation = said
            return "Good." if not said else "Got it. I'll say it like that."
        if step == "companion_name":
            name, how = parse_companion_name(text, self._name())
            if how == "unclear":
                return None
            if how == "chose":
                return f"Then I'll choose: I'll stay {name}."
            if how == "kept":
                return f"Then I'll stay {name}."
            p.companion_name = name
            return f"{name} it is. I like it."
        if step == "wishes":
            p.wishes = parse_wishes(text)
            return "I'll remember that." if p.wishes else "That's fine. We'll find out together."
        length, energy = parse_style(text)
        if length is None and energy is None:
            return None
        p.length, p.energy = length or p.length, energy or p.energy
        said = [
            {"short": "short answers", "medium": "longer answers"}.get(length or "", ""),
            {"low": "a calmer voice", "high": "a livelier voice", "medium": "my usual voice"}.get(
                energy or "", ""
            ),
        ]
        return f"{' and '.join(s for s in said if s).capitalize()}, then."

    def _closing(self) -> str:
        owner = self._owner()
        thanks = f"Thank you, {owner}." if owner else "Thank you."
        return f"{thanks} I'm {self._name()}, and I'm here whenever you want to talk."

    def _save(self) -> None:
        self.store.save(self.profile)
        if self.on_change is not None:
            self.on_change(self.profile)
