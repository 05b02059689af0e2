"""`os1 config`: set keeps comments and refuses bad keys and values without touching the file, writes are
atomic, edit validates, and a running daemon reloads and says what it applied."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.app import control
from device.app.control import ControlServer
from device.app.control_handler import DaemonControl
from device.atomic import write_text_atomic
from device.config import edit as config_edit
from device.config.load import ConfigError, parse
from device.config.schema import Config
from device.pipeline.events import State
from tests.conftest import REPO, run_os1

pytestmark = pytest.mark.models

COMMENTED = """\
# My OS1 settings
persona:
  # She needs a name.
  name: Samantha   # from the film
  owner_name: Theodore

vad:
  threshold: 0.5  # a bit more sensitive than most
"""


@pytest.fixture
def cfg_file(tmp_path: Path) -> Path:
    """The user's config, where the search order finds it (conftest points XDG_CONFIG_HOME at tmp)."""
    path = tmp_path / "xdg-config" / "os1" / "config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(COMMENTED)
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("OS1_RUNTIME_DIR", str(tmp_path / "run"))  # no daemon unless a test starts one
    return {"OS1_RUNTIME_DIR": str(tmp_path / "run")}


# ------------------------------------------------------------------------------------ set
def test_set_keeps_comments_and_changes_one_line(cfg_file: Path, env: dict[str, str]) -> None:
    r = run_os1("config", "set", "vad.threshold", "0.6", env=env)
    assert r.returncode == 0, r.stderr
    assert f"vad.threshold = 0.6 in {cfg_file}" in r.stdout
    assert "the daemon is not running" in r.stdout
    assert cfg_file.read_text() == COMMENTED.replace("threshold: 0.5", "threshold: 0.6")
    assert parse(cfg_file.read_text()).vad.threshold == 0.6


def test_set_adds_a_missing_section_and_key(cfg_file: Path, env: dict[str, str]) -> None:
    assert run_os1("config", "set", "audio.echo_cancel", "false", env=env).returncode == 0
    assert run_os1("config", "set", "persona.owner_name", "Theo", env=env).returncode == 0
    text = cfg_file.read_text()
    assert text.startswith(COMMENTED.replace("owner_name: Theodore", "owner_name: Theo"))
    assert text.endswith("audio:\n  echo_cancel: false\n")
    cfg = parse(text)
    assert cfg.audio.echo_cancel is False and cfg.persona.owner_name == "Theo"


def test_set_values_are_typed_by_the_key(cfg_file: Path, env: dict[str, str]) -> None:
    for key, value in [
        ("persona.name", "off"),  # YAML 1.1 would read a bare off as false
        ("persona.owner_name", "2001"),
        ("audio.output_device", "null"),
        ("audio.input_device", "USB: mic"),
        ("vad.end_of_turn_ms", "700"),
        ("wake.engine", "none"),
    ]:
        r = run_os1("config", "set", key, value, env=env)
        assert r.returncode == 0, r.stderr
    cfg = parse(cfg_file.read_text())
    assert cfg.persona.name == "off" and cfg.persona.owner_name == "2001"
    assert cfg.audio.output_device is None and cfg.audio.input_device == "USB: mic"
    assert cfg.vad.end_of_turn_ms == 700 and cfg.wake.engine == "none"
    r = run_os1("config", "get", "persona.name", env=env)
    assert r.stdout == "off\n"


def test_parse_value() -> None:
    assert config_edit.parse_value("vad.threshold", "0.6") == 0.6
    assert config_edit.parse_value("audio.echo_cancel", "false") is False
    assert config_edit.parse_value("audio.input_device", "null") is None
    assert config_edit.parse_value("audio.input_device", "[a, b]") == "[a, b]"  # a text key takes text
    assert config_edit.parse_value("audio.period_ms", "[20, 40]") == [20, 40]  # a flow list
    with pytest.raises(ConfigError, match="Input should be a valid integer"):
        config_edit.set_key("", "audio.period_ms", "[20, 40]")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("vad.treshold", "0.6", "unknown key 'vad.treshold' (valid keys in vad: threshold,"),
        ("voice.name", "x", "unknown key 'voice.name' (valid keys in the top level: persona,"),
        ("persona", "x", "'persona' is a section; name one of its keys: name, pronouns"),
        ("vad.threshold.x", "1", "'vad.threshold' is not a section"),
        ("vad.threshold", "7", "vad.threshold: Input should be less than 1 (got 7)"),
        ("vad.threshold", "high", "vad.threshold: Input should be a valid number"),
        ("audio.echo_cancel", "maybe", "audio.echo_cancel: Input should be a valid boolean"),
        ("wake.engine", "alexa", "wake.engine: Input should be 'openwakeword'"),
        ("persona.name", "", "persona.name: String should have at least 1 character"),
    ],
)
def test_a_bad_key_or_value_is_refused_and_the_file_untouched(
    cfg_file: Path, env: dict[str, str], key: str, value: str, message: str
) -> None:
    before = cfg_file.read_bytes()
    r = run_os1("config", "set", key, value, env=env)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"os1: {cfg_file}: ") and message in lines[0], lines
    assert cfg_file.read_bytes() == before
    assert [p.name for p in cfg_file.parent.iterdir()] == ["config.yaml"]  # no temp file left


