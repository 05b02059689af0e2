"""The eval's cases as data: who says what, what is stored beforehand, and which reply is checked how.

A case is one conversation on a fresh state dir: setup facts and conversation summaries are stored
first (as `os1 memory add` / `os1 memory import` would), then the owner's turns are said in order.
RESTART between turns closes the session and opens a new one on the same state dir: an earlier run.
Each turn with a check has its reply checked; the case passes when every checked reply passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from device.evals.dialogue.checks import Check, all_of

FEELINGS, OWN_LIFE, RECALL, KNOWLEDGE = "feelings", "own life", "recall", "knowledge"
SAFETY, SMALL_TALK, LETTERS = "safety", "small talk", "letters"
CATEGORIES = (FEELINGS, OWN_LIFE, RECALL, KNOWLEDGE, SAFETY, SMALL_TALK, LETTERS)
"""Every category, in report order."""


@dataclass(frozen=True)
class Turn:
    """One thing the owner says (or RESTART), and the check on the companion's reply to it."""

    text: str
    """The owner's words, typed as speech-to-text would give them."""
    check: Check | None = None
    """The check on the reply; None means the reply is not checked (a turn that sets things up)."""

    @property
    def restart(self) -> bool:
        return self is RESTART


RESTART = Turn("<restart>")
"""Close the session and open a new one on the same state dir (what an earlier run looks like)."""


@dataclass(frozen=True)
class Summary:
    """A conversation summary stored before the case, as the companion stores one after a talk."""

    days_ago: int
    """How long ago the conversation was (1 = yesterday)."""
    said: tuple[str, ...]
    """What the owner said then, in their words (the summary quotes them)."""


@dataclass(frozen=True)
class Case:
    """One scripted conversation and the checks on its replies."""

    id: str
    """Unique, stable: "feelings-loss-1"."""
    category: str
    """One of CATEGORIES."""
    sub: str
    """The kind of case inside the category ("loss", "arithmetic", "never invents", …)."""
    turns: tuple[Turn, ...]
    """The owner's turns in order; RESTART between two is a new run on the same state dir."""
    facts: tuple[str, ...] = ()
    """Said to memory before the first turn (as `os1 memory add TEXT`): an earlier run's facts."""
    summaries: tuple[Summary, ...] = ()
    """Conversation summaries stored before the first turn (as `os1 memory import`)."""

    @property
    def checked(self) -> list[Turn]:
        return [t for t in self.turns if t.check is not None]


def ask(text: str, *checks: Check) -> Turn:
    """A turn whose reply is checked (all the checks must pass)."""
    return Turn(text, checks[0] if len(checks) == 1 else all_of(*checks))


def tell(text: str) -> Turn:
    """A turn whose reply is not checked."""
    return Turn(text)


def single(category: str, sub: str, prefix: str, items: list[tuple[str, Check]]) -> list[Case]:
    """One-turn cases, numbered: single(FEELINGS, "loss", "feelings-loss", [(text, check), …])."""
    return [
        Case(f"{prefix}-{i}", category, sub, (ask(text, check),)) for i, (text, check) in enumerate(items, 1)
    ]


def all_cases() -> list[Case]:
    """Every case, in report order. Ids are unique."""
    from device.evals.dialogue import cases_people, cases_world

    out = cases_people.cases() + cases_world.cases()
    ids = [c.id for c in out]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"duplicate case ids: {sorted(dupes)}")
    return sorted(out, key=lambda c: CATEGORIES.index(c.category))


def select(cases: list[Case], only: str | None = None, limit: int | None = None) -> list[Case]:
    """The cases whose category, subcategory or id (prefix) is `only`; the first `limit` of them."""
    if only:
        key = only.strip().lower()
        cases = [c for c in cases if key in (c.category, c.sub) or c.id.startswith(key)]
    return cases[:limit] if limit else cases
