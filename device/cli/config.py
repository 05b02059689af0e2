"""`os1 config show | get KEY | set KEY VALUE | edit | validate [FILE]`.

set and edit change the file the daemon reads, validate before writing (a bad key or value: exit 2,
the file untouched), write atomically, then ask a running daemon to reload.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from device.app import control
from device.atomic import write_text_atomic
from device.cli import EXIT_BAD_INPUT, EXIT_FAIL
from device.config import edit as config_edit
from device.config import load as configuration
from device.config.load import ConfigError
from device.config.schema import Config

_REFUSED = -1  # _reload: the daemon tried the new config and refused it (not an exit code)


def register(sub: Any) -> list[str]:
    p = sub.add_parser("config", help="show, get, set, edit or validate the config file")
    csub = p.add_subparsers(dest="config_action", required=True)
    csub.add_parser("show", help="the effective config (defaults merged with the file) and its file")
    get = csub.add_parser("get", help="one value, e.g. `os1 config get persona.name`")
    get.add_argument("key")
    put = csub.add_parser("set", help="change one key, keeping the file's comments (e.g. vad.threshold 0.6)")
    put.add_argument("key")
    put.add_argument("value", help="a YAML value: 0.6, false, null, [a, b]; text as is")
    csub.add_parser("edit", help="open the file in $VISUAL/$EDITOR; saved only if it is valid")
    val = csub.add_parser("validate", help="check a config file (default: the one in use)")
    val.add_argument("file", nargs="?", type=Path)
    sec = csub.add_parser("secret", help="set a secret (the home server's API key) in the 0600 secrets file")
    sec.add_argument("name", help="llm_api_key, calendar_password or mail_password")
    sec.add_argument("--clear", action="store_true", help="remove it")
    return ["config"]


def dispatch(args: argparse.Namespace) -> int:
    try:
        action = args.config_action
        if action == "validate":
            return validate(args.file, args.config)
        if action == "show":
            return show(args.config)
        if action == "get":
            return get(args.config, args.key)
        if action == "set":
            return set_key(args.config, args.key, args.value)
        if action == "secret":
            return set_secret(args.name, args.clear)
        return edit(args.config)
    except ConfigError as e:
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


def set_secret(name: str, clear: bool) -> int:
    """Read the value without echo (or from a pipe: `… | os1 config secret llm_api_key`); never print it."""
    import getpass

    from device.config import secrets

    value = ""
    if not clear:
        value = getpass.getpass(f"{name}: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
        if not value:
            print("os1: no value given; nothing changed (use --clear to remove it)", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        path = secrets.put(name, value)
    except secrets.SecretsError as e:
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"{name} {'removed from' if clear else 'saved in'} {path} (mode 600); restart the daemon to use it")
    return 0


# ------------------------------------------------------------------------------------ which file
def _daemon_status() -> tuple[dict[str, Any] | None, Path | None]:
    """The running daemon's status and socket, or (None, None). A daemon we may not ask counts as absent."""
    try:
        sock = control.find_daemon()
        return control.request(sock, {"cmd": "status"}, timeout_s=3.0), sock
    except control.DaemonNotRunning:
        return None, None
    except control.ControlError as e:
        print(f"note: cannot ask the running daemon which file it reads ({e})", file=sys.stderr)
        return None, None


def config_file(cli_path: str | None) -> tuple[Path, dict[str, Any] | None]:
    """The file set/edit/show use (it may not exist yet) and the daemon's status if it is running."""
    status, sock = _daemon_status()
    other_user = sock is not None and sock.stat().st_uid != os.getuid()
    daemon_file = status.get("config_file") if status else None
    return config_edit.target_path(cli_path, daemon_file, other_user), status


def _read(path: Path) -> str:
    try:
        return configuration.read_config_text(path)
    except FileNotFoundError:
        return ""
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None


# ------------------------------------------------------------------------------------ commands
def validate(file: Path | None, cli_path: str | None) -> int:
    if file is None:
        path, _ = config_file(cli_path)
        if not path.is_file():
            print(f"ok (no config file at {path}: the built-in defaults)")
            return 0
    elif not file.is_file():
        raise ConfigError(f"{file}: config file not found")
    path = file or path
    configuration.parse(_read(path), str(path))
    print(f"ok: {path}")
    return 0


def show(cli_path: str | None) -> int:
    path, _ = config_file(cli_path)
    exists = path.is_file()
    cfg = configuration.parse(_read(path), str(path)) if exists else Config()
    source = f"defaults merged with {path}" if exists else f"built-in defaults ({path} does not exist)"
    print(f"# effective config: {source}")
    print(yaml.safe_dump(cfg.model_dump(), sort_keys=False, allow_unicode=True, width=4096), end="")
    return 0


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=4096).strip().removesuffix("...").strip()


