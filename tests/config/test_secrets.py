"""The secrets file: written 0600 and atomically, the environment first, a file others can read
refused with the chmod that fixes it, and unknown names refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.config import secrets


@pytest.fixture
def path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    p = tmp_path / "os1" / "secrets.yaml"
    monkeypatch.setenv("OS1_SECRETS", str(p))
    monkeypatch.delenv("OS1_LLM_API_KEY", raising=False)
    return p


def test_a_secret_is_written_0600_and_read_back(path: Path) -> None:
    assert secrets.get("llm_api_key") == ""
    assert secrets.put("llm_api_key", "s3cret") == path
    assert path.stat().st_mode & 0o777 == 0o600
    assert secrets.get("llm_api_key") == "s3cret"
    secrets.put("llm_api_key", "")
    assert secrets.get("llm_api_key") == "" and "s3cret" not in path.read_text()


def test_the_environment_comes_first(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets.put("llm_api_key", "from-file")
    monkeypatch.setenv("OS1_LLM_API_KEY", "from-env")
    assert secrets.get("llm_api_key") == "from-env"


def test_a_file_others_can_read_is_refused_with_the_fix(path: Path) -> None:
    secrets.put("llm_api_key", "s3cret")
    path.chmod(0o640)
    with pytest.raises(secrets.SecretsError, match=f"chmod 600 {path}") as e:
        secrets.get("llm_api_key")
    assert "s3cret" not in str(e.value)


def test_unknown_names_and_broken_files_are_one_line(path: Path) -> None:
    known = "calendar_password, contacts_password, llm_api_key, mail_password"
    with pytest.raises(secrets.SecretsError, match=f"unknown secret 'api_key'; fix: one of {known}"):
        secrets.put("api_key", "x")
    path.parent.mkdir(parents=True)
    path.write_text("- just\n- a list\n")
    path.chmod(0o600)
    with pytest.raises(secrets.SecretsError, match="not a mapping"):
        secrets.get("llm_api_key")
