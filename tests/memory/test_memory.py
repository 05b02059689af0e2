"""Long-term memory with the real store and the real MiniLM embedder: storing, deduplicating,
recalling after a restart, the voice intents, privacy and a full disk."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from device.config.schema import MemoryConfig
from device.memory import FULL_NOTICE, Fact, Memory, MemoryFull
from device.memory.embed import Embedder
from device.memory.store import MemoryStore
from tests.conftest import REPO

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.load()


@pytest.fixture
def memory(tmp_path: Path, embedder: Embedder) -> Memory:
    m = Memory.open(tmp_path / "state", MemoryConfig(), embedder=embedder)
    yield m
    m.close()


def test_files_are_private_and_commits_are_durable(memory: Memory) -> None:
    memory.after_turn("My sister Anna lives in Lyon.", "How lovely!")
    folder = memory.store.folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for f in folder.iterdir():  # memory.db and, while open, -wal and -shm
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert {f.name for f in folder.iterdir()} >= {"memory.db", "memory.db-wal"}
    conn = memory.store._db()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_embeddings_match_what_the_model_is_known_to_do(embedder: Embedder) -> None:
    v = embedder.embed(["My sister Anna lives in Lyon.", "Where does my sister live?", "Tell me a joke."])
    assert v.shape == (3, 384)
    assert abs(float((v[0] ** 2).sum()) - 1.0) < 1e-4
    assert float(v[0] @ v[1]) > 0.5 > float(v[0] @ v[2])
    # Padding to the batch's longest item must not change a sentence's vector.
    alone = embedder.embed_one("Where does my sister live?")
    assert float(alone @ v[1]) > 0.999


def test_updates_instead_of_piling_up(memory: Memory) -> None:
    assert memory.after_turn("My sister Anna lives in Lyon.") == ["My sister Anna lives in Lyon."]
    assert memory.after_turn("anna moved to paris") == ["My sister Anna lives in Paris."]
    assert memory.after_turn("I love jazz.") == ["I love jazz."]
    assert memory.after_turn("I love jazz!") == []  # exact duplicate: nothing new
    assert memory.after_turn("Actually I hate jazz.") == ["I hate jazz."]
    texts = sorted(r.text for r in memory.list())
    assert texts == ["I hate jazz.", "My sister Anna lives in Paris."]
    # Free text (no subject/key) merges with a near duplicate (cosine > 0.9) instead of a second copy.
    first = memory.add_text("The spare key is under the blue flower pot by the door")
    again = memory.add_text("The spare key is under the blue flower pot by the door.")
    assert first[0].action == "added" and again[0].action == "unchanged"
    other = memory.add_text("The bike lock code is 4711")
    assert other[0].action == "added"
    assert memory.store.count() == 4
    # Close is not the same: a memory that says something new is kept beside its near neighbour.
    # (Measured by the crash suite: the second and third were dropped, and each answered "Okay".)
    doors = [memory.add_text(f"my code for door {d} is {c}.") for d, c in (("13-2", 9088), ("13-3", 4575))]
    doors.append(memory.add_text("my code for door 13-14 is 3887."))
    assert [d[0].action for d in doors] == ["added"] * 3, doors
    assert {"9088.", "4575.", "3887."} <= {w for r in memory.list() for w in r.text.split()}


def test_recall_after_a_restart_in_a_new_process(tmp_path: Path, embedder: Embedder) -> None:
    state = tmp_path / "state"
    writer = textwrap.dedent(
        f"""
        from pathlib import Path
        from device.memory import Memory
        m = Memory.open(Path({str(state)!r}))
        print(m.after_turn("My sister Anna lives in Lyon, and I'm allergic to peanuts.", "Noted!"))
        m.close()
        """
    )
    r = subprocess.run([sys.executable, "-c", writer], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Anna lives in Lyon" in r.stdout
    m = Memory.open(state, MemoryConfig(), embedder=embedder)
    try:
        ctx = m.context_for("Where does my sister live these days?")
        assert "Your sister Anna lives in Lyon" in ctx
        assert "peanuts" in m.context_for("Can I eat this satay sauce with peanut butter?")
        for unrelated in ("What's the weather like today?", "Tell me a joke.", "How long do I boil an egg?"):
            assert m.context_for(unrelated) == "", unrelated
        # The conversation summary was saved at close, in the owner's own words.
        summaries = [r for r in m.list() if r.kind == "summary"]
        assert len(summaries) == 1 and "Anna lives in Lyon" in summaries[0].text
        assert "Noted" not in summaries[0].text
    finally:
        m.close()


def test_context_stays_within_its_token_budget(tmp_path: Path, embedder: Embedder) -> None:
    m = Memory.open(tmp_path / "s", MemoryConfig(), embedder=embedder)
    try:
        for name, city in [("Anna", "Lyon"), ("Marie", "Nice"), ("Julia", "Rome"), ("Eva", "Oslo")]:
            m.after_turn(f"My sister {name} lives in {city}.")
        assert m.context_for("Where do my sisters live?").count("\n- ") == 4
        m.retriever.settings.max_prompt_tokens = 18
        ctx = m.context_for("Where do my sisters live?")
        assert ctx and len(ctx) <= 18 * 4
        assert ctx.count("\n- ") == 1  # the header and the one line that fits
    finally:
        m.close()


def test_the_same_memory_twice_is_recalled_once(memory: Memory) -> None:
    """Two conversations summed up alike are two records, but one line in the prompt."""
    text = "On Sunday we talked about: how many legs does a spider have."
    memory.remember(Fact("summary", text, "conversation", "summary:1"))
    memory.remember(Fact("summary", text, "conversation", "summary:2"))
    assert memory.store.count() == 2
    assert memory.context_for("How many legs does a spider have?").count("spider") == 1


def test_a_due_thread_is_brought_up_once(memory: Memory) -> None:
    today = date.today().isoformat()
    memory.remember(Fact("thread", "I have an interview today.", "me", "thread:interview", today))
    first = memory.context_for("Hi there!")
    assert "You have an interview today (Ask how it went.)" in first
    assert memory.context_for("Hi again!") == ""
    memory.after_turn("The interview went great!")
    assert memory.list() == [] or all(r.kind != "thread" for r in memory.list())


def test_voice_intents(memory: Memory) -> None:
    assert memory.intent("What do you remember about me?") == (
        "Nothing yet. You haven't told me much about yourself."
    )
    memory.after_turn("My sister Anna lives in Lyon.")
    memory.after_turn("My sister is called Anna.")
    memory.after_turn("I'm allergic to peanuts.")
    said = memory.intent("What do you remember about me?")
    assert (
        said is not None and "your sister Anna lives in Lyon" in said and "you're allergic to peanuts" in said
    )
    assert memory.intent("What's the capital of France?") is None
    assert memory.intent("Do you remember the name of that film?") is None
    assert memory.intent("Remind me to call Anna") is None
    assert memory.intent("Forget everything.") is not None
    assert memory.store.count() == 3  # one misheard phrase must not erase everything
    assert memory.intent("Please forget what I told you about my sister.") == (
        "Okay, I've forgotten 2 things about your sister."
    )
    assert [r.text for r in memory.list()] == ["I'm allergic to peanuts."]
    assert memory.intent("Forget what I told you about my sister") == (
        "I don't have anything about your sister to forget."
    )
    # "Forget that" undoes the previous turn only.
    memory.after_turn("I work as a nurse.")
    assert memory.intent("Forget that.") == "Okay, I've forgotten that."
    assert [r.text for r in memory.list()] == ["I'm allergic to peanuts."]
    # "Remember that ..." stores the owner's words even when no pattern knows them.
    assert memory.intent("Remember that the spare key is under the blue pot.") == "Okay, I'll remember that."
    assert memory.after_turn("Remember that the spare key is under the blue pot.") == []  # handled already
    assert "blue pot" in memory.context_for("Where did I leave the spare key?")


def test_forgotten_words_do_not_stay_in_the_file(tmp_path: Path, embedder: Embedder) -> None:
    m = Memory.open(tmp_path / "s", MemoryConfig(summaries=False), embedder=embedder)
    m.after_turn("My brother Zebulon lives in Timbuktu.")
    m.after_turn("I love jazz.")
    m.close()
    blob = b"".join(f.read_bytes() for f in (tmp_path / "s" / "memory").iterdir())
    assert b"Timbuktu" in blob  # the check can see words when they are there
    m = Memory.open(tmp_path / "s", MemoryConfig(summaries=False), embedder=embedder)
    assert m.intent("Forget what I told you about Zebulon") == "Okay, I've forgotten one thing about Zebulon."
    m.close()
    blob = b"".join(f.read_bytes() for f in (tmp_path / "s" / "memory").iterdir())
    assert b"Timbuktu" not in blob and b"timbuktu" not in blob and b"Zebulon" not in blob


def test_a_full_database_fails_cleanly_and_the_conversation_goes_on(
    tmp_path: Path, embedder: Embedder
) -> None:
    folder = tmp_path / "s" / "memory"
    m = Memory.open(tmp_path / "s", MemoryConfig(), embedder=embedder)
    m.after_turn("My sister Anna lives in Lyon.")
    pages = m.store._db().execute("PRAGMA page_count").fetchone()[0]
    m.store.close()
    # SQLite's own size cap gives the real SQLITE_FULL error path without filling a disk.
    full = Memory(MemoryStore(folder, max_pages=pages), embedder, MemoryConfig())
    try:
        with pytest.raises(MemoryFull):  # fill the free room left in the last pages
            for i in range(1000):
                full.store.add("fact", f"Filler memory number {i}.", vec=embedder.embed_one(f"filler {i}"))
        before = [r.text for r in full.list()]
        assert before[0] == "My sister Anna lives in Lyon."
        with pytest.raises(MemoryFull):
            full.after_turn("I work as a nurse, and I love jazz, and my brother Tom lives in Berlin.")
        assert full.intent("Remember that the spare key is under the blue pot.") == FULL_NOTICE
        assert [r.text for r in full.list()] == before  # nothing of either turn half-written
        assert "Anna" in full.context_for("Where does my sister live?")  # reading still works
        assert full.store.integrity() == "ok"
    finally:
        full.store.close()
    with sqlite3.connect(folder / "memory.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_damaged_database_is_one_clear_error(tmp_path: Path, embedder: Embedder) -> None:
    from device.memory.database import StoreError

    folder = tmp_path / "s" / "memory"
    folder.mkdir(parents=True)
    (folder / "memory.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable memory database.*forget --all"):
        Memory.open(tmp_path / "s", MemoryConfig(), embedder=embedder)


def test_a_forgotten_topic_stays_out_of_the_conversation_summary(memory: Memory) -> None:
    memory.after_turn("My sister Anna lives in Lyon, she is a painter.")
    memory.after_turn("I love jazz and old blues records.")
    said = "Please forget what I told you about my sister."
    assert memory.intent(said) is not None
    assert memory.after_turn(said) == []  # the loop records the turn too; it is not mined
    assert memory.after_turn("Forget what I told you about Anna") == []  # even if no intent ran
    summary = memory.end_conversation()
    assert summary is not None
    assert "jazz" in summary.text and "sister" not in summary.text and "Anna" not in summary.text


def test_a_world_question_asked_twice_is_not_about_someone_the_owner_knows(memory: Memory) -> None:
    """Found by the soak: asked a second time, "France" had been said before (in the first asking),
    so it counted as one of the owner's people: "You haven't told me about France yet." Only what the
    owner stated makes a name theirs."""
    memory.after_turn("Remember that my locker code at the office is 9228.")
    memory.after_turn("What is the capital of France?")
    assert memory.intent("What is the capital of France?") is None
    memory.after_turn("Lily is coming to stay next week.")  # a statement: Lily is someone they know
    assert memory.intent("When is Lily coming?") == "You told me Lily is coming to stay next week."


def test_the_memory_that_says_most_about_the_question_answers_it(memory: Memory) -> None:
    """Found by the soak: asked for the code at the office, it read back the one at the station, with
    the owner's "Remember that" in front ("You told me Remember that your locker code at the …")."""
    memory.after_turn("Remember that my locker code at the office is 9228.")
    memory.after_turn("Remember that my locker code at the station is 1093.")
    assert memory.intent("What is my locker code at the office?") == (
        "You told me your locker code at the office is 9228."
    )


def test_a_memory_about_the_place_asked_beats_a_remark_about_another(memory: Memory) -> None:
    """Found by the 8-hour soak: a code said in passing ("rest. Remember that … the station is 1093.",
    a false wake in front, so it went to the LLM) answered every later question about any locker."""
    memory.intent("Remember that my locker code at the office is 9228.")
    memory.after_turn("rest. Remember that my locker code at the station is 1093.")
    assert memory.intent("What is my locker code at the office?") == (
        "You told me your locker code at the office is 9228."
    )
    assert memory.intent("What is my locker code at the station?") == (
        "You told me your locker code at the station is 1093."
    )
