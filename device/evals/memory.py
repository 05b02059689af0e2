"""How much time memory retrieval adds to a turn, with a store of 10,000 memories.

    python -m device.evals.memory [--memories 10000] [--queries 200] [--threads 1]

Fills a temporary store with varied generated sentences, then times `Memory.context_for` (embedding
the query, BM25, the cosine scan, fusion, formatting) over many queries, and the embedding alone.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

NAMES = (
    "Anna Ben Chloe David Emma Farid Grace Hugo Ines Jonas Kira Liam Maya Noah Olga Pablo Quinn Rosa "
    "Sami Tara Umar Vera Wes Xena Yuki Zoe Marta Felix Lena Omar Priya Ravi Sofia Theo Nadia Igor"
).split()
RELS = "sister brother mother father friend cousin aunt uncle colleague neighbour boss daughter son".split()
PLACES = (
    "Lyon Paris Berlin Madrid Lisbon Rome Oslo Vienna Prague Dublin Glasgow Leeds Bristol Porto "
    "Seville Munich Zurich Geneva Krakow Warsaw Athens Nantes Bordeaux Ghent Bruges Turin Naples"
).split()
THINGS = (
    "jazz|hiking|sushi|board games|gardening|old films|running|chess|mushrooms|spicy food|opera|"
    "cycling|pottery|horror movies|crosswords|podcasts|baking bread|swimming|techno|poetry|camping|"
    "tennis|knitting|karaoke|bird watching|coffee|green tea|dark chocolate|football|sailing"
).split("|")
JOBS = "nurse|teacher|carpenter|software developer|chef|pharmacist|bus driver|architect|accountant".split("|")
EVENTS = "interview|exam|dentist appointment|presentation|flight|wedding|concert|job interview".split("|")
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
TEMPLATES = [
    "My {rel} {name} lives in {place}.",
    "I love {thing}.",
    "I can't stand {thing}.",
    "My {rel} {name} works as a {job}.",
    "{name} is allergic to {thing2}.",
    "I have a {event} on {day} in {place}.",
    "My {rel} {name} is getting married in {place}.",
    "{name} and I went to {place} to try {thing}.",
    "My favourite hobby with {name} is {thing}.",
    "On {day} we talked about {thing} and my {rel} {name}.",
    "{name} gave me a book about {thing} for my birthday.",
    "I used to work as a {job} in {place}.",
]
QUESTIONS = [
    "Where does my {rel} live?",
    "What does {name} do for a living?",
    "Do you remember what I think about {thing}?",
    "When is my {event}?",
    "What should I get {name} for their birthday?",
    "Have I ever been to {place}?",
    "What's the weather like today?",
    "Tell me a joke.",
    "How long does it take to boil an egg?",
    "Can you recommend something to do this evening?",
]


UNRELATED = {q for q in QUESTIONS if "{" not in q}


def sentences(n: int, seed: int = 0) -> list[str]:
    """`n` distinct, varied first-person sentences of the kind the owner tells the companion."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        t = rng.choice(TEMPLATES)
        things = rng.sample(THINGS, 2)
        out.add(
            t.format(
                rel=rng.choice(RELS),
                name=rng.choice(NAMES),
                place=rng.choice(PLACES),
                thing=things[0],
                thing2=things[1],
                job=rng.choice(JOBS),
                event=rng.choice(EVENTS),
                day=rng.choice(DAYS),
            )
        )
    return sorted(out, key=lambda _: rng.random())


def queries(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [
        rng.choice(QUESTIONS).format(
            rel=rng.choice(RELS),
            name=rng.choice(NAMES),
            place=rng.choice(PLACES),
            thing=rng.choice(THINGS),
            event=rng.choice(EVENTS),
        )
        for _ in range(n)
    ]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    from device.config.schema import MemoryConfig
    from device.memory.core import Memory
    from device.memory.embed import Embedder

    p = argparse.ArgumentParser(prog="python -m device.evals.memory", description=__doc__)
    p.add_argument("--memories", type=int, default=10_000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads for the embedder")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    embedder = Embedder.load(threads=args.threads)
    load_s = time.perf_counter() - t0
    one = [time.perf_counter()]
    for q in queries(100, seed=7):
        embedder.embed_one(q)
        one.append(time.perf_counter())
    embed_ms = [(b - a) * 1000 for a, b in zip(one, one[1:], strict=False)]

    with tempfile.TemporaryDirectory(prefix="os1-memory-bench-") as tmp:
        texts = sentences(args.memories)
        t0 = time.perf_counter()
        vecs = embedder.embed(texts, batch=64)
        fill_embed_s = time.perf_counter() - t0
        memory = Memory.open(Path(tmp), MemoryConfig(), embedder=embedder)
        t0 = time.perf_counter()
        memory.store.add_many([("fact", t) for t in texts], vecs)
        fill_db_s = time.perf_counter() - t0
        memory.store.close()
        t0 = time.perf_counter()
        memory = Memory.open(Path(tmp), MemoryConfig(), embedder=embedder)  # a restart: load the index
        open_s = time.perf_counter() - t0
        lat, nonempty, unrelated, polluted = [], 0, 0, 0
        for q in queries(args.queries):
            t0 = time.perf_counter()
            ctx = memory.context_for(q)
            lat.append((time.perf_counter() - t0) * 1000)
            nonempty += bool(ctx)
            if q in UNRELATED:  # small talk that no stored memory is about
                unrelated += 1
                polluted += bool(ctx)
        add_ms = []
        for t in sentences(50, seed=99):
            t0 = time.perf_counter()
            memory.after_turn(t.replace("My ", "my ", 1), "")
            add_ms.append((time.perf_counter() - t0) * 1000)
        memory.after_turn("My cousin Zebulon lives in Timbuktu.", "")
        t0 = time.perf_counter()
        forgot = memory.forget_about("Zebulon")
        forget_ms = (time.perf_counter() - t0) * 1000
        size_mb = sum(f.stat().st_size for f in (Path(tmp) / "memory").iterdir()) / 1e6
        memory.store.close()

    print(f"embedder load: {load_s * 1000:.0f} ms (threads={args.threads})")
    print(
        f"embed one sentence: p50 {_pct(embed_ms, 0.5):.1f} ms, p95 {_pct(embed_ms, 0.95):.1f} ms "
        f"(n={len(embed_ms)})"
    )
    print(
        f"fill: {args.memories} memories embedded in {fill_embed_s:.1f} s, written in {fill_db_s:.1f} s; "
        f"database {size_mb:.1f} MB"
    )
    print(f"open (restart, load {args.memories} embeddings): {open_s * 1000:.0f} ms")
    print(
        f"context_for per turn over {len(lat)} queries: p50 {_pct(lat, 0.5):.1f} ms, "
        f"p95 {_pct(lat, 0.95):.1f} ms, max {max(lat):.1f} ms, mean {statistics.mean(lat):.1f} ms; "
        f"{nonempty} of {len(lat)} turns got memories; {polluted} of the {unrelated} unrelated ones did"
    )
    print(
        f"after_turn (extract + embed + dedup + fsync'd commit) over {len(add_ms)} turns: "
        f"p50 {_pct(add_ms, 0.5):.1f} ms, p95 {_pct(add_ms, 0.95):.1f} ms"
    )
    print(f"forget_about (voice 'forget what I told you about ...'): {forget_ms:.0f} ms, {forgot} forgotten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
