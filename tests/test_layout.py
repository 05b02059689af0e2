"""The rules the layout keeps (README, "Layout"): which package may import which, and how big a
module, class or function may grow. Read from the source, so breaking a rule fails here first."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

DEVICE = REPO / "device"


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text())) for p in sorted(DEVICE.rglob("*.py"))]


def _imports(tree: ast.Module) -> set[str]:
    """Every device.* module a file imports, at the top or inside a function."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("device"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("device"))
    return out


def _package(path: Path) -> str:
    parts = path.relative_to(DEVICE).parts
    return parts[0] if len(parts) > 1 else ""


def test_pipeline_imports_nothing_outside_itself() -> None:
    bad = [
        f"{p.relative_to(REPO)}: {m}"
        for p, tree in _modules()
        if _package(p) == "pipeline"
        for m in _imports(tree)
        if not m.startswith("device.pipeline")
    ]
    assert not bad, bad


def test_drivers_use_only_drivers_and_the_audio_conventions() -> None:
    allowed = ("device.drivers", "device.pipeline.audio")
    bad = [
        f"{p.relative_to(REPO)}: {m}"
        for p, tree in _modules()
        if _package(p) == "drivers"
        for m in _imports(tree)
        if not m.startswith(allowed)
    ]
    assert not bad, bad


def test_the_daemon_never_imports_the_evals() -> None:
    """Only the eval and bench commands run measurements; `os1 demo` may speak its request with
    evals/speech.py."""
    allowed = {"device/cli/eval.py", "device/cli/bench.py"}
    bad = []
    for p, tree in _modules():
        rel = p.relative_to(REPO).as_posix()
        if _package(p) == "evals" or rel in allowed:
            continue
        for m in _imports(tree):
            if m.startswith("device.evals") and not (
                rel == "device/app/files.py" and m == "device.evals.speech"
            ):
                bad.append(f"{rel}: {m}")
    assert not bad, bad


def test_exit_codes_are_defined_once() -> None:
    defined = [
        p.relative_to(REPO).as_posix()
        for p, tree in _modules()
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        for name in ast.walk(target)
        if isinstance(name, ast.Name) and name.id.startswith("EXIT_")
    ]
    assert set(defined) == {"device/cli/__init__.py"}, defined


def test_no_module_class_or_function_outgrows_its_job() -> None:
    """No file over 500 lines, no class over 300, no function over 80."""
    too_big = []
    for p, tree in _modules():
        rel = p.relative_to(REPO).as_posix()
        lines = p.read_text().count("\n")
        if lines > 500:
            too_big.append(f"{rel}: {lines} lines")
        for node in ast.walk(tree):
            if not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            if isinstance(node, ast.ClassDef) and n > 300:
                too_big.append(f"{rel}: class {node.name} {n} lines")
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and n > 80:
                too_big.append(f"{rel}: {node.name}() {n} lines")
    assert not too_big, too_big
