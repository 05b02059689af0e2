#!/usr/bin/env python3
"""Check that everything the board installs resolves for a 64-bit Raspberry Pi, without a Pi.

For each target (Raspberry Pi OS Bookworm: CPython 3.11, glibc 2.36; Trixie: CPython 3.13, glibc 2.41)
this runs `pip download` for aarch64 with `--only-binary=:all:` and the target's interpreter, ABI and
platform tags, over what the board installs: pyproject.toml's dependencies and its `models`, `pi` and
`llamacpp` extras (dependencies resolved transitively), and requirements/models-nodeps.txt (with
--no-deps, as the installer does). Markers (`platform_machine == 'aarch64'`, `python_version < '3.12'`)
are evaluated for the target, not for the machine running the check, in our requirements and in every
transitive one.

What a pass proves: for every package pip would pick on that target there is a wheel on the index
whose tags the target accepts (manylinux_2_17 .. manylinux_2_<glibc>, aarch64, cp3XX/abi3/none), or it is
one of the few sdists in SDIST_ALLOWED: a compiled one's source is on the index, its build requirements
(pyproject.toml's build-system) resolve as wheels for the target, and what else it needs to build is
written down there; a pure-Python one is built here into its wheel. And nothing pulls torch, triton or
nvidia-* (PyPI's aarch64 torch is a CUDA build of several GB). What it does not prove: that a wheel
imports or works on a Pi (a missing shared library, an illegal instruction on a Cortex-A53/A72, a kernel
interface), that a compiled sdist really compiles there (it is downloaded, not built), that what a
--system-site-packages venv takes from apt instead fits, or that the versions picked today are the ones
picked tomorrow.

    python3 hardware/check_wheels.py                     # both targets; exit 0 only if both pass
    python3 hardware/check_wheels.py --target trixie     # one target
    python3 hardware/check_wheels.py --keep /tmp/wheels  # keep the downloads: DIR/<target>/{wheels,...}
    python3 hardware/check_wheels.py -v                  # also one line per downloaded file

pip runs with no configuration file and no PIP_* variables (a Pi's /etc/pip.conf names piwheels, a
developer's may name a mirror or a find-links directory), against --index-url, PyPI by default: what it
finds there is what a fresh board finds. Proxy variables still apply.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.parser import Parser
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a bare interpreter: pip always vendors packaging
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
NODEPS_FILE = ROOT / "requirements" / "models-nodeps.txt"
BOARD_EXTRAS = ("models", "pi", "llamacpp")  # not `convert` (torch) nor `test`: the board never has them
DEFAULT_INDEX = "https://pypi.org/simple"


@dataclass(frozen=True)
class Target:
    name: str
    python: tuple[int, int, int]  # the version the OS ships
    glibc: tuple[int, int]
    kernel: str  # platform_release, for markers that ask

    @property
    def py(self) -> str:
        return f"{self.python[0]}.{self.python[1]}"

    @property
    def abi(self) -> str:
        return f"cp{self.python[0]}{self.python[1]}"

    def platforms(self) -> list[str]:
        """Every aarch64 glibc tag the target accepts. pip does not expand manylinux_2_N downwards
        (only manylinux2014/2010 for x86), so without 2_17..2_N it rejects a wheel tagged, say,
        manylinux_2_35_aarch64 on a 2.36 system. Plain linux_aarch64 is left out: such a wheel was
        built for one machine and PyPI refuses it anyway."""
        major, minor = self.glibc
        tags = [f"manylinux_{major}_{n}_aarch64" for n in range(minor, 16, -1)]
        return [*tags, "manylinux2014_aarch64"]

    def markers(self) -> dict[str, str]:
        version = ".".join(map(str, self.python))
        return {
            "implementation_name": "cpython",
            "implementation_version": version,
            "os_name": "posix",
            "platform_machine": "aarch64",
            "platform_python_implementation": "CPython",
            "platform_release": self.kernel,
            "platform_system": "Linux",
            "python_full_version": version,
            "python_version": self.py,
            "sys_platform": "linux",
        }


TARGETS = {
    "bookworm": Target("bookworm", (3, 11, 2), (2, 36), "6.12.34+rpt-rpi-v8"),
    "trixie": Target("trixie", (3, 13, 5), (2, 41), "6.12.47+rpt-rpi-v8"),
}


@dataclass(frozen=True)
class AllowedSdist:
    targets: frozenset[str]
    why: str
    needs: str
    pure: bool = False  # pure Python: built here into a py3-none-any wheel, the same one the Pi builds
    elsewhere: str = ""  # why the other targets are not allowed


# Packages with no aarch64 wheel on PyPI for a target, built from source on the board. Checked against
# the index in 2026-12; an allowed target that gains a wheel is reported as a note. A compiled one is
# downloaded, not built, and only as a top-level requirement; a pure one may be anywhere in the tree.
SDIST_ALLOWED: dict[str, AllowedSdist] = {
    "llama-cpp-python": AllowedSdist(
        frozenset(TARGETS),
        "no wheel on PyPI for any platform; it compiles llama.cpp (~10 min on a Pi 5)",
        "cmake, g++ (scikit-build-core and ninja come from PyPI)",
    ),
    "pyaudio": AllowedSdist(
        frozenset(TARGETS),
        "PyPI has Windows wheels only",
        "gcc, python3-dev, portaudio19-dev",
    ),
    "lgpio": AllowedSdist(
        frozenset({"trixie"}),
        "cp311 aarch64 wheel only (and an empty 0.0.0.2 py3 wheel); no cp313 wheel",
        "gcc, python3-dev, swig, liblgpio-dev (links -llgpio); or Debian's python3-lgpio in a "
        "--system-site-packages venv, which satisfies the requirement so that pip builds nothing",
    ),
    "rpi-gpio": AllowedSdist(
        frozenset({"bookworm"}),
        "no wheel on PyPI",
        "gcc, python3-dev",
        elsewhere="0.7.1 does not build on Python 3.13: it calls PyEval_ThreadsInitialized, gone from 3.13's "
        "C API, an error with Trixie's gcc 14",
    ),
    "srt": AllowedSdist(
        frozenset(TARGETS),
        "pure Python, sdist only on PyPI (vosk needs it)",
        "setuptools only",
        pure=True,
    ),
}

# Never on the board: PyPI's aarch64 torch is a CUDA build of several GB with nvidia-* wheels.
FORBIDDEN = ("torch", "triton", "tensorflow")
FORBIDDEN_PREFIXES = ("nvidia-",)

# pip, with the marker environment of the target instead of the running interpreter's: pip evaluates
# every marker (ours and each dependency's) through packaging.markers.default_environment.
PIP_RUNNER = """\
import json, sys
import pip._vendor.packaging.markers as markers
if not callable(getattr(markers, "default_environment", None)):
    sys.exit("check_wheels: this pip has no packaging.markers.default_environment for the target's markers")
