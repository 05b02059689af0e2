"""`os1 memory ...` as the owner runs it, including bad input, forget --all and a full disk."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_os1

pytestmark = pytest.mark.models


def _env(tmp_path: Path) -> dict[str, str]:
    return {"OS1_STATE_DIR": str(tmp_path / "state")}


def _ids(env: dict[str, str]) -> list[int]:
    r = run_os1("memory", "list", "--json", env=env)
    assert r.returncode == 0, r.stderr
    return [m["id"] for m in json.loads(r.stdout)]


def test_add_list_search_forget(tmp_path: Path) -> None:
    env = _env(tmp_path)
    r = run_os1("memory", "list", env=env)
    assert r.returncode == 0 and "no memories yet" in r.stdout
    r = run_os1("memory", "add", "My sister Anna lives in Lyon", env=env)
    assert r.returncode == 0 and "added #1: My sister Anna lives in Lyon." in r.stdout, r.stderr
    r = run_os1("memory", "add", "The spare key is under the blue pot", env=env)
    assert "added #2" in r.stdout
    r = run_os1("memory", "add", "Anna moved to Paris", env=env)
    assert "updated #1: My sister Anna lives in Paris." in r.stdout
    r = run_os1("memory", "list", env=env)
    assert "My sister Anna lives in Paris." in r.stdout and "Lyon" not in r.stdout
    r = run_os1("memory", "search", "where did I put the key", env=env)
    assert r.returncode == 0 and r.stdout.splitlines()[0].startswith("#2")
    r = run_os1("memory", "forget", "2", env=env)
    assert r.returncode == 0 and "forgot #2" in r.stdout
    assert _ids(env) == [1]


@pytest.mark.parametrize(
    "args, message",
    [
        (["forget", "99"], "there is no memory #99"),
        (["forget"], "give the id of a memory"),
        (["forget", "1", "--all"], "give an id or --all, not both"),
    ],
)
def test_bad_forget_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    env = _env(tmp_path)
    run_os1("memory", "add", "I love jazz", env=env)
    r = run_os1("memory", *args, env=env)
    assert r.returncode == 2 and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert _ids(env) == [1]


def test_export_then_import_round_trips(tmp_path: Path) -> None:
    env = _env(tmp_path)
    run_os1("memory", "add", "I'm allergic to peanuts", env=env)
    run_os1("memory", "add", "The bike lock code is 4711", env=env)
    out = tmp_path / "backup.json"
    r = run_os1("memory", "export", str(out), env=env)
    assert r.returncode == 0 and "exported 2 memories" in r.stdout
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    other = {"OS1_STATE_DIR": str(tmp_path / "other")}
    r = run_os1("memory", "import", str(out), env=other)
    assert r.returncode == 0 and "imported 2 memories" in r.stdout, r.stderr
    r = run_os1("memory", "search", "can I eat satay sauce with peanuts", env=other)
    assert "allergic to peanuts" in r.stdout
    r = run_os1("memory", "import", str(out), env=other)  # again: nothing doubles
    assert "imported 0 memories" in r.stdout and len(_ids(other)) == 2


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON (line 1"),
        ('["a list"]', 'expected an object with a "memories" list'),
        ('{"memories": [{"kind": "gossip", "text": "x"}]}', "memories[0].kind: must be one of"),
        ('{"memories": [{"kind": "fact", "text": ""}]}', "memories[0].text"),
        ('{"memories": [{"kind": "fact", "text": "ok"}, {"kind": "fact", "text": 5}]}', "memories[1].text"),
        ('{"memories": [{"kind": "fact", "text": "ok", "created": "yesterday"}]}', "memories[0].created"),
        ('{"memories": [{"kind": "fact", "text": "ok", "mood": "sad"}]}', "unknown field 'mood'"),
    ],
)
def test_bad_import_changes_nothing(tmp_path: Path, content: str, message: str) -> None:
    env = _env(tmp_path)
    run_os1("memory", "add", "I love jazz", env=env)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = run_os1("memory", "import", str(bad), env=env)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "nothing was imported" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert _ids(env) == [1]


def test_forget_all_deletes_the_database_files_even_while_open(tmp_path: Path) -> None:
    env = _env(tmp_path)
    run_os1("memory", "add", "My brother Tom lives in Berlin", env=env)
    run_os1("memory", "add", "I love jazz", env=env)
    folder = tmp_path / "state" / "memory"
    # A second connection (the daemon, say) keeps the WAL and shared-memory files in place.
    holder = sqlite3.connect(folder / "memory.db")
    holder.execute("SELECT count(*) FROM memories").fetchone()
    assert (folder / "memory.db-wal").exists() and (folder / "memory.db-shm").exists()
    r = run_os1("memory", "forget", "--all", env=env)
    holder.close()
    assert r.returncode == 0, r.stderr
    assert "deleted 2 memories" in r.stdout
    assert "memory.db, memory.db-wal, memory.db-shm" in r.stdout
    assert [p.name for p in folder.iterdir() if p.name.startswith("memory.db")] == []
    assert _ids(env) == []


# The daemon's case: the memory is open when the disk fills up; the turn goes on without it.
_DAEMON = """
import subprocess, sys
from pathlib import Path
from device.memory import Memory, MemoryFull
m = Memory.open(Path(sys.argv[1]))
subprocess.run(["dd", "if=/dev/zero", "of=" + sys.argv[1] + "/filler2", "bs=4k"], capture_output=True)
try:
    m.after_turn("I love jazz and I am allergic to peanuts.", "Noted.")
    print("daemon: saved on a full disk?!")
