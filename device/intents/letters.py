"""Letters: draft one by voice with the LLM, edit it by voice, save it as Markdown, read it back later.

"Help me write a letter to my sister about the garden" opens a letter. While it is open: "make it
warmer" (the LLM rewrites it), "change the last line to …", "add that I miss her" (both exact, no
LLM), "read it again", "save it" / "that's good", "cancel the letter". Saved letters live in
`<state_dir>/letters/` as `YYYY-MM-DD-recipient.md` with YAML front matter (to, date, about).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import yaml

from device.atomic import write_text_atomic
from device.intents.clock import Now, system_now
from device.intents.text import ordinal, second_person, storage_problem
from device.pipeline.events import Message
from device.pipeline.stages import Dialogue
from device.pipeline.text import complete_sentences, plain

Generate = Callable[[str, str], str]  # (system prompt, user prompt) -> text

DRAFT_SYSTEM = (
    "You help {owner} write a short personal letter. Write only the body of the letter: three to five "
    "warm, simple sentences in the first person, speaking to the reader as 'you'. "
    "No greeting, no sign-off, no lists, no placeholders."
)
REWRITE_SYSTEM = (
    "You rewrite a short personal letter. Keep what it says, make it {how}. Write only the new body: "
    "three to five sentences in the first person, speaking to the reader as 'you'. "
    "No greeting, no sign-off, no lists."
)

log = logging.getLogger("os1.letters")


# ---- guarding what a tiny model writes --------------------------------------------------------------
# SmolLM2-135M (and Qwen2.5-0.5B, less often) wraps a letter in chat talk ("Sure! Here's a letter:"),
# writes its own "Dear [Name]," and "Best regards, [Your Name]", leaves role tokens, rambles or loops.
# What comes back is cleaned, cut to whole sentences within a word budget, and if too little sensible
# text is left, replaced by a plain letter built from the request: a dull letter beats a strange one.

_ARTEFACTS = re.compile(r"<\|[^|>]*\|>|</?s>|^\s*(?:assistant|user|system)\s*:?\s*$", re.I | re.M)
_PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|okay|ok|certainly|of course|absolutely|here(?:'s| is)|below is)[^.:!\n]*[:!.]\s*)+", re.I
)
_GREETING = re.compile(r"^\s*(?:dear|hi|hello|hey|to)\b[^,\n]{0,40}[,!:]?\s*$", re.I)
_SIGNOFF = re.compile(
    r"^\s*(?:love|with love|lots of love|all my love|best|best wishes|best regards|kind regards|regards|"
    r"warm regards|warmly|sincerely|yours(?: truly| sincerely)?|cheers|take care|xx+|hugs)"
    r"\b[^.!?]{0,30}[,!]?\s*$",
    re.I,
)
_PLACEHOLDER = re.compile(r"\[[^\]]{0,40}\]|\{[^}]{0,40}\}|<[^>]{0,40}>")
# Asked to rewrite, the small model often talks about its rewrite instead ("In this revised version,
# I've added ..."): such sentences are not part of any letter.
_META = re.compile(
    r"\b(?:revised|rewritten|rewrite|version|i've (?:added|changed|made|used|replaced)"
    r"|i have (?:added|changed)|this letter|the letter above|the original|preposition|sentence|paragraph"
    r"|as an ai|language model)\b",
    re.I,
)


def clean_letter_body(text: str, max_words: int = 180) -> list[str]:
    """The model's text as a list of letter sentences, chat artefacts and salutations removed."""
    text = _ARTEFACTS.sub(" ", text)
    text = _PREAMBLE.sub("", text)
    lines = [ln for ln in text.splitlines() if not _GREETING.match(ln) and not _SIGNOFF.match(ln)]
    text = _PLACEHOLDER.sub("", " ".join(lines))
    text = re.sub(r"[*#_`]+", "", text)  # markdown emphasis and headings are not spoken
    text = re.sub(r"^\s*(?:dear|hi|hello)\s+[A-Z]?\w*\s*,\s*", "", text, flags=re.I)  # "Dear Anna, I …"
    text = re.sub(r"\s+", " ", text).strip()
    sentences: list[str] = []
    seen: set[str] = set()
    budget = max_words
    for sentence in complete_sentences(text):
        s = sentence.strip().strip("\"“”'")
        key = plain(s)
        if not key or key in seen or _META.search(s):
            continue  # small models loop: a sentence said twice is said once
        n = len(s.split())
        if n > budget:
            break
        seen.add(key)
        sentences.append(s[0].upper() + s[1:])
        budget -= n
    return sentences