target = json.loads(sys.argv[1])
host = markers.default_environment
markers.default_environment = lambda: {**host(), **target}
sys.argv = ["pip", *sys.argv[2:]]
from pip._internal.cli.main import main
sys.exit(main())
"""

NETWORK_SIGNS = (  # the most telling first: network_reason names the first one found
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Connection refused",
    "No route to host",
    "CERTIFICATE_VERIFY_FAILED",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "SSLError",
    "Failed to establish a new connection",
    "NewConnectionError",
    "Max retries exceeded",
)


class CheckError(Exception):
    """A reason the check could not run at all (not a package problem)."""


@dataclass(frozen=True)
class Req:
    req: Requirement
    origin: str  # "dependencies", "extra pi", "models-nodeps.txt"
    nodeps: bool = False

    @property
    def name(self) -> str:
        return canonicalize_name(self.req.name)

    def applies(self, target: Target) -> bool:
        return self.req.marker is None or self.req.marker.evaluate({**target.markers(), "extra": ""})

    def spec(self) -> str:
        """The requirement without its marker (already evaluated for the target)."""
        extras = f"[{','.join(sorted(self.req.extras))}]" if self.req.extras else ""
        return f"{self.req.name}{extras}{self.req.specifier}"


@dataclass
class PipResult:
    ok: bool
    output: str
    forbidden: str = ""  # "torch (from faster-whisper==1.2.1)" when the run was stopped for it


@dataclass
class Report:
    target: Target
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sdists: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.problems


# --- what the board installs -------------------------------------------------------------------


def board_requirements(pyproject: Path = PYPROJECT, nodeps_file: Path = NODEPS_FILE) -> list[Req]:
    project = tomllib.loads(pyproject.read_text())["project"]
    reqs = [Req(Requirement(s), "dependencies") for s in project.get("dependencies", [])]
    extras = project.get("optional-dependencies", {})
    for extra in BOARD_EXTRAS:
        if extra not in extras:
            raise CheckError(f"{pyproject}: no extra {extra!r}")
        reqs += [Req(Requirement(s), f"extra {extra}") for s in extras[extra]]
    reqs += [Req(Requirement(s), nodeps_file.name, nodeps=True) for s in requirement_lines(nodeps_file)]
    return reqs


def requirement_lines(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text().splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line:
            if line.startswith("-"):
                raise CheckError(f"{path}: pip options are not supported here: {line}")
            lines.append(line)
    return lines


# --- running pip -------------------------------------------------------------------------------


def pip_command(target: Target, index_url: str, cache: Path, command: str) -> list[str]:
    """`pip COMMAND` with the target's markers, no user configuration, and our own cache."""
    env = json.dumps(target.markers())
    general = ["--isolated", "--disable-pip-version-check", "--cache-dir", str(cache)]
    return [sys.executable, "-c", PIP_RUNNER, env, *general, command, "--index-url", index_url]


