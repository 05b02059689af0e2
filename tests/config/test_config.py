from pathlib import Path

import pytest
import yaml

from device.config.load import ConfigError, find_user_config, load, parse
from device.config.schema import Config
from tests.conftest import REPO, run_os1


def test_default_yaml_documents_exactly_the_built_in_defaults() -> None:
    documented = yaml.safe_load((REPO / "config" / "default.yaml").read_text())
    assert documented == Config().model_dump()


def test_every_default_key_has_a_comment() -> None:
    lines = (REPO / "config" / "default.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        is_key = line.startswith("  ") and ":" in stripped and not stripped.startswith("#")
        if is_key:
            assert lines[i - 1].strip().startswith("#"), f"key without a comment: {stripped}"


def test_user_file_is_merged_over_defaults() -> None:
    cfg = parse("wake:\n  threshold: 0.7\n")
    assert cfg.wake.threshold == 0.7
    assert cfg.wake.engine == Config().wake.engine


@pytest.mark.parametrize(
    "text, expected",
    [
        ("wake:\n  treshold: 0.3\n", "unknown key 'wake.treshold'"),
        ("wake:\n  threshold: 3\n", "wake.threshold"),
        ("vad:\n  end_of_turn_ms: soon\n", "vad.end_of_turn_ms"),
        ("stt:\n  engine: google\n", "stt.engine"),
        ("wake: [1, 2\n", r"line \d+, column \d+: YAML syntax error"),
        ("- just a list\n", "top level must be a mapping"),
    ],
)
def test_bad_config_names_the_key_and_reason(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse(text, "my.yaml")


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "env.yaml"
    env_file.write_text("persona:\n  name: Envy\n")
    cli_file = tmp_path / "cli.yaml"
    cli_file.write_text("persona:\n  name: Clio\n")
    xdg = tmp_path / "xdg-config" / "os1" / "config.yaml"
    xdg.parent.mkdir(parents=True)
    xdg.write_text("persona:\n  name: Xena\n")
    assert load(None)[0].persona.name == "Xena"
    monkeypatch.setenv("OS1_CONFIG", str(env_file))
    assert load(None)[0].persona.name == "Envy"
    assert load(str(cli_file))[0].persona.name == "Clio"
    with pytest.raises(ConfigError, match="not found"):
        find_user_config(str(tmp_path / "missing.yaml"))


def test_cli_exits_2_with_one_line_on_a_bad_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("llm:\n  max_new_tokens: 5000\n")
    r = run_os1("--config", str(bad), "models", "list")
    assert r.returncode == 2
    assert r.stdout == ""
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "llm.max_new_tokens" in err[0] and str(bad) in err[0]


@pytest.mark.parametrize("board", ["pi5", "pi4", "pizero2w"])
def test_board_examples_are_valid(board: str) -> None:
    cfg = parse((REPO / "config" / f"{board}.yaml").read_text(), board)
    assert cfg.stt.engine == ("wyoming" if board == "pizero2w" else "vosk")  # the Zero hears on a server


def test_an_unknown_key_with_a_newline_in_it_is_still_one_line() -> None:
    # Found by `os1 eval reliability fuzz-files`: the key was quoted raw, newline and all.
    from device.config.load import ConfigError, parse

    with pytest.raises(ConfigError) as e:
        parse('? "e\\nx"\n: 1\n', "f.yaml")
    assert "\n" not in str(e.value) and str(e.value).startswith("f.yaml: unknown key 'e\\nx'")