except MemoryFull as e:
    print("daemon: MemoryFull")
print("daemon context:", m.context_for("Where does my sister live?").splitlines()[1:])
print("daemon integrity:", m.store.integrity())
"""


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare for a private tmpfs")
def test_a_full_disk_is_one_line_and_keeps_what_was_saved(tmp_path: Path) -> None:
    """A real tiny filesystem (tmpfs in a private mount namespace), filled up, then `os1 memory add`."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    py = sys.executable
    script = f"""
set -e
mount -t tmpfs -o size=512k tmpfs {mnt}
export OS1_STATE_DIR={mnt}
{py} -m device.cli memory add "My sister Anna lives in Lyon"
dd if=/dev/zero of={mnt}/filler bs=4k 2>/dev/null || true
set +e
{py} -m device.cli memory add "I work as a nurse and my brother Tom lives in Berlin"
echo "exit=$?"
rm {mnt}/filler
{py} -m device.cli memory list
{py} -c '{_DAEMON}' {mnt}
"""
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make a private mount namespace here")
    r = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )
    assert "exit=1" in r.stdout, (r.stdout, r.stderr)
    lines = [x for x in r.stderr.splitlines() if x.startswith("os1 memory:")]
    assert len(lines) == 1 and "full" in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert "not saved" in lines[0]
    # With room again, what was saved before is all there, and nothing of the failed add.
    assert "My sister Anna lives in Lyon." in r.stdout and "nurse" not in r.stdout
    assert "daemon: MemoryFull" in r.stdout
    assert "daemon context: ['- Your sister Anna lives in Lyon']" in r.stdout
    assert "daemon integrity: ok" in r.stdout


def test_forget_all_while_the_daemon_has_the_memory_open(tmp_path: Path) -> None:
    from device.config.schema import MemoryConfig
    from device.memory import Memory

    env = _env(tmp_path)
    m = Memory.open(tmp_path / "state", MemoryConfig(summaries=False))
    try:
        m.after_turn("My sister Anna lives in Lyon.")
        assert "Anna" in m.context_for("Where does my sister live?")
        r = run_os1("memory", "forget", "--all", env=env)
        assert r.returncode == 0 and "deleted 1 memories" in r.stdout, r.stderr
        # The daemon notices the files are gone: nothing comes back, and new memories are kept.
        assert m.context_for("Where does my sister live?") == ""
        assert m.after_turn("I love jazz.") == ["I love jazz."]
    finally:
        m.close()
    assert _ids(env) == [1]
    r = run_os1("memory", "list", env=env)
    assert "I love jazz." in r.stdout and "Anna" not in r.stdout
