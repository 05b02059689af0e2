"""`os1 eval reliability fuzz-files`: hypothesis feeds the files an owner hands OS1 (the config, a
`run --input` WAV, a memory import file, a saved letter) with random trees, lying headers, junk bytes
and deep nesting, in-process; then a fixed handful of such files go through the real `os1` command.

    os1 eval reliability fuzz-files [--examples 2000] [--seed 1] [--out DIR] [--no-cli] [--no-models]

The property everywhere: a correct load, or the loader's own error as ONE line naming the file and
where (a key path, a line and column, a field); never another exception, never a traceback, and a
memory import that fails changes nothing. A failure is counted once per case, grouped by its kind.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from device.config import load as configuration
from device.config.schema import Config
from device.drivers.wavfile import AudioFileError, read_wav
from device.evals.reliability import write_report
from device.intents.letters import Letter, LetterStore
from device.memory.database import StoreError
from device.memory.store import ImportRejected, MemoryStore, load_import_file

REPO = Path(__file__).resolve().parents[3]
MAX_LINE = 400  # a longer "one line" is no longer a clear message
# After "<file>: " a config error says where: a line and column, an unknown key, a key path, or the file.
CONFIG_WHERE = re.compile(
    # "nested too deep": there is no one place to point at; the message names the problem and the fix
    r"^(?:line \d+, column \d+: |unknown key '|the top level must be|not UTF-8 text|nested too deep|"
    r"[^\s:]+: )"
)
SECTIONS: dict[str, list[str]] = {
    name: list(getattr(f.annotation, "model_fields", {})) for name, f in Config.model_fields.items()
}
KEYS = sorted({k for keys in SECTIONS.values() for k in keys} | {"remote", "uri", "url", "deadline_ms"})
NASTY = ["", "off", "none", "yes", "~", "auto", "en", "0", "-1", "1e309", "2026-13-45", "\ud800", "é" * 50]
NASTY += ["{", "[", "&a", "*a", "!!binary x", "\t", "\x00", "\u202e", "a: b", "- x"]
JUNK = list(":{}[]&*!|>-#'\"%@`,?\t\n\r\x00\x7f\ufeff ") + ["\u2028", "\ud800", "  ", "\n  "]


@dataclass
class Tally:
    """What one target was fed and what broke."""

    target: str
    """`config`, `config-file`, `wav`, `memory-import`, `letters`, or `cli-…` for the real command."""
    fed: str
    """What the cases were, in words."""
    cases: int = 0
    """Cases run."""
    failed: int = 0
    """Cases that broke the property."""
    kinds: dict[str, str] = field(default_factory=dict)
    """Each kind of failure -> the first case that showed it (its repr, cut)."""
    seconds: float = 0.0
    """Wall time of the target (a shared machine: noisy)."""

    def fail(self, problem: str, case: object) -> None:
        self.failed += 1
        kind = re.sub(r"\d+", "N", problem)[:160]
        self.kinds.setdefault(kind, repr(case)[:300])


def one_line_problem(message: str, path: str) -> str | None:
    """What is wrong with an error message meant for the owner, or None."""
    if "\n" in message or "\r" in message:
        return f"a multi-line message: {message.splitlines()[0][:80]!r}..."
    if len(message) > MAX_LINE + len(path):
        return f"a message of {len(message)} characters"
    if not message.startswith(path):
        return f"a message not naming the file: {message[:80]!r}"
    return None


def fuzz(
    tally: Tally, strategy: st.SearchStrategy[Any], check: Callable[[Any], str | None], n: int, seed: int
) -> Tally:
    """Run `check` on `n` cases drawn from `strategy`; every case runs (a failure is recorded, not raised)."""
    start = time.monotonic()

    @hypothesis_seed(seed)
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one(case: Any) -> None:
        tally.cases += 1
        try:
            problem = check(case)
        except RecursionError:
            problem = "RecursionError escaped"
        except Exception as e:  # the property: nothing but the loader's own error escapes
            problem = f"{type(e).__name__} escaped: {str(e)[:100]}"
        if problem:
            tally.fail(problem, case)

    one()
    tally.seconds = round(time.monotonic() - start, 2)
    return tally


# ---- the config ----------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(NASTY),
)
TREES = st.recursive(
    SCALARS,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=20,
)


def _section(name: str) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(SECTIONS[name]) if SECTIONS[name] else st.text(max_size=8)
    return st.dictionaries(keys, SCALARS | TREES, max_size=5) | TREES


CONFIG_TREES = st.lists(st.sampled_from(sorted(SECTIONS)), unique=True, max_size=5).flatmap(
    lambda names: st.fixed_dictionaries({n: _section(n) for n in names})
) | st.dictionaries(st.text(max_size=8) | st.sampled_from(KEYS), TREES, max_size=3)


@st.composite
def _mutated(draw: st.DrawFn, text: str) -> str:
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        j = i + draw(st.integers(0, 3))
        text = text[:i] + draw(st.sampled_from(JUNK) | st.characters()) + text[j:]
    return text


@st.composite
def config_texts(draw: st.DrawFn) -> str:
    """A YAML config: a random tree over the real sections and keys, as dumped or then broken."""
    tree = draw(CONFIG_TREES)
    text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=True, default_flow_style=draw(st.booleans()))
    how = draw(st.sampled_from(["as dumped", "as dumped", "mutated", "cut", "text", "deep"]))
    if how == "mutated":
        return draw(_mutated(text))
    if how == "cut":
        return text[: draw(st.integers(0, len(text)))]
    if how == "text":
        return draw(st.text(max_size=120))
    depth = draw(st.integers(50, 3000))
    return draw(st.sampled_from(["vad: ", "", "persona:\n  name: "])) + draw(st.sampled_from("[{")) * depth


def check_config(text: str) -> str | None:
    try:
        cfg = configuration.parse(text, "fuzz.yaml")
    except configuration.ConfigError as e:
        message = str(e)
        if bad := one_line_problem(message, "fuzz.yaml"):
            return bad
        if not CONFIG_WHERE.match(message[len("fuzz.yaml: ") :]):
            return f"a message not saying where: {message[:100]!r}"
        return None
    return None if isinstance(cfg, Config) else f"parse returned a {type(cfg).__name__}"


def config_bytes() -> st.SearchStrategy[bytes]:
    """A config file's bytes: random, or a config text in another encoding."""
    return st.one_of(
        st.binary(max_size=300),
        config_texts().map(lambda t: t.encode("utf-16", "surrogatepass")),
        st.tuples(config_texts(), st.binary(min_size=1, max_size=4)).map(
            lambda p: p[0].encode("utf-8", "surrogatepass") + p[1]
        ),
    )


