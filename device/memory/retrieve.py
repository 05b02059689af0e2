"""Finding the memories that matter for what the owner just said, fast enough for every turn.

Two rankings are fused by reciprocal rank: BM25 over the words (SQLite FTS5) and cosine similarity
of MiniLM embeddings (numpy over a cached matrix of every memory). A similarity floor keeps
unrelated memories out of a tiny model's prompt: when nothing is close enough, the context is "".
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date

import numpy as np

from device.memory.embed import Embedder
from device.memory.extract import STOPWORDS
from device.memory.speech import second_person
from device.memory.store import MemoryStore, Record

CHARS_PER_TOKEN = 4  # rough, for English with a BPE tokenizer
HEADER = "What you know about the user:"


@dataclass
class RetrievalSettings:
    max_prompt_tokens: int = 120
    min_similarity: float = 0.35  # cosine; below it a memory is unrelated
    bm25_slack: float = 0.1  # a memory that also shares a word with the query may be this much below
    max_items: int = 4
    rrf_k: int = 60  # the usual reciprocal-rank-fusion constant


@dataclass(frozen=True)
class Hit:
    record: Record
    similarity: float
    score: float


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS and len(w) > 1]


class Index:
    """The embedding matrix of every memory, kept in RAM and reloaded when another process writes."""

    def __init__(self, store: MemoryStore):
        self._store = store
        self._lock = threading.Lock()
        self._version = -3
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.refresh()

    def refresh(self, force: bool = False) -> None:
        version = self._store.data_version()
        if force or version != self._version or version < 0:
            with self._lock:
                self.ids, self.matrix = self._store.vectors()
                self._version = self._store.data_version()

    def add(self, mem_id: int, vec: np.ndarray) -> None:
        with self._lock:
            self._remove([mem_id])
            row = vec.reshape(1, -1).astype(np.float32)
            self.matrix = row if self.matrix.size == 0 else np.vstack([self.matrix, row])
            self.ids = np.append(self.ids, np.int64(mem_id))

    def remove(self, ids: list[int]) -> None:
        with self._lock:
            self._remove(ids)

    def _remove(self, ids: list[int]) -> None:
        if not ids or self.ids.size == 0:
            return
        keep = ~np.isin(self.ids, np.array(ids, dtype=np.int64))
        self.ids, self.matrix = self.ids[keep], self.matrix[keep]

    def similarities(self, vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self.ids.size == 0:
                return self.ids, np.zeros(0, dtype=np.float32)
            # einsum, not @: BLAS spreads a mat-vec over threads, which costs 3-8x when the LLM and
            # TTS keep the cores busy; einsum's single-threaded loop stays under 1 ms for 10,000 rows.
            return self.ids, np.einsum("ij,j->i", self.matrix, vec.astype(np.float32))


class Retriever:
    def __init__(self, store: MemoryStore, embedder: Embedder, settings: RetrievalSettings | None = None):
        self.store = store
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()
        self.index = Index(store)

    def search(self, query: str, limit: int | None = None, floor: float | None = None) -> list[Hit]:
        """The memories related to `query`, best first (at most `limit`)."""
        s = self.settings
        limit = limit or s.max_items
        floor = s.min_similarity if floor is None else floor
        self.index.refresh()
        ids, sims = self.index.similarities(self.embedder.embed_one(query))
        if ids.size == 0:
            return []
        bm25_ids = self.store.bm25(content_words(query))
        bm25_rank = {mid: r for r, mid in enumerate(bm25_ids)}
        order = np.argsort(-sims)
        cos_rank = {int(ids[i]): r for r, i in enumerate(order[:200])}
        scored: list[tuple[float, int, float]] = []
        for i in order[:200]:
            mid, sim = int(ids[i]), float(sims[i])
            in_bm25 = mid in bm25_rank
            if sim < floor - (s.bm25_slack if in_bm25 else 0.0):
                continue
            rrf = 1.0 / (s.rrf_k + cos_rank[mid])
            if in_bm25:
                rrf += 1.0 / (s.rrf_k + bm25_rank[mid])
            scored.append((rrf, mid, sim))
        scored.sort(reverse=True)
        hits = []
        for rrf, mid, sim in scored[:limit]:
            rec = self.store.get(mid)
            if rec is not None:
                hits.append(Hit(rec, sim, rrf))
        return hits

    def context_for(self, query: str, extra: list[Record] | None = None, today: date | None = None) -> str:
        """The related memories as a prompt snippet within the token budget; "" when none are related."""
        budget = self.settings.max_prompt_tokens * CHARS_PER_TOKEN
        records = list(extra or [])
        seen = {r.id for r in records}
        records += [h.record for h in self.search(query) if h.record.id not in seen]
        lines: list[str] = []
        used = len(HEADER)
        for rec in records:
            line = "- " + prompt_line(rec, today or date.today())
            if line in lines:
                continue  # two conversations summed up alike: once is enough (each token costs ~3 ms)
            if used + 1 + len(line) > budget:
                continue  # a shorter one further down may still fit
            lines.append(line)
            used += 1 + len(line)
        return "\n".join([HEADER, *lines]) if lines else ""


def prompt_line(rec: Record, today: date) -> str:
    """The memory as the companion should think of it: "Your sister Anna lives in Paris." A tiny model
    given the owner's own words ("My sister…") repeats them as if they were its own."""
    text = second_person(rec.text)
    text = text[:1].upper() + text[1:]
    if rec.kind == "thread" and rec.due and rec.due <= today.isoformat():
        return f"{text} (Ask how it went.)"
    return text