def binary_args(target: Target) -> list[str]:
    args = ["--only-binary=:all:", "--python-version", target.py, "--implementation", "cp"]
    args += ["--abi", target.abi]
    for platform in target.platforms():
        args += ["--platform", platform]
    return args


def run_pip(cmd: Sequence[str]) -> PipResult:
    """Runs pip, stopping it as soon as it starts collecting a forbidden package (before its GBs)."""
    lines: list[str] = []
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}  # with --isolated: no config file at all
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        hit = forbidden_collect(line)
        if hit:
            proc.kill()
            proc.wait()
            return PipResult(False, "\n".join(lines), hit)
    return PipResult(proc.wait() == 0, "\n".join(lines))


def forbidden_collect(line: str) -> str:
    m = re.match(r"\s*Collecting ([A-Za-z0-9._-]+)(.*)$", line)
    if not m or not is_forbidden(m.group(1)):
        return ""
    parent = re.search(r"\(from (.+?)\)\s*$", m.group(2))
    return f"{canonicalize_name(m.group(1))} (from {parent.group(1)})" if parent else m.group(1)


def is_forbidden(name: str) -> bool:
    name = canonicalize_name(name)
    return name in FORBIDDEN or name.startswith(FORBIDDEN_PREFIXES)


def pip_error(result: PipResult) -> str:
    """pip's reason, in one line. Raises CheckError when the network, not a package, is the reason."""
    if result.forbidden:
        return f"pulls {result.forbidden}: not for the board (aarch64 torch on PyPI is a CUDA build)"
    if "Retrying (Retry(total=0" in result.output and any(s in result.output for s in NETWORK_SIGNS):
        raise CheckError(f"no network: pip lost the package index ({network_reason(result)})")
    lines = result.output.splitlines()
    conflict = [ln.strip() for ln in after(lines, "The conflict is caused by:") if ln.startswith("    ")]
    errors = [ln.removeprefix("ERROR: ").strip() for ln in lines if ln.startswith("ERROR: ")]
    useful = [e for e in errors if not e.startswith(("Cannot install", "ResolutionImpossible"))]
    text = "; ".join(dict.fromkeys(useful[:2] + conflict[:4])) or (lines[-1] if lines else "pip failed")
    return shorten(text)


def after(lines: list[str], marker: str) -> list[str]:
    return lines[lines.index(marker) + 1 :] if marker in lines else []