def check_config_file(folder: Path) -> Callable[[bytes], str | None]:
    path = folder / "config.yaml"

    def check(data: bytes) -> str | None:
        path.write_bytes(data)
        try:
            configuration.load(str(path))
        except configuration.ConfigError as e:
            return one_line_problem(str(e), str(path))
        return None

    return check


# ---- WAV files -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wav:
    """A WAV file as bytes, and whether its header tells the truth (then it must load, and correctly)."""

    data: bytes
    honest_frames: int | None
    """Frames of a truthful PCM file (None: a lying, cut or junk file)."""
    rate: int

    def __repr__(self) -> str:
        return f"Wav({self.data[:48]!r}... {len(self.data)} bytes, honest_frames={self.honest_frames})"


def riff(
    fmt: int, channels: int, rate: int, bits: int, payload: bytes, data_size: int | None = None
) -> bytes:
    """A RIFF/WAVE file with the given fmt fields; `data_size` lies about the payload if given."""
    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    size = len(payload) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt_chunk + b"data" + struct.pack("<I", size) + payload
    return b"RIFF" + struct.pack("<I", len(body) & 0xFFFFFFFF) + body


@st.composite
def wav_files(draw: st.DrawFn) -> Wav:
    fmt = draw(st.sampled_from([1, 1, 1, 3, 3, 0xFFFE, 0, 2, 7]) | st.integers(0, 0xFFFF))
    channels = draw(st.sampled_from([1, 1, 2, 6, 0, 255, 0xFFFF]))
    rate = draw(st.sampled_from([16000, 8000, 44100, 48000, 0, 1, 11, 2**31, 2**32 - 1]))
    bits = draw(st.sampled_from([16, 8, 24, 32, 64, 0, 7, 12, 0xFFFF]))
    frames = draw(st.integers(0, 1200))
    block = max(1, channels * bits // 8)
    size = frames * min(block, 48)  # a huge claimed block still makes a small file
    payload = np.random.default_rng(draw(st.integers(0, 2**32))).integers(0, 256, size, np.uint8)
    lie = draw(st.sampled_from(["none", "none", "larger", "huge", "zero", "smaller", "cut", "flip", "junk"]))
    sizes = {"larger": len(payload) * 3 + 100, "huge": 0xFFFFFFFF, "zero": 0, "smaller": len(payload) // 2}
    data = riff(fmt, channels, rate, bits, payload.tobytes(), sizes.get(lie))
    if lie == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif lie == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
    elif lie == "junk":
        data = draw(st.binary(max_size=200))
    honest = lie == "none" and fmt == 1 and 1 <= channels <= 6 and bits in (8, 16, 24, 32) and rate >= 8000
    return Wav(data, frames if honest and rate < 2**31 else None, rate)


def check_wav(folder: Path) -> Callable[[Wav], str | None]:
    path = folder / "in.wav"

    def check(wav: Wav) -> str | None:
        path.write_bytes(wav.data)
        try:
            audio = read_wav(path)
        except AudioFileError as e:
            if wav.honest_frames:  # an honest file of 0 frames is refused: there is nothing to hear
                return f"an honest PCM file was refused: {str(e)[:100]}"
            return one_line_problem(str(e), str(path))
        if not isinstance(audio, np.ndarray) or audio.dtype != np.int16 or audio.ndim != 1:
            return f"read_wav returned {type(audio).__name__} {getattr(audio, 'dtype', '')}, not mono int16"
        if wav.honest_frames is not None:
            want = wav.honest_frames * 16000 / wav.rate
            if abs(len(audio) - want) > 2 + want * 0.01:
                return f"an honest file of {want:.0f} samples at 16 kHz came back as {len(audio)}"
        return None

    return check


# ---- memory import files -------------------------------------------------------------------------

STRINGS = st.text(max_size=30) | st.sampled_from(NASTY + ["2026-01-02T03:04:05", "2026-01-02", "Z"])
ITEM = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from(["fact", "preference", "event", "thread", "person", "x"]) | SCALARS,
        "text": STRINGS | SCALARS,
        "subject": STRINGS,
        "key": STRINGS,
        "created": STRINGS,
        "updated": STRINGS,
        "source": STRINGS,
        "due": STRINGS,
        "id": SCALARS,
        "extra": SCALARS,
    },
)
EXPORTS = st.fixed_dictionaries(
    {"memories": st.lists(ITEM | TREES, max_size=5) | TREES},
    optional={"os1_memory": st.sampled_from([1, 2, 0, None, "1", True, 1.5, [1]])},
)


