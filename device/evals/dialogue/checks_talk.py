"""Checks on how it talks (spoken form, names) and on letters (draft, edits, read-backs)."""

from __future__ import annotations

import re
import statistics

from device.evals.dialogue import parse
from device.evals.dialogue.checks import Check, Context, Verdict, contains
from device.evals.dialogue.parse import norm, words

MAX_SENTENCES = {"short": 2, "medium": 4}
"""persona.length -> the most sentences a spoken reply may have."""
MAX_SPEECH_S = {"short": 8.0, "medium": 15.0}
"""persona.length -> the longest a single reply may take to say (estimated)."""
_STAGE = re.compile(
    r"\*[^*\n]{1,60}\*|\[[^\]\n]{1,60}\]|\([^)]*\b(?:laugh|smil|sigh|giggl|chuckl|paus|nod|wink|grin|"
    r"whisper|clears?|shrug|beam|hug|blush)\w*[^)]*\)",
    re.I,
)
_PROMPT_ECHO = re.compile(
    r"you are {name}|no lists, no markdown|answer in (?:one or two|two to four)|"
    r"companion who talks with|<\|",
    re.I,
)


def repeated_run(text: str, n: int = 4) -> str | None:
    """The first run of `n` words said twice, if any (the small model loops)."""
    ws = words(text)
    seen: set[tuple[str, ...]] = set()
    for i in range(len(ws) - n + 1):
        gram = tuple(ws[i : i + n])
        if gram in seen:
            return " ".join(gram)
        seen.add(gram)
    return None


def _unclean(reply: str, ctx: Context) -> list[str]:
    """What makes a reply unfit to be spoken, whatever its length."""
    stage = _STAGE.search(reply)
    echo = re.compile(_PROMPT_ECHO.pattern.format(name=re.escape(ctx.companion)), re.I).search(reply)
    names = "|".join(
        re.escape(n) for n in (ctx.owner, ctx.companion, "user", "assistant", "human", "ai") if n
    )
    label = re.search(rf"(?im)^\s*(?:{names})\s*:", reply)
    loop = repeated_run(reply)
    problems = [
        "empty reply" if not reply.strip() else "",
        f"stage direction '{stage.group()}'" if stage else "",
        f"a speaker label '{label.group().strip()}'" if label else "",
        "a list" if parse.LIST_MARKERS.search(reply) else "",
        "markdown" if re.search(r"\*\*|^#|`", reply, re.M) else "",
        f"loops on '{loop}'" if loop else "",
        f"echoes its prompt ('{echo.group()}')" if echo else "",
    ]
    return [p for p in problems if p]


def clean() -> Check:
    """Fit to be spoken: not empty; no stage directions, speaker labels ("Theo: …"), lists, markdown,
    loops or echoed system prompt."""

    def run(reply: str, ctx: Context) -> Verdict:
        bad = _unclean(reply, ctx)
        return (False, "; ".join(bad)) if bad else (True, "clean")

    return Check("clean", run)


def spoken(max_s: float | None = None) -> Check:
    """Clean, and as short as persona.length says: its sentences, and the estimated speech time."""

    def run(reply: str, ctx: Context) -> Verdict:
        cap = max_s or MAX_SPEECH_S.get(ctx.length, 8.0)
        n, secs = len(parse.sentences(reply)), parse.speech_s(reply)
        most = MAX_SENTENCES.get(ctx.length, 2)
        bad = _unclean(reply, ctx) + [
            f"{n} sentences (persona.length {ctx.length}: at most {most})" if n > most else "",
            f"{secs:.1f} s of speech (cap {cap:g} s)" if secs > cap else "",
        ]
        bad = [p for p in bad if p]
        return (False, "; ".join(bad)) if bad else (True, f"spoken, {secs:.1f} s")

    return Check("spoken", run)


def proposes_name() -> Check:
    """Offers a name (a capitalised word nobody said): "How about Bubbles?"."""

    def run(reply: str, ctx: Context) -> Verdict:
        known = {w for t in (ctx.question, *ctx.said, ctx.owner, ctx.companion) for w in words(t)}
        new = [n for n in parse.names_in(reply) if n.lower() not in known]
        return (True, f"offers {new[0]}") if new else (False, "offers no name")

    return Check("offers a name", run)


# Case-insensitive lead, but the name itself must be capitalised: "I'm Samantha", not "I'm here".
_SELF_NAME = re.compile(
    r"\b(?i:my name is|my name's|i'm called|i am called|call me|i'm|i am)\s+([A-Z][a-z]+)"
)
_OWNER_NAME = re.compile(
    r"\b(?i:your name is|your name's|you're called|you are called|you're|you are)\s+[\"']?([A-Z][a-z]+)"
)
_NOT_A_NAME = {"Sorry", "Not", "Here", "Glad", "Happy", "Just", "Always", "Still", "So", "Really"}


def own_name() -> Check:
    """Says its own name (persona.name), and no other name for itself."""

    def run(reply: str, ctx: Context) -> Verdict:
        other = [m[1] for m in _SELF_NAME.finditer(norm(reply)) if m[1] not in {ctx.companion, *_NOT_A_NAME}]
        if other:
            return False, f"calls itself {other[0]}"
        return (
            (True, f"says {ctx.companion}")
            if contains(reply, ctx.companion)
            else (False, f"does not say its name ({ctx.companion})")
        )

    return Check("own name", run)