def network_reason(result: PipResult) -> str:
    return next((sign for sign in NETWORK_SIGNS if sign in result.output), "connection failed")


def shorten(text: str, width: int = 300) -> str:
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= width else text[: width - 3] + "..."


def check_index(target: Target, index_url: str, cache: Path) -> None:
    """Fails in seconds, in one line, when the index cannot be reached."""
    cmd = [*pip_command(target, index_url, cache, "index"), "versions", "pip", "--retries", "1"]
    cmd += ["--timeout", "15"]
    result = run_pip(cmd)
    if not result.ok:
        if any(sign in result.output for sign in NETWORK_SIGNS):
            raise CheckError(f"no network: pip cannot reach {index_url} ({network_reason(result)})")
        raise CheckError(f"pip cannot read {index_url}: {pip_error(result)}")


# --- one target ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One target's pip commands and directories."""

    target: Target
    download: list[str]  # `pip download --index-url ...`, with the target's markers
    wheel: list[str]  # `pip wheel --index-url ...`, for the pure sdists
    dest: Path
    links: Path  # wheels built here from pure sdists, offered to pip with --find-links

    @property
    def wheels(self) -> Path:
        return self.dest / "wheels"

    @property
    def sdists(self) -> Path:
        return self.dest / "sdists"

    @property
    def build(self) -> Path:
        return self.dest / "build"  # wheels the Pi needs to build the compiled sdists

    def binary(self, *, deps: bool = True, dest: Path | None = None) -> list[str]:
        args = [*self.download, *binary_args(self.target), "-d", str(dest or self.wheels)]
        args += ["--find-links", str(self.links)] if any(self.links.glob("*.whl")) else []
        return args if deps else [*args, "--no-deps"]

    def source(self, name: str, dest: Path | None = None) -> list[str]:
        t = self.target
        args = ["--no-deps", "--no-binary", name, "--python-version", t.py, "--implementation", "cp"]
        return [*self.download, *args, "-d", str(dest or self.sdists)]


def check_target(target: Target, reqs: list[Req], dest: Path, index_url: str, work: Path) -> Report:
    start = time.monotonic()
    report = Report(target)
    cache = work / "cache"
    run = Run(
        target,
        pip_command(target, index_url, cache, "download"),
        pip_command(target, index_url, cache, "wheel"),
        dest,
        work / f"built-{target.name}",
    )
    run.links.mkdir(parents=True, exist_ok=True)
    applying = [r for r in reqs if r.applies(target)]
    compiled = [r for r in applying if is_allowed_sdist(r.name, target) and not SDIST_ALLOWED[r.name].pure]
    skip = {r.name for r in compiled}
    resolved = [r for r in applying if not r.nodeps and r.name not in skip]
    nodeps = [r for r in applying if r.nodeps and r.name not in skip]

    build: list[Req] = []
    for r in compiled:
        resolved += check_sdist(report, run, r, build)
    built = [name for name, entry in SDIST_ALLOWED.items() if entry.pure and target.name in entry.targets]
    built = [name for name in built if build_pure_sdist(report, run, name)]
    download_set(report, run, resolved, run.binary())
    download_set(report, run, nodeps, run.binary(deps=False))
    download_set(report, run, build, run.binary(dest=run.build))
    report.files = sorted(p for p in dest.rglob("*") if p.is_file())
    names = {dist_name(p.name) for p in report.files if p.parent == run.wheels}
    for name in built:
        if name not in names:
            report.notes.append(f"{name}: allowed as a pure sdist, but nothing needs it now")
    for path in report.files:
        if is_forbidden(dist_name(path.name)):
            report.problems.append(f"{path.name}: downloaded; not for the board")
    report.seconds = time.monotonic() - start
    return report


def is_allowed_sdist(name: str, target: Target) -> bool:
    entry = SDIST_ALLOWED.get(canonicalize_name(name))
    return entry is not None and target.name in entry.targets