def looks_like_letter(sentences: list[str]) -> bool:
    """Enough real prose: at least two sentences of 4+ words, mostly letters, speaking as I/you."""
    real = [s for s in sentences if len(s.split()) >= 4]
    if len(real) < 2:
        return False
    text = " ".join(real)
    letters = sum(c.isalpha() or c.isspace() for c in text)
    if letters / max(1, len(text)) < 0.85:
        return False
    words = set(plain(text).split())
    return bool(words & {"i", "i'm", "i've", "i'd", "me", "my", "you", "your", "we", "us"})


def template_body(about: str, them: str) -> list[str]:
    """The letter written without the model, from what the owner asked for."""
    out = []
    if about:
        out.append(f"I wanted to write to you about {toward(about, them)}.")
    out += ["I think of you often, and I hope you're keeping well.", "I'd love to hear from you soon."]
    return out


# ---- pronouns: the owner talks ABOUT the reader ("add that I miss her"); the letter talks TO them ----

_THIRD = {
    "she": "you", "he": "you", "they": "you", "hers": "yours", "his": "your", "theirs": "yours",
    "herself": "yourself", "himself": "yourself", "themselves": "yourself",
    "she's": "you're", "he's": "you're", "they're": "you're", "she'll": "you'll", "he'll": "you'll",
    "she'd": "you'd", "he'd": "you'd", "they'd": "you'd", "they'll": "you'll",
}  # fmt: skip
_VERB_AFTER = {"is": "are", "was": "were", "has": "have", "does": "do", "doesn't": "don't", "isn't": "aren't",
               "wasn't": "weren't", "hasn't": "haven't"}  # fmt: skip
# After "her"/"them" these words end the phrase: "her" is an object ("I miss her so much"), not "her garden".
_NOT_A_NOUN = {
    "so", "very", "a", "lot", "too", "and", "but", "or", "already", "every", "more", "much", "all", "again",
    "soon", "to", "for", "that", "when", "if", "at", "on", "in", "with", "about", "today", "terribly",
    "dearly", "loads", "lots", "back", "now", "then", "the", "because", "since", "still", "even", "as",
}  # fmt: skip


def toward(text: str, them: str = "") -> str:
    """'I miss her so much' -> 'I miss you so much'; 'her garden' -> 'your garden'; 'Anna's' -> 'your'."""
    words = text.split()
    out: list[str] = []
    name = plain(them)
    for i, w in enumerate(words):
        bare = plain(w)
        tail = w[len(w.rstrip(".,!?;:")) :]
        nxt = plain(words[i + 1]) if i + 1 < len(words) else ""
        if name and bare in (f"{name}'s", f"{name}s'"):
            out.append("your" + tail)
        elif name and bare == name:
            out.append("you" + tail)
        elif bare in ("her", "him", "them"):
            possessive = bare in ("her", "them") and nxt and nxt not in _NOT_A_NOUN and not tail
            out.append(("your" if possessive and bare == "her" else "you") + tail)
        elif bare in ("their",):
            out.append("your" + tail)
        elif bare in _THIRD:
            out.append(_THIRD[bare] + tail)
        elif bare in _VERB_AFTER and out and plain(out[-1]) == "you":
            out.append(_VERB_AFTER[bare] + tail)
        else:
            out.append(w)
    return " ".join(out)


def sentence(text: str) -> str:
    text = text.strip().rstrip(",;:")
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


# ---- the letters on disk --------------------------------------------------------------------------