def get(cli_path: str | None, key: str) -> int:
    path, _ = config_file(cli_path)
    cfg = configuration.parse(_read(path), str(path)) if path.is_file() else Config()
    print(_format_value(config_edit.get_value(cfg, key)))
    return 0


def set_key(cli_path: str | None, key: str, raw: str) -> int:
    path, status = config_file(cli_path)
    old_text = _read(path)
    new_text, cfg = config_edit.set_key(old_text, key, raw, str(path))
    command = f"os1 config set {shlex.quote(key)} {shlex.quote(raw)}"
    if not _write(path, new_text, command):
        return EXIT_FAIL
    print(f"{key} = {_format_value(config_edit.get_value(cfg, key))} in {path}")
    code = _reload(path, status)
    if code == _REFUSED:
        # The running companion could not use it (a voice that is not installed, a damaged model):
        # kept, it would stop the next start too. Put the file back as it was.
        _write(path, old_text, command)
        print(f"os1: {key} not changed: the file is as it was", file=sys.stderr)
        return EXIT_BAD_INPUT
    return code


def _editor() -> list[str] | None:
    for var in ("VISUAL", "EDITOR"):
        if os.environ.get(var):
            return shlex.split(os.environ[var])
    for name in ("nano", "vi"):
        if shutil.which(name):
            return [name]
    return None


def edit(cli_path: str | None) -> int:
    path, status = config_file(cli_path)
    editor = _editor()
    if editor is None:
        print("os1: no editor found; set $EDITOR (or install nano), or use `os1 config set`", file=sys.stderr)
        return EXIT_FAIL
    old = _read(path)
    # The copy lives outside the config dir, so a half-finished edit never sits next to the real file.
    fd, name = tempfile.mkstemp(prefix="os1-config-", suffix=".yaml")
    tmp = Path(name)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(old)
    try:
        code = subprocess.call([*editor, str(tmp)])
    except OSError as e:
        tmp.unlink(missing_ok=True)
        print(f"os1: cannot run the editor {editor[0]!r} ({e.strerror}); set $EDITOR", file=sys.stderr)
        return EXIT_FAIL
    new = tmp.read_text(encoding="utf-8")
    if code != 0:
        print(f"os1: the editor exited with {code}; nothing saved (your edit is in {tmp})", file=sys.stderr)
        return EXIT_FAIL
    if new == old:
        tmp.unlink()
        print(f"no change to {path}")
        return 0
    try:
        configuration.parse(new, str(path))
    except ConfigError as e:
        print(f"os1: {e}; nothing saved (your edit is in {tmp})", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not _write(path, new, "os1 config edit"):
        print(f"os1: your edit is in {tmp}", file=sys.stderr)
        return EXIT_FAIL
    tmp.unlink()
    print(f"saved {path}")
    code = _reload(path, status)
    if code == _REFUSED:
        print("os1: saved; the running companion keeps its old config until this is fixed", file=sys.stderr)
        return EXIT_FAIL
    return code


def _write(path: Path, text: str, command: str) -> bool:
    try:
        write_text_atomic(path, text)
        return True
    except PermissionError:
        print(f"os1: {path}: permission denied; run `sudo {command}`", file=sys.stderr)
    except OSError as e:
        print(f"os1: {path}: cannot write ({e.strerror}); nothing changed", file=sys.stderr)
    return False


def _reload(path: Path, status: dict[str, Any] | None) -> int:
    """Ask a running daemon to re-read its config; say what it applied and what needs a restart."""
    if status is None:
        print("the daemon is not running; it reads this when it starts")
        return 0
    try:
        reply = control.send({"cmd": "reload"}, timeout_s=30.0)
    except control.DaemonNotRunning:
        print("the daemon stopped; it reads this when it starts")
        return 0
    except control.ControlError as e:
        if str(e).startswith("reload failed"):
            print(f"os1: the running companion refused it: {e}", file=sys.stderr)
            return _REFUSED
        print(f"os1: saved, but the daemon did not reload: {e}", file=sys.stderr)
        return EXIT_FAIL
    if reply.get("config_file") != str(path):
        print(f"note: the daemon reads {reply.get('config_file') or 'the built-in defaults'}, not {path}")
    applied, restart = reply.get("applied") or [], reply.get("need_restart") or []
    print("applied live: " + (", ".join(applied) if applied else "nothing"))
    if restart:
        print(f"needs `os1 restart`: {', '.join(restart)}")
    return 0