@st.composite
def import_files(draw: st.DrawFn) -> bytes:
    """An import file: an export-like object (or any tree) as JSON, maybe broken, or junk bytes."""
    text = json.dumps(draw(EXPORTS | TREES), ensure_ascii=draw(st.booleans()))
    how = draw(st.sampled_from(["as dumped", "as dumped", "mutated", "cut", "bytes", "deep"]))
    if how == "mutated":
        text = draw(_mutated(text))
    elif how == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif how == "bytes":
        return draw(st.binary(max_size=200))
    elif how == "deep":
        text = '{"memories": ' + "[" * draw(st.integers(100, 200_000))
    return text.encode("utf-8", "surrogatepass")


def check_import(folder: Path) -> Callable[[bytes], str | None]:
    """load_import_file, then the import itself into a store that already holds memories: all or nothing."""
    path, store = folder / "import.json", MemoryStore(folder / "memory")
    store.add("fact", "the owner's first memory, there before any import")

    def check(data: bytes) -> str | None:
        path.write_bytes(data)
        try:
            items = load_import_file(path)
        except ImportRejected as e:
            return one_line_problem(str(e), str(path))
        if not all(isinstance(i, dict) and all(isinstance(v, str) for v in i.values()) for i in items):
            return "load_import_file returned a non-string field"
        before = store.export()
        try:
            added, _updated, _skipped = store.import_records(items, np.zeros((len(items), 384), np.float32))
        except StoreError as e:
            if store.export() != before:
                return "a failed import changed the memories"
            return "\n" in str(e) and "a multi-line StoreError" or None
        if len(store.all()) != len(before["memories"]) + added:
            return "the import's count is not what the store holds"
        return None

    return check


# ---- letters -------------------------------------------------------------------------------------

FRONTS = st.fixed_dictionaries(
    {}, optional={"to": STRINGS | SCALARS, "date": STRINGS | SCALARS, "about": STRINGS | TREES}
)