def test_set_creates_the_user_config_when_there_is_none(tmp_path: Path, env: dict[str, str]) -> None:
    r = run_os1("config", "set", "persona.name", "Ava", env=env)
    assert r.returncode == 0, r.stderr
    created = tmp_path / "xdg-config" / "os1" / "config.yaml"
    assert created.read_text() == "persona:\n  name: Ava\n"
    assert stat.S_IMODE(created.stat().st_mode) == 0o644


def test_set_keeps_the_files_mode(cfg_file: Path, env: dict[str, str]) -> None:
    cfg_file.chmod(0o600)
    assert run_os1("config", "set", "vad.threshold", "0.4", env=env).returncode == 0
    assert stat.S_IMODE(cfg_file.stat().st_mode) == 0o600


# ------------------------------------------------------------------------------------ atomic writes
@pytest.mark.parametrize("fails", ["replace", "fsync"])
def test_a_failed_write_leaves_the_original(
    cfg_file: Path, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    before = cfg_file.read_bytes()
    new_text, _ = config_edit.set_key(before.decode(), "vad.threshold", "0.6", str(cfg_file))

    def boom(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, fails, boom)
    with pytest.raises(OSError, match="No space"):
        write_text_atomic(cfg_file, new_text)
    monkeypatch.undo()
    assert cfg_file.read_bytes() == before
    assert [p.name for p in cfg_file.parent.iterdir()] == ["config.yaml"]


def test_the_write_goes_through_a_temp_file_in_the_same_dir(
    cfg_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        seen.append((Path(src), Path(dst)))
        assert Path(dst).read_text() == COMMENTED  # the target is still the old file at this point
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_text_atomic(cfg_file, "persona:\n  name: Ava\n")
    assert len(seen) == 1 and seen[0][0].parent == cfg_file.parent and seen[0][1] == cfg_file
    assert cfg_file.read_text() == "persona:\n  name: Ava\n"


# ------------------------------------------------------------------------------------ get, show, validate
def test_get_and_show(cfg_file: Path, env: dict[str, str]) -> None:
    assert run_os1("config", "get", "persona.owner_name", env=env).stdout == "Theodore\n"
    assert run_os1("config", "get", "vad.end_of_turn_ms", env=env).stdout == "600\n"  # a default
    assert run_os1("config", "get", "audio.input_device", env=env).stdout == "null\n"
    r = run_os1("config", "get", "persona.nickname", env=env)
    assert r.returncode == 2 and "unknown key 'persona.nickname'" in r.stderr
    r = run_os1("config", "show", env=env)
    assert r.returncode == 0
    assert r.stdout.splitlines()[0] == f"# effective config: defaults merged with {cfg_file}"
    assert "  owner_name: Theodore\n" in r.stdout and "  end_of_turn_ms: 600\n" in r.stdout


def test_validate(cfg_file: Path, tmp_path: Path, env: dict[str, str]) -> None:
    r = run_os1("config", "validate", env=env)
    assert (r.returncode, r.stdout) == (0, f"ok: {cfg_file}\n")
    assert run_os1("config", "validate", str(REPO / "config" / "default.yaml"), env=env).returncode == 0
    bad = tmp_path / "bad.yaml"
    for text, message in [
        ("vad:\n  threshold: 2\n", "vad.threshold: Input should be less than 1"),
        ("vad:\n  threshold: [\n", "YAML syntax error"),
        ("wake:\n  enigne: x\n", "unknown key 'wake.enigne'"),
    ]:
        bad.write_text(text)
        r = run_os1("config", "validate", str(bad), env=env)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and message in r.stderr
    r = run_os1("config", "validate", str(tmp_path / "nope.yaml"), env=env)
    assert r.returncode == 2 and "not found" in r.stderr


# ------------------------------------------------------------------------------------ edit
def editor(tmp_path: Path, replace: str, by: str) -> str:
    """$EDITOR: a real program that changes the file it is given, as a person would."""
    script = tmp_path / "ed.py"
    script.write_text(
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        f"p.write_text(p.read_text().replace({replace!r}, {by!r}))\n"
    )
    return f"{sys.executable} {script}"


def test_edit_saves_a_valid_change(cfg_file: Path, tmp_path: Path, env: dict[str, str]) -> None:
    r = run_os1("config", "edit", env={**env, "EDITOR": editor(tmp_path, "Samantha", "Ava"), "VISUAL": ""})
    assert r.returncode == 0, r.stderr
    assert cfg_file.read_text() == COMMENTED.replace("Samantha", "Ava")
    assert f"saved {cfg_file}" in r.stdout


def test_edit_refuses_an_invalid_result_and_keeps_the_edit(
    cfg_file: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    before = cfg_file.read_bytes()
    ed = editor(tmp_path, "threshold: 0.5", "treshold: 0.5")
    r = run_os1("config", "edit", env={**env, "VISUAL": ed})
    assert r.returncode == 2
    line = r.stderr.strip()
    assert "unknown key 'vad.treshold'" in line and "nothing saved (your edit is in " in line
    kept = Path(line.rsplit("your edit is in ", 1)[1].rstrip(")"))
    assert "treshold: 0.5" in kept.read_text()
    kept.unlink()
    assert cfg_file.read_bytes() == before


# ------------------------------------------------------------------------------------ with the daemon running
class RecordingLoop:
    """The VoiceLoop calls the control socket uses (state, muted, set_muted, announce)."""

    def __init__(self) -> None:
        self.state = State.IDLE
        self.muted = False

    def set_muted(self, muted: bool) -> None:
        self.muted = muted

    def announce(self, text: str) -> None:
        pass


@pytest.fixture
def daemon(cfg_file: Path, env: dict[str, str]) -> Iterator[list[list[str]]]:
    applied: list[list[str]] = []
    handler = DaemonControl(
        RecordingLoop(), parse(COMMENTED), cfg_file, None, apply=lambda _cfg, keys: applied.append(keys)
    )
    with ControlServer(control.daemon_socket_path(), handler):
        yield applied


def test_set_reloads_the_running_daemon(cfg_file: Path, env: dict[str, str], daemon: list[list[str]]) -> None:
    r = run_os1("config", "set", "vad.threshold", "0.6", env=env)
    assert r.returncode == 0, r.stderr
    assert "applied live: vad.threshold" in r.stdout and "os1 restart" not in r.stdout
    r = run_os1("config", "set", "llm.max_new_tokens", "32", env=env)
    assert "applied live: nothing" in r.stdout and "needs `os1 restart`: llm.max_new_tokens" in r.stdout
    assert daemon == [["vad.threshold"]]


def test_the_daemons_file_is_the_one_edited(tmp_path: Path, env: dict[str, str]) -> None:
    service_file = tmp_path / "etc-os1" / "config.yaml"  # e.g. /etc/os1/config.yaml for the service
    service_file.parent.mkdir()
    service_file.write_text("vad:\n  threshold: 0.5\n")
    handler = DaemonControl(
        RecordingLoop(),
        parse(service_file.read_text()),
        service_file,
        str(service_file),
        apply=lambda c, k: None,
    )
    with ControlServer(control.daemon_socket_path(), handler):
        r = run_os1("config", "set", "vad.threshold", "0.3", env=env)
    assert r.returncode == 0, r.stderr
    assert parse(service_file.read_text()).vad.threshold == 0.3
    assert "applied live: vad.threshold" in r.stdout
    assert not (tmp_path / "xdg-config" / "os1" / "config.yaml").exists()


# ------------------------------------------------------------------------------------ live keys
def test_live_keys_changed() -> None:
    old = Config()
    new = Config()
    new.persona.name = "Ava"
    new.vad.threshold = 0.6
    new.tts.voice = "en_US-amy-medium"
    new.llm.model = "qwen2.5-0.5b-instruct-int4"
    new.audio.echo_cancel = False
    applied, restart = config_edit.live_keys_changed(old, new)
    assert applied == ["persona.name", "vad.threshold", "tts.voice"]
    assert restart == ["audio.echo_cancel", "llm.model"]
    assert config_edit.live_keys_changed(old, Config()) == ([], [])