def download_set(report: Report, run: Run, reqs: list[Req], cmd: list[str]) -> None:
    """All together first (that is what the installer does); on failure, one by one to name each
    requirement that fails, then the rest together again (a conflict only shows among them)."""
    if not reqs:
        return
    result = run_pip([*cmd, *(r.spec() for r in reqs)])
    if result.ok:
        return
    good = []
    for r in reqs:
        alone = run_pip([*cmd, r.spec()])
        if alone.ok:
            good.append(r)
        else:
            report.problems.append(f"{r.spec()} ({r.origin}): {explain(run, alone)}")
    if len(good) == len(reqs):
        report.problems.append(f"the requirements together: {explain(run, result)}")
    elif good:
        together = run_pip([*cmd, *(r.spec() for r in good)])
        if not together.ok:
            report.problems.append(f"the other requirements together: {explain(run, together)}")


def explain(run: Run, result: PipResult) -> str:
    """pip's reason, and for a package with no wheel whether the index has its source."""
    reason = pip_error(result)
    m = re.search(r"No matching distribution found for ([A-Za-z0-9._-]+)", result.output)
    if not m:
        return reason
    name, target = canonicalize_name(m.group(1)), run.target
    entry = SDIST_ALLOWED.get(name)
    if entry and target.name in entry.targets:
        if entry.pure:
            return f"{reason} (an allowed pure sdist whose wheel was not built: see above)"
        return f"{reason} (an allowed sdist, but the check follows compiled sdists only at the top level)"
    if entry and entry.elsewhere:
        return f"{name}: no wheel for {target.name}, and not allowed as an sdist there: {entry.elsewhere}"
    with tempfile.TemporaryDirectory() as tmp:
        probe = run_pip([*run.source(name, Path(tmp)), name])
        sdist = next((p.name for p in Path(tmp).iterdir()), "") if probe.ok else ""
    if sdist:
        return f"{reason} (PyPI has only the sdist {sdist}: not in SDIST_ALLOWED)"
    return reason


def check_sdist(report: Report, run: Run, r: Req, build: list[Req]) -> list[Req]:
    """An allowed compiled sdist: its source must be on the index (downloaded, not built). Adds its
    build requirements to `build`; returns its own, which must resolve as wheels like any other."""
    target, entry = report.target, SDIST_ALLOWED[r.name]
    probe = run_pip([*run.binary(deps=False), r.spec()])
    if probe.ok:
        report.notes.append(f"{r.spec()}: a wheel for {target.name} now; its SDIST_ALLOWED entry is stale")
        return [] if r.nodeps else [Req(Requirement(r.spec()), r.origin)]
    sdist = fetch_sdist(report, run, r.spec(), r.origin)
    if not sdist:
        return []
    report.sdists.append(f"{sdist.name} ({entry.why}; builds with {entry.needs})")
    build += build_requirements(sdist, target)
    return [] if r.nodeps else sdist_requirements(sdist, target, r.origin)


def fetch_sdist(report: Report, run: Run, spec: str, origin: str) -> Path | None:
    before = set(run.sdists.glob("*"))
    result = run_pip([*run.source(Requirement(spec).name), spec])
    new = sorted(set(run.sdists.glob("*")) - before)
    if not result.ok or not new:
        why = explain(run, result) if not result.ok else "pip saved no sdist"
        report.problems.append(f"{spec} ({origin}): allowed as an sdist, but {why}")
        return None
    return new[0]


def build_pure_sdist(report: Report, run: Run, name: str) -> bool:
    """A pure-Python sdist is built here (no compiler: the wheel is the one the Pi would build) so that
    pip's wheels-only resolve can go through it."""
    entry = SDIST_ALLOWED[name]
    sdist = fetch_sdist(report, run, name, "allowed pure sdist")
    if not sdist:
        return False
    result = run_pip([*run.wheel, "--no-deps", "-w", str(run.links), str(sdist)])
    if not result.ok:
        report.problems.append(f"{sdist.name}: a pure sdist that does not build: {pip_error(result)}")
        return False
    report.sdists.append(f"{sdist.name} ({entry.why}; built here, {entry.needs})")
    return True


