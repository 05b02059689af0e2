"""The systemd unit: systemd's own checker parses it cleanly and rates its sandbox SAFE (exposure <= 3.0)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_os1

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "os1.service"
MAX_EXPOSURE = 3.0

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze missing (Debian package: systemd)"
)


def _exposure(unit: Path) -> tuple[float, str]:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout)
    assert match, f"no exposure line in systemd-analyze output:\n{proc.stdout}\n{proc.stderr}"
    return float(match.group(1)), proc.stdout


@needs_analyze
def test_unit_sandbox_is_safe() -> None:
    exposure, report = _exposure(UNIT)
    failing = "\n".join(line for line in report.splitlines() if line.startswith("✗"))
    assert exposure <= MAX_EXPOSURE, f"exposure {exposure} > {MAX_EXPOSURE}; open items:\n{failing}"


@needs_analyze
def test_the_check_can_fail(tmp_path: Path) -> None:
    # The same parser on an unsandboxed unit reads a high exposure: the threshold means something.
    bare = tmp_path / "bare.service"
    bare.write_text("[Service]\nExecStart=/bin/true\n")
    exposure, _ = _exposure(bare)
    assert exposure > MAX_EXPOSURE


@needs_analyze
def test_unit_verifies_without_warnings(tmp_path: Path) -> None:
    # `verify` insists that ExecStart exists; the venv is only there after `make install`, so check a
    # copy that runs /bin/true instead. Unknown keys and bad values are warnings on stderr with rc 0.
    text = UNIT.read_text()
    assert "ExecStart=/opt/os1/venv/bin/os1 run\n" in text
    copy = tmp_path / "os1.service"
    copy.write_text(text.replace("ExecStart=/opt/os1/venv/bin/os1 run", "ExecStart=/bin/true"))
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in (proc.stdout + proc.stderr).splitlines() if str(copy) in line]
    assert proc.returncode == 0 and not problems, proc.stdout + proc.stderr


def _settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_unit_matches_what_the_daemon_expects() -> None:
    s = _settings()
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]  # device/service.py speaks it
    assert s["WatchdogSec"] and s["Restart"] == ["on-failure"]
    env = " ".join(s["Environment"])
    # The paths device/paths.py reads; the runtime dir must be the one RuntimeDirectory= makes.
    for var in ("OS1_STATE_DIR=/var/lib/os1", "OS1_CONFIG=/etc/os1/config.yaml", "OS1_RUNTIME_DIR=/run/os1"):
        assert var in env
    assert "OS1_MODELS_DIR=/var/lib/os1/models" in env
    assert s["StateDirectory"] == ["os1"] and s["RuntimeDirectory"] == ["os1"]
    assert s["RuntimeDirectoryMode"] == ["0750"]  # the os1 group reaches the control socket


@needs_analyze
@pytest.mark.parametrize(
    "url", ["http://192.168.1.20:8080/v1", "https://[fd00::7]/v1", "http://localhost:8080/v1"]
)
def test_the_home_server_drop_in_opens_only_that_server_and_stays_safe(url: str, tmp_path: Path) -> None:
    """With llm.engine openai the unit gets egress to the server only, and no listening socket; the
    sandbox stays at 2.0 or lower. (Offline analysis reads one file: the unit with the drop-in after it,
    as systemd merges them.)"""
    from device.app.service_network import apply

    written = apply(url, tmp_path / "os1.service.d")
    assert written is not None
    text = written.read_text()
    assert "IPAddressDeny=any" in text and "SocketBindDeny=any" in text
    allow = next(line for line in text.splitlines() if line.startswith("IPAddressAllow="))
    assert allow.split("=", 1)[1].strip() and "any" not in allow
    merged = tmp_path / "os1.service"
    merged.write_text(UNIT.read_text() + "\n" + text)
    exposure, report = _exposure(merged)
    assert exposure <= 2.0, report
    assert "PrivateNetwork=" in report and exposure > _exposure(UNIT)[0]  # it did read the drop-in
    assert apply("", tmp_path / "os1.service.d") is None and not written.exists()  # no server: none


def test_the_speech_servers_are_let_through_with_the_mind(tmp_path: Path) -> None:
    """stt/tts over Wyoming: their hosts join the mind's in IPAddressAllow=, and nothing else does."""
    from device.app.service_network import apply, server_urls

    urls = server_urls("http://192.168.1.20:8080/v1", "tcp://192.168.1.21:10300", "tcp://192.168.1.20:10200")
    written = apply(urls, tmp_path / "os1.service.d")
    assert written is not None
    allow = next(line for line in written.read_text().splitlines() if line.startswith("IPAddressAllow="))
    assert allow == "IPAddressAllow=192.168.1.20 192.168.1.21"
    assert apply(server_urls(), tmp_path / "os1.service.d") is None and not written.exists()


def test_the_owners_calendar_server_alone_opens_egress_to_it(tmp_path: Path) -> None:
    """calendar.source caldav with no home server: `os1 service network` lets the calendar's host
    through, and only it (the same drop-in as the home server's)."""
    config = tmp_path / "cal.yaml"
    config.write_text("calendar:\n  source: caldav\n  url: https://192.168.1.30:5232/\n  username: sam\n")
    folder = tmp_path / "os1.service.d"
    r = run_os1("--config", str(config), "service", "network", "--dir", str(folder))
    assert r.returncode == 0, r.stderr
    text = "\n".join(p.read_text() for p in folder.iterdir())
    allow = next(line for line in text.splitlines() if line.startswith("IPAddressAllow="))
    assert allow == "IPAddressAllow=192.168.1.30", text