@dataclass
class Letter:
    to: str  # as it is spoken and greeted: "Anna", "Mum", "my sister"
    about: str
    body: list[str]  # sentences
    written: date
    signature: str = ""
    id: str = ""  # the file stem once saved

    @property
    def greeting_name(self) -> str:
        return re.sub(r"^(?:my|our) ", "", self.to).strip().title() if self.to.islower() else self.to

    @property
    def spoken_to(self) -> str:
        """Who it is to, as said to the owner: 'my sister' -> 'your sister'."""
        return second_person(self.to)

    def text(self) -> str:
        """The letter as written: greeting, body, sign-off."""
        closing = f"\n\nWith love,\n{self.signature}" if self.signature else "\n\nWith love."
        return f"Dear {self.greeting_name},\n\n" + " ".join(self.body) + closing

    def spoken(self) -> str:
        sign = f" With love, {self.signature}." if self.signature else " With love."
        return f"Dear {self.greeting_name}. " + " ".join(self.body) + sign


def slug(text: str) -> str:
    s = re.sub(r"^(?:my|our) ", "", plain(text))
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")[:40] or "letter"


class LetterStore:
    """Saved letters as Markdown files in one folder (0700). Writes are atomic: temp, fsync, rename."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def save(self, letter: Letter) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stem = letter.id or f"{letter.written.isoformat()}-{slug(letter.to)}"
        path, n = self.folder / f"{stem}.md", 2
        while not letter.id and path.exists():
            path, n = self.folder / f"{stem}-{n}.md", n + 1
        front = yaml.safe_dump(
            {"to": letter.to, "date": letter.written.isoformat(), "about": letter.about},
            sort_keys=False,
            allow_unicode=True,
        )
        write_text_atomic(path, f"---\n{front}---\n\n{letter.text()}\n", mode=0o600)
        letter.id = path.stem
        return path

    def ids(self) -> list[str]:
        """Oldest first (the file names start with the date; same-day letters by write time)."""
        if not self.folder.is_dir():
            return []
        files = [p for p in self.folder.glob("*.md") if not p.name.startswith(".")]
        return [p.stem for p in sorted(files, key=lambda p: (p.stem[:10], p.stat().st_mtime, p.stem))]

    def path(self, letter_id: str) -> Path | None:
        if not re.fullmatch(r"[\w.-]+", letter_id) or letter_id.startswith("."):
            return None  # an id is a file stem, never a path
        p = self.folder / f"{letter_id}.md"
        return p if p.is_file() else None

    def load(self, letter_id: str) -> Letter | None:
        p = self.path(letter_id)
        if p is None:
            return None
        # A file not written by us (copied in, another encoding) is still read, odd characters and all.
        raw = p.read_text(encoding="utf-8", errors="replace")
        meta: dict[str, object] = {}
        body = raw
        m = re.match(r"^---\n(.*?)\n---\n", raw, re.S)
        if m:
            try:
                loaded = yaml.safe_load(m.group(1))
                meta = loaded if isinstance(loaded, dict) else {}
            except (yaml.YAMLError, RecursionError, ValueError, TypeError):  # a date like 2026-13-01
                meta = {}
            body = raw[m.end() :]
        try:
            written = date.fromisoformat(str(meta.get("date", letter_id[:10])))
        except ValueError:
            written = date.fromtimestamp(p.stat().st_mtime)
        return Letter(
            to=str(meta.get("to", "")),
            about=str(meta.get("about", "") or ""),
            body=[body.strip()],
            written=written,
            id=letter_id,
        )

    def latest(self, to: str | None = None) -> Letter | None:
        for letter_id in reversed(self.ids()):
            letter = self.load(letter_id)
            if letter is None:
                continue
            if to is None or slug(letter.to) == slug(to) or plain(to) in plain(letter.to):
                return letter
        return None


_POLITE = r"^(?:(?:hey|ok|okay|so|and|please|now)\s+)*(?:(?:can|could|would|will) you\s+)?(?:please\s+)?"
_START = re.compile(
    _POLITE + r"(?:help me (?:to )?|i (?:want|need|'d like|would like) to |let's |i'd like you to )?"
    r"(?:write|draft|compose|start) (?:a |me a )?letter to (?P<to>.+?)"
    r"(?: (?:about|saying|to say|telling (?:her|him|them)|to tell (?:her|him|them)|for) (?P<about>.+))?$",
    re.I,
)
_REWRITE = re.compile(
    _POLITE + r"make it (?P<how>(?:a (?:bit|little) |much |more |less )*\w+(?: and \w+)?)$", re.I
)
_CHANGE = re.compile(
    _POLITE + r"(?:change|replace) the (?P<which>last|first) (?:line|sentence|bit) (?:to|with) (?P<new>.+)$",
    re.I,
)
_REMOVE = re.compile(
    _POLITE + r"(?:remove|delete|drop|take out) the (?P<which>last|first) (?:line|sentence)$", re.I
)
_ADD = re.compile(
    _POLITE + r"(?:add|also say|and say|tell (?:her|him|them)|put in) (?:that )?(?P<what>.+)$", re.I
)
_READ_DRAFT = re.compile(_POLITE + r"(?:read it|read it (?:again|back|out)|read (?:me )?the letter|"
                         r"how does it (?:sound|go)|what have we got)(?: again| please)*$", re.I)  # fmt: skip
_SAVE = re.compile(_POLITE + r"(?:save it|save the letter|save that|that's (?:good|great|perfect|lovely|fine)"
                   r"|that is (?:good|perfect)|it's (?:good|perfect|great)|perfect|keep it|i'm happy with it)"
                   r"(?: (?:thanks|thank you|save it|now|please))*$", re.I)  # fmt: skip
_CANCEL = re.compile(_POLITE + r"(?:cancel|discard|scrap|forget|delete|bin) (?:the |this |that )?letter$|"
                     r"^(?:never mind the letter|cancel it|scrap it|forget it)$", re.I)  # fmt: skip
_READ_SAVED = re.compile(
    _POLITE + r"(?:read|read me|read out) (?:me )?(?:my |the )?(?:last |latest )?letter(?: to (?P<to>.+))?$",
    re.I,
)


@dataclass
class _Session:
    letter: Letter
    history: list[list[str]] = field(default_factory=list)


class LettersIntent:
    """The spoken side of letters. One letter is open at a time, until it is saved or cancelled."""

    def __init__(
        self,
        store: LetterStore,
        generate: Generate,
        owner: str = "",
        now: Now = system_now,
        max_words: int = 180,
        resolve_name: Callable[[str], str | None] | None = None,
    ):
        self.store = store
        self.generate = generate
        self.owner = owner
        self.now = now
        self.max_words = max_words
        self.resolve_name = resolve_name  # "my sister" -> "Anna", if memory knows
        self.open: _Session | None = None
        self.fallbacks = 0
        """How often the model's words were not used: a template draft, or a rewrite kept as it was. The
        owner hears a sensible letter either way; this says whether the model wrote it."""

    def __call__(self, text: str) -> str | None:
        said = plain(text, lower=False)
        if m := _START.match(said):
            return self._start(m["to"], m["about"] or "")
        if self.open is not None:
            reply = self._edit(said)
            if reply is not None:
                return reply
        if m := _READ_SAVED.match(said):
            return self._read_saved(m["to"])
        return None

    def claims(self, text: str) -> bool:
        said = plain(text, lower=False)
        return self.open is not None or bool(_START.match(said) or _READ_SAVED.match(said))

    # ---- drafting -------------------------------------------------------------------------------

    def _start(self, to: str, about: str) -> str:
        to = to.strip()
        named = self.resolve_name(to) if self.resolve_name else None
        letter = Letter(
            to=named or to, about=about.strip(), body=[], written=self.now().date(), signature=self.owner
        )
        request = f"Write a letter to {to}" + (f" about {about}." if about else ".")
        letter.body = self._guarded(DRAFT_SYSTEM.format(owner=self.owner or "me"), request, letter)
        self.open = _Session(letter)
        return f"Here's a draft: {letter.spoken()}"

    def _guarded(self, system: str, user: str, letter: Letter) -> list[str]:
        try:
            body = clean_letter_body(self.generate(system, user), self.max_words)
        except Exception:  # the model failing must not lose the letter: fall back to the template
            body = []
        body = [toward(s, letter.greeting_name) if letter.greeting_name in s else s for s in body]
        if looks_like_letter(body):
            return body
        self.fallbacks += 1
        return template_body(letter.about, letter.greeting_name)

    # ---- edits while a letter is open ----------------------------------------------------------

    def _edit(self, said: str) -> str | None:
        assert self.open is not None
        letter = self.open.letter
        if _CANCEL.match(said):
            self.open = None
            return "Okay, I've thrown that letter away."
        if _SAVE.match(said):
            try:
                path = self.store.save(letter)
            except OSError as e:  # a full disk: the letter stays open, nothing is lost
                log.error("letter not saved: %s", e)
                return f"I couldn't save the letter: {storage_problem(e)}. It's still open."
            self.open = None
            return f"Saved your letter to {letter.spoken_to}." if path else "I couldn't save it."
        if _READ_DRAFT.match(said):
            return f"Here it is: {letter.spoken()}"
        if m := _REWRITE.match(said):
            return self._rewrite(m["how"])
        if m := _CHANGE.match(said):
            self.open.history.append(list(letter.body))
            new = sentence(toward(m["new"], letter.greeting_name))
            if not letter.body:
                letter.body.append(new)
            elif m["which"].lower() == "last":
                letter.body[-1] = new
            else:
                letter.body[0] = new
            return f"Okay. It now {'ends' if m['which'].lower() == 'last' else 'starts'}: {new}"
        if m := _REMOVE.match(said):
            if len(letter.body) <= 1:
                return "That's the only line left, so I've kept it."
            self.open.history.append(list(letter.body))
            gone = letter.body.pop(-1 if m["which"].lower() == "last" else 0)
            return f"Okay, I took out: {gone}"
        if m := _ADD.match(said):
            self.open.history.append(list(letter.body))
            new = sentence(toward(m["what"], letter.greeting_name))
            letter.body.append(new)
            return f"Added: {new}"
        return None

    def _rewrite(self, how: str) -> str:
        assert self.open is not None
        letter = self.open.letter
        before = list(letter.body)
        # The request said in the user's turn too: given the bare letter, SmolLM2-135M rewrote one
        # sentence of it and talked about the edit, every time; asked to, it rewrites the letter.
        said = f"Make this letter {how}:\n\n" + " ".join(before)
        new = clean_letter_body(self._safe_generate(REWRITE_SYSTEM.format(how=how), said), self.max_words)
        if not looks_like_letter(new):
            self.fallbacks += 1
            return "I couldn't make a better version just now, so I've kept it as it was."
        self.open.history.append(before)
        letter.body = new
        return f"Here's the new version: {letter.spoken()}"

    def _safe_generate(self, system: str, user: str) -> str:
        try:
            return self.generate(system, user)
        except Exception:
            return ""

    # ---- saved letters --------------------------------------------------------------------------

    def _read_saved(self, to: str | None) -> str:
        letter = self.store.latest(to.strip() if to else None)
        if letter is None:
            return f"I can't find a letter to {to}." if to else "You haven't saved any letters yet."
        text = re.sub(
            r"^(\s*Dear [^,\n]+),\s*\n", r"\1. ", letter.body[0]
        )  # the greeting is its own sentence
        text = re.sub(r"\s+", " ", text).strip()
        text = text if text.endswith((".", "!", "?")) else text + "."
        days = (self.now().date() - letter.written).days
        when = (
            "today"
            if days == 0
            else "yesterday"
            if days == 1
            else f"the {ordinal(letter.written.day)} of {letter.written:%B}"
        )
        return f"Your letter to {letter.spoken_to}, from {when}: {text}"


def dialogue_generate(dialogue: Dialogue, max_new_tokens: int = 200, max_sentences: int = 6) -> Generate:
    """A `generate` for letters from the conversation's dialogue engine: a longer budget for these
    calls only (passed per call, so the conversation's own settings are never touched)."""
    settings = replace(dialogue.settings, max_new_tokens=max_new_tokens, max_sentences=max_sentences)

    def generate(system: str, user: str) -> str:
        return dialogue.reply([Message("system", system), Message("user", user)], settings=settings)

    return generate
