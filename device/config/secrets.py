"""Secrets (the home server's API key, later mail passwords) in a 0600 YAML file of their own, never in
config.yaml: `os1 config show` prints the config, and a config is shared when asking for help.

$OS1_SECRETS > $XDG_CONFIG_HOME/os1/secrets.yaml (or /etc/os1/secrets.yaml for the system service).
An environment variable (OS1_LLM_API_KEY for llm_api_key) overrides the file. A file others can read
is refused with the chmod that fixes it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

from device.atomic import write_text_atomic

KNOWN = {
    "llm_api_key": "the home server's API key (llm.engine: openai)",
    "calendar_password": "the CalDAV account's password (calendar.source: caldav)",
    "mail_password": "the IMAP account's password (mail.source: imap)",
    "contacts_password": "the CardDAV account's password (contacts.source: carddav)",
}


class SecretsError(Exception):
    """The secrets file is unusable; the message is one line naming the file and the fix."""


def secrets_path() -> Path:
    env = os.environ.get("OS1_SECRETS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    user = Path(base) / "os1" / "secrets.yaml"
    system = Path("/etc/os1/secrets.yaml")
    return system if not user.exists() and system.exists() else user


def _read(path: Path) -> dict[str, str]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(
            f"{path} can be read by others (mode {stat.S_IMODE(mode):o}); fix: chmod 600 {path}"
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise SecretsError(
            f"cannot read {path}: {type(e).__name__}; fix: rewrite it with `os1 config secret`"
        ) from e
    if not isinstance(data, dict):
        raise SecretsError(
            f"{path} is not a mapping of name: value; fix: rewrite it with `os1 config secret`"
        )
    return {str(k): str(v) for k, v in data.items() if v is not None}


def get(name: str) -> str:
    """The secret's value ('' when not set): the environment first, then the file."""
    env = os.environ.get("OS1_" + name.upper())
    if env:
        return env
    return _read(secrets_path()).get(name, "")


def put(name: str, value: str) -> Path:
    """Set (or with value '' remove) a secret; the file is written 0600, atomically."""
    if name not in KNOWN:
        raise SecretsError(f"unknown secret {name!r}; fix: one of {', '.join(sorted(KNOWN))}")
    path = secrets_path()
    data = _read(path)
    if value:
        data[name] = value
    else:
        data.pop(name, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = os.umask(0o077)
    try:
        write_text_atomic(path, yaml.safe_dump(data, default_flow_style=False), mode=0o600, keep_mode=False)
    finally:
        os.umask(old)
    return path
