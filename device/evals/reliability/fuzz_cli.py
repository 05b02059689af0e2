"""The real `os1` command on a fixed handful of broken files, for `os1 eval reliability fuzz-files`:
each refusal is exit 2 (or 1) with one line on stderr, never a traceback, and a refused import changes
nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from device.evals.reliability.fuzz_files import Tally, riff

REPO = Path(__file__).resolve().parents[3]


# ---- the real command ----------------------------------------------------------------------------


def os1(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "device.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=REPO,
        timeout=timeout,
    )


def cli_problem(p: subprocess.CompletedProcess[str], ok: tuple[int, ...] = (2,)) -> str | None:
    """None when the command exited as allowed; a refusal (exit 1 or 2) must be one line on stderr."""
    err = p.stderr.strip()
    if "Traceback" in p.stderr:
        return f"a traceback: {err.splitlines()[-1][:120]}"
    if p.returncode not in ok:
        return f"exit {p.returncode}: {err[:120]!r}"
    if p.returncode in (1, 2) and len(err.splitlines()) != 1:
        return f"exit {p.returncode} with {len(err.splitlines())} lines on stderr"
    return None


CONFIG_FILES: dict[str, bytes] = {
    "utf-16": "vad:\n  threshold: 0.5\n".encode("utf-16"),
    "latin-1": "persona:\n  name: Zoé\n".encode("latin-1"),
    "deep": b"vad: " + b"[" * 5000,
    "nul": b"persona:\n  name: a\x00b\n",
    "not-a-date": b"persona:\n  owner_name: 2026-13-45\n",
    "range": b"vad:\n  threshold: 2\n",
    "unknown": b"vad:\n  treshold: 0.5\n",
    "syntax": b"vad: {threshold: [0.5\n",
    "top-list": b"- vad\n- wake\n",
    "huge-value": b"persona:\n  name: [" + b"1, " * 20000 + b"1]\n",
}


def cli_config(folder: Path, tally: Tally) -> Tally:
    """Each broken config through `os1 config show` and through a command that loads it (`letters list`)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {"OS1_STATE_DIR": str(folder / "state"), "OS1_RUNTIME_DIR": str(folder / "run")}
    for name, data in CONFIG_FILES.items():
        path = folder / f"{name}.yaml"
        path.write_bytes(data)
        for args in (["--config", str(path), "config", "show"], ["--config", str(path), "letters", "list"]):
            tally.cases += 1
            if bad := cli_problem(os1(args, env, timeout=60)):
                tally.fail(f"{' '.join(args[2:])}: {bad}", name)
    return tally


def wav_cli_files() -> dict[str, bytes]:
    """~8 WAVs for `os1 run --input`: speech (espeak-ng) with honest, odd and lying headers."""
    import io

    import soundfile

    from device.evals.speech import espeak_speech

    speech = espeak_speech("what time is it")
    pcm = speech.astype("<i2").tobytes()

    def encoded(channels: int, subtype: str, rate: int) -> bytes:
        buf, x = io.BytesIO(), np.repeat(speech[:, None] / 32768.0, channels, axis=1)
        soundfile.write(buf, x, rate, subtype=subtype, format="WAV")
        return buf.getvalue()

    return {
        "zero-length": b"",
        "header-only": riff(1, 1, 16000, 16, b"")[:44],
        "cut-header": riff(1, 1, 16000, 16, pcm)[:30],
        "rate-0": riff(1, 1, 0, 16, pcm),
        "channels-0": riff(1, 0, 16000, 16, pcm),
        "huge-claimed-size": riff(1, 1, 16000, 16, pcm, 0xFFFFFFFF),
        "8-bit-mono": encoded(1, "PCM_U8", 16000),
        "6-channel-float64": encoded(6, "DOUBLE", 44100),
    }


def cli_wav(folder: Path, tally: Tally, names: list[str] | None = None) -> Tally:
    """`os1 run --input F --fast --no-wake`: exit 2 and one line, or a turn (exit 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {"OS1_STATE_DIR": str(folder / "state"), "OS1_RUNTIME_DIR": str(folder / "run")}
    for name, data in wav_cli_files().items():
        if names is not None and name not in names:
            continue
        path = folder / f"{name}.wav"
        path.write_bytes(data)
        tally.cases += 1
        p = os1(["run", "--input", str(path), "--fast", "--no-wake"], env)
        if bad := cli_problem(p, ok=(0, 2)):
            tally.fail(f"{name}: {bad}", name)
    return tally


IMPORT_FILES: dict[str, bytes] = {
    "deep": b'{"memories": ' + b"[" * 100_000,
    "surrogate": b'{"memories": [{"kind": "fact", "text": "ok"}, {"kind": "fact", "text": "\\ud800"}]}',
    "not-utf-8": b'{"memories": [{"kind": "fact", "text": "caf\xe9"}]}',
    "wrong-kind": b'{"memories": [{"kind": "gossip", "text": "x"}]}',
    "cut": b'{"memories": [{"kind": "fact", "te',
    "a-list": b"[1, 2, 3]",
}
LETTER_FILES: dict[str, bytes] = {
    "2026-01-01-latin-1": "---\nto: Zoé\n---\n\nDear Zoé,\n".encode("latin-1"),
    "2026-01-02-deep": b"---\nto: " + b"[" * 3000 + b"\n---\n\nDear Anna,\n",
    "2026-01-03-not-a-date": b"---\nto: Anna\ndate: 2026-13-45\n---\n\nDear Anna,\n",
    "2026-01-04-tag": b"---\nto: !!python/object:os.system x\n---\n\nhi\n",
    "2026-01-05-junk": bytes(range(256)),
}


def cli_memory_and_letters(folder: Path, tally: Tally) -> Tally:
    """`os1 memory import F` refuses each bad file in one line and `memory list` is unchanged after it;
    `os1 letters list` and `letters show ID` read every odd letter file without a traceback."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {"OS1_STATE_DIR": str(folder / "state"), "OS1_RUNTIME_DIR": str(folder / "run")}
    os1(["memory", "add", "fact: the owner's first memory"], env)
    listed = os1(["memory", "list"], env).stdout
    for name, data in IMPORT_FILES.items():
        path = folder / f"{name}.json"
        path.write_bytes(data)
        tally.cases += 1
        bad = cli_problem(os1(["memory", "import", str(path)], env, timeout=120))
        if not bad and os1(["memory", "list"], env).stdout != listed:
            bad = "a refused import changed the memories"
        if bad:
            tally.fail(f"memory import: {bad}", name)
    letters = folder / "state" / "letters"
    letters.mkdir(parents=True, exist_ok=True)
    for name, data in LETTER_FILES.items():
        (letters / f"{name}.md").write_bytes(data)
    for args in [["letters", "list"]] + [["letters", "show", name] for name in LETTER_FILES]:
        tally.cases += 1
        if bad := cli_problem(os1(args, env, timeout=60), ok=(0,)):
            tally.fail(f"{' '.join(args)}: {bad}", args[-1])
    return tally
