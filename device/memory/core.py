"""`Memory`: the one object the companion talks to. It stores what the owner tells it (after each
turn), finds what is relevant (before each reply), and answers "forget ..." / "what do you remember".

Deduplication: a fact with a subject and key replaces the earlier one ("Anna moved to Paris" updates
where Anna lives); free-text memories closer than `merge_similarity` (cosine) are merged.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from device.memory import questions
from device.memory.database import MemoryFull, StoreError, now_iso
from device.memory.embed import Embedder
from device.memory.extract import (
    LLM_PROMPT,
    RELATIONS,
    Fact,
    clauses,
    extract,
    validate_llm_lines,
)
from device.memory.intent import claims as claims_command
from device.memory.intent import handle, is_command
from device.memory.retrieve import RetrievalSettings, Retriever, content_words
from device.memory.store import MemoryStore, Record, load_import_file

if TYPE_CHECKING:
    from device.config.schema import MemoryConfig
    from device.pipeline.stages import Dialogue

log = logging.getLogger(__name__)

FULL_NOTICE = "I couldn't save that — my storage is full."
SUBFOLDER = "memory"


@dataclass
class Stored:
    id: int
    action: str  # added | updated | unchanged | merged | closed
    text: str


class Memory:
    def __init__(
        self,
        store: MemoryStore,
        embedder: Embedder,
        cfg: MemoryConfig | None = None,
        llm: Dialogue | None = None,
    ):
        from device.config.schema import MemoryConfig

        self.cfg = cfg or MemoryConfig()
        self.store = store
        self.embedder = embedder
        self.llm = llm if self.cfg.use_llm_extraction else None
        self.retriever = Retriever(
            store,
            embedder,
            RetrievalSettings(
                max_prompt_tokens=self.cfg.max_prompt_tokens,
                min_similarity=self.cfg.min_similarity,
                max_items=self.cfg.max_items,
            ),
        )
        self._lock = threading.RLock()
        self._conversation: list[str] = []  # the owner's words in the conversation so far
        self._conversation_start = now_iso()
        self._last_turn = 0.0
        self._handled: set[str] = set()  # transcripts answered by an intent: not mined again
        self._surfaced: set[int] = set()  # due threads already brought up in this run
        self._last_stored: list[int] = []

    @classmethod
    def open(
        cls,
        state_dir: Path,
        cfg: MemoryConfig | None = None,
        models_dir: Path | None = None,
        llm: Dialogue | None = None,
        embedder: Embedder | None = None,
    ) -> Memory:
        """Open (or create) the memory in `state_dir/memory/`. Raises StoreError or ModelMissing."""
        store = MemoryStore(state_dir / SUBFOLDER)
        try:
            return cls(store, embedder or Embedder.load(models_dir), cfg, llm)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        """Save the summary of the conversation in progress, then close the database."""
        try:
            self.end_conversation()
        except StoreError as e:
            log.warning("memory: conversation summary not saved: %s", e)
        self.store.close()

    # ---- every turn ---------------------------------------------------------------------------

    def context_for(self, text: str) -> str:
        """What to put in the prompt for this turn ("" if nothing relevant). Never raises."""
        if not self.cfg.enabled or not text.strip() or self.cfg.max_prompt_tokens == 0:
            return ""
        try:
            return self.retriever.context_for(text, extra=self._due_threads())
        except StoreError as e:
            log.warning("memory: no context this turn: %s", e)
            return ""

    def after_turn(self, user: str, reply: str = "") -> list[str]:
        """Store what the owner said worth remembering; returns the texts stored.
        Raises MemoryFull (already logged) when the disk is full; say FULL_NOTICE and carry on."""
        if not self.cfg.enabled or not user.strip():
            return []
        with self._lock:
            if user in self._handled or is_command(user):
                self._handled.discard(user)  # a memory command is not itself something to remember
                return []
            now = time.monotonic()
            if self._last_turn and now - self._last_turn > self.cfg.conversation_gap_s:
                self.end_conversation()
            self._last_turn = now
            self._conversation.append(user)
            facts = extract(user, reply, relation_of=self.relation_of)
            if not facts and self.llm is not None:
                facts = self._llm_facts(user)
            try:
                stored = self._remember_all(facts, user)
            except StoreError as e:
                if isinstance(e, MemoryFull):
                    raise
                log.warning("memory: not saved: %s", e)
                return []
            self._last_stored = [s.id for s in stored if s.action in ("added", "updated", "merged")]
            for s in stored:
                log.info("memory: %s #%d %s", s.action, s.id, s.text)
            return [s.text for s in stored if s.action in ("added", "updated", "merged")]

    def intent(self, text: str) -> str | None:
        """Handle "forget what I told you about …" / "what do you remember about me?" / "remember that …";
        None for anything else."""
        if not self.cfg.enabled:
            return None
        reply = handle(self, text)
        if reply is not None:
            self._handled.add(text)
            return reply
        try:  # a question about the owner's own life: what they said, or that they haven't said
            return questions.answer(self, text)
        except StoreError as e:
            log.warning("memory: could not look that up: %s", e)
            return "Sorry, I couldn't reach my memory just now."

    def conversation_so_far(self) -> list[str]:
        """What the owner has said in the conversation in progress, oldest first."""
        with self._lock:
            return list(self._conversation)

    def intent_claims(self, text: str) -> bool:
        """Whether `intent` might act on `text` (without acting)."""
        return self.cfg.enabled and claims_command(text)

    # ---- storing ------------------------------------------------------------------------------

    def remember(self, fact: Fact, source: str = "") -> Stored:
        """Store one fact, updating or merging instead of piling up."""
        with self._lock:
            if fact.close:
                old = self.store.by_key(fact.subject, fact.key)
                if old is None:
                    return Stored(0, "unchanged", "")
                self._delete([old.id])
                return Stored(old.id, "closed", old.text)
            vec = self.embedder.embed_one(fact.text)
            if fact.key:
                old = self.store.by_key(fact.subject, fact.key)
                if old is not None:
                    if old.text == fact.text and old.due == fact.due:
                        self.store.touch(old.id)
                        return Stored(old.id, "unchanged", old.text)
                    self.store.update(old.id, fact.text, source, fact.due, vec, kind=fact.kind)
                    self.retriever.index.add(old.id, vec)
                    return Stored(old.id, "updated", fact.text)
            near = self._nearest(vec)
            if near is not None and near[1] >= self.cfg.merge_similarity:
                old = self.store.get(near[0])
                if (
                    old is not None
                    and (not old.key or not fact.key)
                    and (fact.key or _adds_nothing(fact, old))
                ):
                    if fact.key:  # a keyed fact replaces the free-text one it repeats
                        self.store.update(
                            old.id, fact.text, source, fact.due, vec, fact.kind, fact.subject, fact.key
                        )
                        self.retriever.index.add(old.id, vec)
                        return Stored(old.id, "merged", fact.text)
                    self.store.touch(old.id)
                    return Stored(old.id, "unchanged", old.text)
            mem_id = self.store.add(fact.kind, fact.text, fact.subject, fact.key, source, fact.due, vec)
            self.retriever.index.add(mem_id, vec)
            return Stored(mem_id, "added", fact.text)

    def _remember_all(self, facts: list[Fact], source: str) -> list[Stored]:
        """A turn's facts in one transaction: all of them are saved, or (disk full) none."""
        if not facts:
            return []
        try:
            with self.store.transaction():
                return [self.remember(f, source=source) for f in facts]
        except StoreError:
            self.retriever.index.refresh(force=True)  # drop what the rolled-back writes cached
            raise

    def add_text(self, text: str) -> list[Stored]:
        """The owner's explicit "remember this": the facts in it, or the text itself as one memory."""
        facts = [f for f in extract(text, relation_of=self.relation_of) if not f.close]
        if not facts:
            clean = text.strip()
            facts = [Fact("fact", clean if clean[-1:] in ".!?" else clean + ".")]
        stored = self._remember_all(facts, text)
        self._last_stored = [s.id for s in stored if s.action != "closed"]
        return stored

    def end_conversation(self) -> Stored | None:
        """Save a short summary of the conversation so far (the owner's own words), and start anew."""
        with self._lock:
            turns, start = self._conversation, self._conversation_start
            self._conversation, self._conversation_start = [], now_iso()
            if not self.cfg.enabled or not self.cfg.summaries:
                return None
            text = summarize(turns, datetime.now().date())
            if text is None:
                return None
            return self.remember(Fact("summary", text, "conversation", f"summary:{start}"))

    def _llm_facts(self, user: str) -> list[Fact]:
        from device.pipeline.events import Message

        assert self.llm is not None
        if not any(w in user.lower().split() for w in ("i", "my", "i'm", "i've")):
            return []
        try:
            out = self.llm.reply([Message("system", LLM_PROMPT), Message("user", user)])
        except Exception as e:  # the LLM is optional here; a failure must not cost the turn
            log.warning("memory: LLM extraction failed: %s", e)
            return []
        return validate_llm_lines(out, user)

    # ---- reading and forgetting ---------------------------------------------------------------

    def relation_of(self, name: str) -> str | None:
        """'anna' -> 'sister', from what the owner said before ("My sister Anna ...")."""
        try:
            records = self.store.by_subject(name.lower())
        except StoreError:
            return None
        pattern = re.compile(rf"^My ({RELATIONS})(?: is called| is named)? {re.escape(name)}\b", re.I)
        for rec in records:
            m = pattern.match(rec.text)
            if m:
                return m.group(1).lower()
        return None

    def search(self, text: str, limit: int = 10, floor: float | None = None) -> list[tuple[Record, float]]:
        return [(h.record, h.similarity) for h in self.retriever.search(text, limit, floor)]

    def list(self) -> list[Record]:
        return self.store.all()

    def forget(self, ids: Sequence[int]) -> int:
        with self._lock:
            return self._delete(list(ids))

    def forget_about(self, topic: str) -> int:
        """Delete every memory about `topic` (its words, or close in meaning); returns how many."""
        with self._lock:
            words = {w.rstrip("s") for w in content_words(topic)}
            if not words:
                return 0
            hits = {r.id for r, _ in self.search(topic, limit=50, floor=0.6)}
            for rec in self.store.all():
                said = {w.rstrip("s") for w in content_words(f"{rec.text} {rec.subject} {rec.key}")}
                if words & said:
                    hits.add(rec.id)
            records = [r for r in self.store.all() if r.id in hits]
            people = {r.subject for r in records if r.subject not in ("", "me", "conversation")}
            for person in people:  # "forget about my sister" also forgets what Anna does
                hits.update(r.id for r in self.store.by_subject(person))
            # The conversation in progress must not bring it back in its summary.
            self._conversation = [
                t for t in self._conversation if not words & {w.rstrip("s") for w in content_words(t)}
            ]
            return self._delete(sorted(hits))

    def forget_last(self) -> int:
        """Forget what the previous turn stored ("forget that")."""
        with self._lock:
            ids, self._last_stored = self._last_stored, []
            return self._delete(ids)

    def wipe(self) -> list[Path]:
        with self._lock:
            self._conversation = []
            removed = self.store.wipe()
            self.retriever.index.refresh(force=True)
            return removed

    def import_file(self, path: Path) -> tuple[int, int, int]:
        """Validated first: a bad file raises ImportRejected and nothing is imported."""
        items = load_import_file(path)
        vecs = self.embedder.embed([i["text"] for i in items]) if items else np.zeros((0, 384), np.float32)
        result = self.store.import_records(items, vecs)
        self.retriever.index.refresh(force=True)
        return result

    def _delete(self, ids: list[int]) -> int:
        n = self.store.delete(ids)
        self.retriever.index.remove(ids)
        return n

    def _nearest(self, vec: np.ndarray) -> tuple[int, float] | None:
        self.retriever.index.refresh()
        ids, sims = self.retriever.index.similarities(vec)
        if ids.size == 0:
            return None
        i = int(np.argmax(sims))
        return int(ids[i]), float(sims[i])

    def _due_threads(self) -> list[Record]:
        """An open thread that is due, once per run (so the companion asks how the interview went)."""
        today = date.today().isoformat()
        for rec in self.store.due_threads(today):
            if rec.id not in self._surfaced:
                self._surfaced.add(rec.id)
                return [rec]
        return []