def sdist_requirements(path: Path, target: Target, origin: str) -> list[Req]:
    """Requires-Dist from the sdist's PKG-INFO, evaluated for the target."""
    meta = Parser().parsestr(read_pkg_info(path))
    origin = f"{origin}, needed by {meta['Name']}"
    deps = [Req(Requirement(s), origin) for s in meta.get_all("Requires-Dist") or []]
    return [d for d in deps if d.applies(target)]


def build_requirements(path: Path, target: Target) -> list[Req]:
    """pyproject.toml's build-system.requires (pip's default, setuptools, without one)."""
    text = read_member(path, "pyproject.toml")
    requires = tomllib.loads(text).get("build-system", {}).get("requires") if text else None
    requires = ["setuptools>=40.8.0"] if requires is None else requires
    deps = [Req(Requirement(s), f"to build {path.name}") for s in requires]
    return [d for d in deps if d.applies(target)]


def read_pkg_info(path: Path) -> str:
    return read_member(path, "PKG-INFO")


def read_member(path: Path, name: str) -> str:
    """The top-level file `name` of an sdist ("" if it has none)."""
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.count("/") == 1 and n.endswith("/" + name)]
            return z.read(names[0]).decode() if names else ""
    with tarfile.open(path) as t:
        members = [m for m in t.getmembers() if m.name.count("/") == 1 and m.name.endswith("/" + name)]
        f = t.extractfile(members[0]) if members else None
        return f.read().decode() if f else ""


def dist_name(filename: str) -> str:
    return canonicalize_name(re.split(r"-\d", filename, maxsplit=1)[0])


# --- output --------------------------------------------------------------------------------------


def summarize(report: Report, verbose: bool) -> Iterable[str]:
    t = report.target
    label = f"{t.name} (CPython {t.py}, glibc {t.glibc[0]}.{t.glibc[1]})"
    for path in report.files if verbose else []:
        kind = {"sdists": "sdist", "build": "wheel to build an sdist"}.get(path.parent.name, "wheel")
        yield f"{t.name}: {kind} {path.name}"
    for note in report.notes:
        yield f"{t.name}: note: {note}"
    for sdist in report.sdists:
        yield f"{t.name}: sdist (allowed) {sdist}"
    for problem in report.problems:
        yield f"{t.name}: FAIL {problem}"
    wheels = [p for p in report.files if p.parent.name == "wheels"]
    build = [p for p in report.files if p.parent.name == "build"]
    native = [p for p in wheels if "aarch64" in p.name]
    size = sum(p.stat().st_size for p in report.files) / 1e6
    n = len(report.problems)
    verdict = "PASS" if report.passed else f"FAIL ({n} problem{'s' if n > 1 else ''})"
    pure = len(wheels) - len(native)
    yield (
        f"{label}: {verdict}: {len(wheels)} wheels ({len(native)} aarch64, {pure} pure), "
        f"{len(report.sdists)} allowed sdists (+{len(build)} wheels to build them), "
        f"{size:.0f} MB in {report.seconds:.0f} s"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=sorted(TARGETS), action="append", help="default: both")
    parser.add_argument("--keep", "--dest", metavar="DIR", type=Path, help="download here and keep it")
    parser.add_argument("--index-url", default=DEFAULT_INDEX, help=f"default: {DEFAULT_INDEX}")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every downloaded file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    targets = [TARGETS[n] for n in (args.target or TARGETS)]
    scratch = Path(tempfile.mkdtemp(prefix="os1-wheels-"))
    try:
        reqs = board_requirements()
        check_index(targets[0], args.index_url, scratch / "cache")
        passed = True
        for target in targets:
            dest = (args.keep or scratch) / target.name
            for sub in ("wheels", "sdists", "build"):  # a kept earlier run's files would count as this run's
                shutil.rmtree(dest / sub, ignore_errors=True)
                (dest / sub).mkdir(parents=True)
            report = check_target(target, reqs, dest, args.index_url, scratch)
            for line in summarize(report, args.verbose):
                print(line, flush=True)
            passed = passed and report.passed
        return 0 if passed else 1
    except CheckError as e:
        print(f"check_wheels: {e}", file=sys.stderr)
        return 2
    except (OSError, tomllib.TOMLDecodeError, ValueError) as e:
        print(f"check_wheels: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
