"""Nothing acknowledged is lost: a writer is SIGKILLed at random moments, 30 times, and every memory
whose id it printed (after the commit returned) must still be there, in a database that passes
`PRAGMA integrity_check`."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.system

ROUNDS = 30

WRITER = """
import sys
from pathlib import Path
from device.memory import Memory
from device.evals.memory import sentences

state, seed = Path(sys.argv[1]), int(sys.argv[2])
m = Memory.open(state)
for text in sentences(400, seed=seed):
    for stored in m.add_text(text):
        print(stored.id, stored.action, flush=True)  # only after the commit has returned
"""


def test_acknowledged_memories_survive_sigkill(tmp_path: Path) -> None:
    rng = random.Random(1234)
    state = tmp_path / "state"
    acked: set[int] = set()
    for rnd in range(ROUNDS):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(state), str(rnd)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the writer is up and writing
        assert first, proc.stderr.read() if proc.stderr else ""
        time.sleep(rng.uniform(0.0, 0.25))  # then die at a random point of the write loop
        os.kill(proc.pid, signal.SIGKILL)
        out, _err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        for line in [first, *out.splitlines()]:
            if line.strip():
                acked.add(int(line.split()[0]))
    db = state / "memory" / "memory.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        present = {r[0] for r in conn.execute("SELECT id FROM memories")}
        fts = conn.execute("SELECT count(*) FROM memories_fts").fetchone()[0]
        assert conn.execute("INSERT INTO memories_fts (memories_fts) VALUES ('integrity-check')")
        with_vec = conn.execute("SELECT count(*) FROM memories WHERE length(vec) = 384 * 4").fetchone()[0]
    print(f"{len(acked)} acknowledged memories over {ROUNDS} kills")
    assert len(acked) > ROUNDS  # it really wrote between kills
    missing = acked - present
    assert not missing, f"{len(missing)} acknowledged memories lost: {sorted(missing)[:10]}"
    assert fts == len(present) == with_vec  # text index and embeddings are complete for every row
