"""`make install` / `make uninstall` into a staging DESTDIR: the tree, re-runs, the owner's config edits
surviving an upgrade, and what uninstall keeps. The venv and the model download are skipped (they are
pip and network work, not install logic)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.system, pytest.mark.skipif(shutil.which("make") is None, reason="make missing")]


def _make(target: str, dest: Path, board: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "OS1_INSTALL_SKIP_VENV": "1",
        "OS1_INSTALL_SKIP_MODELS": "1",
        "OS1_INSTALL_BOARD_FILE": str(board),
        **extra,
    }
    env.pop("OS1_INSTALL_PROFILE", None)
    proc = subprocess.run(
        ["make", "-s", target, f"DESTDIR={dest}", *(f"{k}={v}" for k, v in extra.items() if k == "PURGE")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _tree(root: Path) -> dict[str, str]:
    """Every path under root with its mode and content (or link target)."""
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_dir():
            out[rel] = oct(p.stat().st_mode & 0o7777)
        else:
            out[rel] = oct(p.stat().st_mode & 0o7777) + " " + p.read_text()
    return out


@pytest.fixture
def pi5(tmp_path: Path) -> Path:
    board = tmp_path / "model"
    board.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\0")  # as /proc/device-tree/model reads
    return board


def test_install_twice_edit_upgrade_uninstall_purge(tmp_path: Path, pi5: Path) -> None:
    dest = tmp_path / "root"
    out = _make("install", dest, pi5).stdout
    assert "not creating the os1 user" in out  # staging never touches this machine's users

    unit = dest / "lib/systemd/system/os1.service"
    assert unit.read_text() == (REPO / "systemd/os1.service").read_text()
    config = dest / "etc/os1/config.yaml"
    assert config.read_text() == (REPO / "config/pi5.yaml").read_text()  # the board's starter
    assert config.stat().st_mode & 0o777 == 0o660
    assert (dest / "var/lib/os1").stat().st_mode & 0o777 == 0o700
    assert (dest / "var/lib/os1/models").is_dir()
    assert os.readlink(dest / "usr/local/bin/os1") == "/opt/os1/venv/bin/os1"
    assert (dest / "opt/os1/share/doc/README.md").is_file()

    first = _tree(dest)
    out = _make("install", dest, pi5).stdout
    assert _tree(dest) == first, "a second install changed the tree"
    assert "is the current pi5 starter" in out

    # The owner edits the config; a re-install keeps it and writes no .new (the starter is unchanged).
    edited = config.read_text() + "persona:\n  name: Ada\n"
    config.write_text(edited)
    out = _make("install", dest, pi5).stdout
    assert config.read_text() == edited and "kept your edited" in out
    assert not (dest / "etc/os1/config.yaml.new").exists()

    # A newer starter ships (simulated: the previous install's copy is older): the edit survives and
    # the new starter lands next to it.
    shipped = dest / "opt/os1/share/config/pi5.yaml"
    shipped.write_text("# an older starter\n")
    out = _make("install", dest, pi5).stdout
    assert config.read_text() == edited
    assert (dest / "etc/os1/config.yaml.new").read_text() == (REPO / "config/pi5.yaml").read_text()
    assert "config.yaml.new" in out

    # An unedited config (still the old starter) is simply upgraded.
    shipped.write_text("# an older starter\n")
    config.write_text("# an older starter\n")
    out = _make("install", dest, pi5).stdout
    assert config.read_text() == (REPO / "config/pi5.yaml").read_text() and "you had not edited it" in out

    config.write_text(edited)
    out = _make("uninstall", dest, pi5).stdout
    assert not unit.exists() and not (dest / "opt/os1").exists()
    assert not (dest / "usr/local/bin/os1").is_symlink()
    assert config.read_text() == edited and (dest / "var/lib/os1/models").is_dir()  # data kept
    assert "PURGE=1" in out

    _make("uninstall", dest, pi5, PURGE="1")
    assert not (dest / "etc/os1").exists() and not (dest / "var/lib/os1").exists()


def test_unknown_board_gets_default_config_and_custom_prefix(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    _make("install", dest, tmp_path / "no-such-model-file", PREFIX="/srv/os1")
    assert (dest / "etc/os1/config.yaml").read_text() == (REPO / "config/default.yaml").read_text()
    unit = (dest / "lib/systemd/system/os1.service").read_text()
    assert "ExecStart=/srv/os1/venv/bin/os1 run" in unit and "/opt/os1" not in unit
    assert os.readlink(dest / "usr/local/bin/os1") == "/srv/os1/venv/bin/os1"


def test_uninstall_leaves_a_prefix_it_did_not_make(tmp_path: Path, pi5: Path) -> None:
    dest = tmp_path / "root"
    (dest / "opt/os1").mkdir(parents=True)
    (dest / "opt/os1/precious").write_text("not ours")
    out = _make("uninstall", dest, pi5).stdout
    assert (dest / "opt/os1/precious").exists() and "not ours, left alone" in out


def test_live_install_needs_root(tmp_path: Path) -> None:
    cmd = [str(REPO / "hardware/install.sh"), "install"]
    if os.getuid() == 0:  # drop to nobody to see what an ordinary user gets
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv missing")
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    env = {k: v for k, v in os.environ.items() if k != "DESTDIR"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "os1 install: run it as root: sudo make install (or stage with DESTDIR=/some/dir)"
    )


def test_the_board_install_asks_pip_for_no_torch() -> None:
    """What install.sh puts in the venv (its EXTRAS, and models-nodeps.txt) names no conversion tool: on
    aarch64 PyPI's torch is a CUDA build of several GB, and the board runs the GGUF with llama.cpp.
    (That their dependencies resolve for aarch64 with no torch is hardware/check_wheels.py's check.)"""
    import re
    import tomllib

    script = (REPO / "hardware" / "install.sh").read_text()
    extras = re.findall(r'^(?:ZERO_)?EXTRAS="([^"]+)"', script, re.M)
    assert len(extras) == 2, "install.sh has no EXTRAS and ZERO_EXTRAS lines"
    assert '"${SRC}[$extras]"' in script
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = [*project["dependencies"]]
    for extra in ",".join(extras).split(","):
        names += project["optional-dependencies"][extra]
    nodeps = (REPO / "requirements" / "models-nodeps.txt").read_text()
    names += [line.split("#")[0].strip() for line in nodeps.splitlines() if line.split("#")[0].strip()]

    def name(requirement: str) -> str:
        return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()

    wanted = {name(n) for n in names}
    convert = {name(n) for n in project["optional-dependencies"]["convert"]}
    assert "llama-cpp-python" in wanted
    assert not wanted & (convert | {"torch", "triton"}), wanted & convert