@st.composite
def letter_files(draw: st.DrawFn) -> bytes:
    """A letter's file: front matter of random fields (or junk), a body, maybe cut, maybe not UTF-8."""
    front = yaml.safe_dump(draw(FRONTS | TREES), allow_unicode=True)
    how = draw(st.sampled_from(["as dumped", "mutated", "raw", "deep", "no front", "latin-1", "bytes"]))
    if how == "mutated":
        front = draw(_mutated(front))
    elif how == "raw":  # unquoted, as a hand edit would leave it: dates that are no dates, tags
        front = "\n".join(f"{k}: {draw(st.sampled_from(NASTY))}" for k in ("to", "date", "about"))
    elif how == "deep":
        front = "to: " + "[" * draw(st.integers(50, 3000))
    text = f"---\n{front}\n---\n\nDear Anna,\n\n{draw(st.text(max_size=80))}\n" if how != "no front" else ""
    text = text or draw(st.text(max_size=100))
    if how == "bytes":
        return draw(st.binary(max_size=200))
    return text.encode("latin-1", "replace") if how == "latin-1" else text.encode("utf-8", "surrogatepass")


def check_letter(folder: Path) -> Callable[[bytes], str | None]:
    """Any letter file loads (the owner's words are never refused); a letter saved by OS1 loads as saved."""
    store = LetterStore(folder / "letters")
    saved = Letter(to="my sister", about="the garden", body=["It is in bloom."], written=date(2026, 5, 1))
    store.save(saved)

    def check(data: bytes) -> str | None:
        (store.folder / "2026-01-01-fuzz.md").write_bytes(data)
        for letter_id in store.ids():
            letter = store.load(letter_id)
            if letter is None or not isinstance(letter.to, str) or not isinstance(letter.written, date):
                return f"{letter_id} did not load as a letter"
        back = store.load(saved.id)
        if back is None or (back.to, back.about, back.written) != (saved.to, saved.about, saved.written):
            return "a letter OS1 saved did not load back as saved"
        return None

    return check


# ---- the part ------------------------------------------------------------------------------------


def in_process(folder: Path, n: int, seed: int) -> list[Tally]:
    """Every in-process target, `n` cases each."""
    for sub in ("config", "wav", "memory", "letters"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return [
        fuzz(
            Tally("config", "YAML trees over the real sections and keys, broken YAML, text, deep nesting"),
            config_texts(),
            check_config,
            n,
            seed,
        ),  # fmt: skip
        fuzz(
            Tally("config-file", "config files of random bytes and other encodings (load)"),
            config_bytes(),
            check_config_file(folder / "config"),
            n,
            seed,
        ),  # fmt: skip
        fuzz(
            Tally("wav", "WAVs: honest, cut, lying sizes, rate/channels/bits 0 or huge, float, junk"),
            wav_files(),
            check_wav(folder / "wav"),
            n,
            seed,
        ),  # fmt: skip
        fuzz(
            Tally("memory-import", "export-like JSON, any JSON tree, broken JSON, bytes, deep nesting"),
            import_files(),
            check_import(folder / "memory"),
            n,
            seed,
        ),  # fmt: skip
        fuzz(
            Tally("letters", "letter files: random front matter, hand-edited, deep, not UTF-8, bytes"),
            letter_files(),
            check_letter(folder / "letters"),
            n,
            seed,
        ),  # fmt: skip
    ]


def through_cli(folder: Path, models: bool) -> list[Tally]:
    from device.evals.reliability.fuzz_cli import cli_config, cli_memory_and_letters, cli_wav  # it imports us

    out = [
        cli_config(
            folder / "cli-config", Tally("cli-config", "10 broken configs x (config show, letters list)")
        )
    ]
    out.append(
        cli_memory_and_letters(folder / "cli-files", Tally("cli-memory-letters", "6 import files, 5 letters"))
    )
    if models:
        out.append(
            cli_wav(folder / "cli-wav", Tally("cli-run-input", "8 WAVs through os1 run --input --fast"))
        )
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=sys.argv[0], description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=2000, help="hypothesis cases per in-process target")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, help="write DIR/fuzz-files.json")
    p.add_argument("--no-cli", action="store_true", help="the in-process targets only")
    p.add_argument("--no-models", action="store_true", help="leave out `os1 run --input` (it loads models)")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="os1-fuzz-files-") as tmp:
        tallies = in_process(Path(tmp), args.examples, args.seed)
        if not args.no_cli:
            tallies += through_cli(Path(tmp), models=not args.no_models)
    print(f"{'target':20} {'cases':>6} {'failed':>6} {'s':>7}  fed")
    for t in tallies:
        print(f"{t.target:20} {t.cases:6} {t.failed:6} {t.seconds:7.1f}  {t.fed}")
        for kind, case in t.kinds.items():
            print(f"    {kind}\n        e.g. {case}")
    report = {"examples": args.examples, "seed": args.seed, "targets": [asdict(t) for t in tallies]}
    write_report(args.out, "fuzz-files", report)
    return 0 if not any(t.failed for t in tallies) else 1
