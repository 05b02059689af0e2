"""Reading the user's config: YAML merged over the built-in defaults, validated with pydantic.

Search order (first hit wins): --config, $OS1_CONFIG, ~/.config/os1/config.yaml, /etc/os1/config.yaml.
Any problem becomes a ConfigError whose message names the file, the key path (or line and column)
and the reason; the CLI prints it and exits 2 before anything starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from device.config import paths
from device.config.schema import Config


class ConfigError(Exception):
    """A config problem, already phrased for the user."""


def find_user_config(cli_path: str | None = None) -> Path | None:
    """The first existing config file in the search order. An explicit path that is missing is an error."""
    for i, candidate in enumerate(paths.user_config_candidates(cli_path)):
        explicit = i == 0 and cli_path is not None
        if candidate.is_file():
            return candidate
        if explicit:
            raise ConfigError(f"{candidate}: config file not found; create it or drop --config")
    return None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def _describe(e: ValidationError, source: str) -> str:
    err = e.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    if not key.isprintable() or len(key) > 80:  # a key with a newline in it must not break the line
        key = repr(key)[1:-1][:80]
    if err["type"] == "extra_forbidden":
        section = ".".join(str(p) for p in err["loc"][:-1])
        valid = _valid_keys(err["loc"][:-1])
        return f"{source}: unknown key '{key}'" + (f" (valid keys in {section or 'the top level'}: {valid})")
    more = f" (and {len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
    got = repr(err.get("input"))
    got = got if len(got) <= 80 else got[:77] + "..."  # one readable line, even for a pasted blob
    return f"{source}: {key}: {err['msg']} (got {got}){more}"


def _valid_keys(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] = Config
    for part in loc:
        annotation = model.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    return ", ".join(model.model_fields)


def parse(text: str, source: str = "config") -> Config:
    """YAML text merged over the defaults and validated."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if not mark and getattr(e, "position", None) is not None:  # a ReaderError: a bad character
            pos = int(e.position)  # type: ignore[attr-defined]
            line = text.count("\n", 0, pos) + 1
            where = f" line {line}, column {pos - (text.rfind(chr(10), 0, pos) + 1) + 1}"
        problem = getattr(e, "problem", None) or getattr(e, "reason", None) or str(e).splitlines()[0]
        raise ConfigError(f"{source}:{where}: YAML syntax error: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deep to be a config; fix it: os1 config edit") from None
    except (ValueError, TypeError) as e:  # a date like 2026-13-01
        why = _first_line(e)
        raise ConfigError(f"{source}: YAML cannot be read ({why}); fix it: os1 config edit") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections (persona:, audio:, …)")
    try:
        return Config.model_validate(_merge(Config().model_dump(), data))
    except ValidationError as e:
        raise ConfigError(_describe(e, source)) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deep to be a config; fix it: os1 config edit") from None


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0][:120]


def read_config_text(path: Path) -> str:
    """The file's text; ConfigError (one line) if it cannot be read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start + 1}); save it as UTF-8") from None


def load(cli_path: str | None = None) -> tuple[Config, Path | None]:
    """The effective config and the file it came from (None: built-in defaults)."""
    found = find_user_config(cli_path)
    if found is None:
        return Config(), None
    try:
        text = read_config_text(found)
    except OSError as e:
        raise ConfigError(f"{found}: cannot read ({e.strerror})") from None
    return parse(text, str(found)), found