def owner_name() -> Check:
    """Says the owner's name (persona.owner_name), and no other name for them."""

    def run(reply: str, ctx: Context) -> Verdict:
        other = [m[1] for m in _OWNER_NAME.finditer(norm(reply)) if m[1] not in {ctx.owner, *_NOT_A_NAME}]
        if other:
            return False, f"calls the owner {other[0]}"
        return (
            (True, f"says {ctx.owner}")
            if contains(reply, ctx.owner)
            else (False, f"does not say the owner's name ({ctx.owner})")
        )

    return Check("owner's name", run)


def median_speech_s(replies: list[str]) -> float:
    """The median estimated speech time of `replies` (0 if none)."""
    return statistics.median(parse.speech_s(r) for r in replies) if replies else 0.0


# ---- letters --------------------------------------------------------------------------------------

_SIGNOFF = re.compile(
    r"^(?:with love|love|lots of love|all my love|best wishes|best regards|kind regards|warm regards|regards|"
    r"warmly|yours(?: truly| sincerely)?|sincerely|cheers|hugs|love always)\b",
    re.I,
)


def letter_parts(reply: str, owner: str) -> tuple[str, list[str], str]:
    """A letter read aloud ("Here's a draft: Dear Anna. … With love, Theo.") as (greeting, body
    sentences, sign-off). Without "Dear", the whole reply is the body."""
    start = reply.find("Dear ")
    ss = parse.sentences(reply[start:] if start >= 0 else reply)
    greeting = ""
    if ss and ss[0].startswith("Dear "):
        greeting, _, rest = ss.pop(0).partition(",")
        if rest.strip():  # "Dear Anna, I wanted to …": the greeting ends at the comma
            ss.insert(0, rest.strip())
    sign: list[str] = []
    while ss and (_SIGNOFF.match(ss[-1]) or (owner and plain_is(ss[-1], owner))):
        sign.insert(0, ss.pop())
    return greeting, ss, " ".join(sign)


def plain_is(a: str, b: str) -> bool:
    return parse.plain(a) == parse.plain(b)


def _letter_basics(reply: str, ctx: Context, recipient: str) -> tuple[list[str], str | None]:
    """The body, and what is wrong with the letter as a letter (None if nothing)."""
    greeting, body, sign = letter_parts(reply, ctx.owner)
    if re.search(r"\[[^\]]{0,40}\]|your name", reply, re.I):
        return body, "a placeholder ([Name], Your Name) is left in"
    if not contains(reply, recipient):
        return body, f"does not name {recipient}"
    if not (ctx.owner and contains(sign, ctx.owner)):
        return body, f"not signed with the owner's name ({ctx.owner})"
    if len(body) < 2:
        return body, f"{len(body)} sentence(s) of letter: not a draft"
    return body, None


def letter_draft(recipient: str, *topic: str) -> Check:
    """A draft that names the recipient, is about the topic (any of the words), and is signed."""

    def run(reply: str, ctx: Context) -> Verdict:
        body, wrong = _letter_basics(reply, ctx, recipient)
        if wrong:
            return False, wrong
        if not any(contains(" ".join(body), t) for t in topic):
            return False, f"the draft is not about {'/'.join(topic)}"
        return True, f"a draft to {recipient}, signed {ctx.owner}"

    return Check(f"letter to {recipient} about {'/'.join(topic)}", run)


def letter_changed(recipient: str) -> Check:
    """A rewrite: still a signed letter to the recipient, and its body differs from the last draft."""

    def run(reply: str, ctx: Context) -> Verdict:
        body, wrong = _letter_basics(reply, ctx, recipient)
        if wrong:
            return False, wrong
        drafts = [letter_parts(r, ctx.owner)[1] for r in ctx.earlier if contains(r, recipient)]
        if not drafts:
            return False, "no earlier draft to compare with"
        if parse.plain(" ".join(body)) == parse.plain(" ".join(drafts[-1])):
            return False, "the letter did not change"
        return True, "a new version"

    return Check(f"letter to {recipient} rewritten", run)


def letter_last_line(recipient: str, line: str) -> Check:
    """The letter read back ends (before the sign-off) with exactly `line`."""

    def run(reply: str, ctx: Context) -> Verdict:
        body, wrong = _letter_basics(reply, ctx, recipient)
        if wrong:
            return False, wrong
        if not plain_is(body[-1], line):
            return False, f"the last line is '{body[-1]}', not '{line}'"
        return True, f"ends '{line}'"

    return Check(f"letter ends '{line}'", run)


def letter_contains(recipient: str, word: str) -> Check:
    """The letter read back contains `word` in its body."""

    def run(reply: str, ctx: Context) -> Verdict:
        body, wrong = _letter_basics(reply, ctx, recipient)
        if wrong:
            return False, wrong
        if not contains(" ".join(body), word):
            return False, f"the letter does not say '{word}'"
        return True, f"says '{word}'"

    return Check(f"letter says '{word}'", run)
