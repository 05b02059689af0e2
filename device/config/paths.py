"""Where OS1 keeps its state and its models (outside the repo), with env overrides for tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from device.config.schema import Config


def _service() -> bool:
    # Under systemd, StateDirectory= sets $STATE_DIRECTORY (e.g. /var/lib/os1).
    return bool(os.environ.get("STATE_DIRECTORY"))


def state_dir(configured: str | None = None) -> Path:
    """Memory, letters, reminders, turn logs. $OS1_STATE_DIR > config > service dir > XDG state."""
    env = os.environ.get("OS1_STATE_DIR")
    if env:
        return Path(env)
    if configured:
        return Path(configured).expanduser()
    if _service():
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "os1"


def models_dir(configured: str | None = None) -> Path:
    """Downloaded and converted models. $OS1_MODELS_DIR > config > service dir > XDG data."""
    env = os.environ.get("OS1_MODELS_DIR")
    if env:
        return Path(env)
    if configured:
        return Path(configured).expanduser()
    if _service():
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0]) / "models"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "os1" / "models"


@dataclass(frozen=True)
class Dirs:
    """The directories one config resolves to (the environment overrides first, as above)."""

    state: Path
    """Memory, letters, reminders, the profile."""
    models: Path
    """Downloaded and converted models."""


def dirs(cfg: Config) -> Dirs:
    """Where this config keeps its state and finds its models."""
    return Dirs(state=state_dir(cfg.paths.state_dir or None), models=models_dir(cfg.paths.models_dir or None))


def user_config_candidates(cli_path: str | None = None) -> list[Path]:
    """The user config search order: first existing file wins."""
    out: list[Path] = []
    if cli_path:
        out.append(Path(cli_path))
    if os.environ.get("OS1_CONFIG"):
        out.append(Path(os.environ["OS1_CONFIG"]))
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    out.append(Path(base) / "os1" / "config.yaml")
    out.append(Path("/etc/os1/config.yaml"))
    return out


# The system service's runtime directory (RuntimeDirectory=os1). It exists only while the service runs,
# so a client (`os1 …` over SSH, in the os1 group) finds the daemon's socket there.
SYSTEM_RUNTIME_DIR = Path("/run/os1")


def runtime_dir() -> Path:
    """Sockets and other per-boot files. $OS1_RUNTIME_DIR > service dir ($RUNTIME_DIRECTORY, or
    /run/os1 while the service runs) > $XDG_RUNTIME_DIR/os1 > /tmp/os1-$UID. Callers creating the
    /tmp fallback should make it 0700 and check they own it: /tmp is shared."""
    env = os.environ.get("OS1_RUNTIME_DIR")
    if env:
        return Path(env)
    if os.environ.get("RUNTIME_DIRECTORY"):
        return Path(os.environ["RUNTIME_DIRECTORY"].split(":")[0])
    if SYSTEM_RUNTIME_DIR.is_dir():
        return SYSTEM_RUNTIME_DIR
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "os1"
    return Path(f"/tmp/os1-{os.getuid()}")