def summarize(turns: list[str], day: date, max_items: int = 3, max_words: int = 12) -> str | None:
    """An extractive summary: the owner's most contentful utterances, clipped. None if nothing said."""
    scored = []
    for i, t in enumerate(turns):
        n = len(content_words(t))
        if n >= 2:
            scored.append((n, i, t))
    if not scored:
        return None
    chosen = sorted(sorted(scored, reverse=True)[:max_items], key=lambda x: x[1])
    parts = []
    for _, _, t in chosen:
        text = " ".join(c.text for c in clauses(t))
        words = text.split()
        parts.append(" ".join(words[:max_words]) + (" …" if len(words) > max_words else ""))
    when = f"{day.strftime('%A')} {day.day} {day.strftime('%B')}"
    return f"On {when} we talked about: " + "; ".join(parts) + "."


def _words(text: str) -> set[str]:
    # Every word and number, one letter or digit included ("door 2", "4,999"): retrieve.content_words
    # drops those, and they are what tells two close memories apart.
    return set(re.findall(r"[a-z0-9]+", text.lower().replace(",", "")))


def _adds_nothing(fact: Fact, old: Record) -> bool:
    """A free-text memory close to one already kept is a repeat only if it says nothing the old one
    does not: "my code for door 3 is 4575" is not a repeat of "my code for door 2 is 9088", however
    close their embeddings (measured: the crash suite lost such memories while saying "Okay")."""
    return _words(fact.text) <= _words(old.text)
