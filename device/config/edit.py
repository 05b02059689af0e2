"""Changing the config file safely: one key at a time with comments kept, validated before the
atomic write; and which keys the running daemon can take without a restart."""

from __future__ import annotations

import io
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from device.config import paths
from device.config.load import ConfigError, parse
from device.config.schema import Config

# Keys the daemon applies on `reload` without a restart (a prefix ending in "." covers a section).
# The runner's reload must apply exactly these; everything else waits for `os1 restart`.
LIVE_KEYS: tuple[str, ...] = (
    "persona.",
    "tts.voice",
    "tts.length_scale",
    "audio.volume",
    "vad.threshold",
    "vad.end_of_turn_ms",
    "vad.early_reply_ms",
    "vad.quick_end_of_turn_ms",
    "vad.max_utterance_s",
    "vad.listen_timeout_s",
    "wake.",
)


def flatten(cfg: BaseModel) -> dict[str, Any]:
    """{"persona.name": "Samantha", ...}: every leaf key by its dotted path."""
    out: dict[str, Any] = {}

    def walk(prefix: str, data: dict[str, Any]) -> None:
        for k, v in data.items():
            if isinstance(v, dict):
                walk(f"{prefix}{k}.", v)
            else:
                out[f"{prefix}{k}"] = v

    walk("", cfg.model_dump())
    return out


def is_live(key: str) -> bool:
    return any(key.startswith(p) if p.endswith(".") else key == p for p in LIVE_KEYS)


def live_keys_changed(old: Config, new: Config) -> tuple[list[str], list[str]]:
    """The keys that differ, split into (applied live, need a restart)."""
    a, b = flatten(old), flatten(new)
    changed = [k for k in b if a.get(k) != b[k]]
    return [k for k in changed if is_live(k)], [k for k in changed if not is_live(k)]


# ------------------------------------------------------------------------------------ keys and values
def _field_annotation(key: str) -> Any:
    """The type of a leaf key; ConfigError naming the valid keys if there is no such key."""
    model: type[BaseModel] = Config
    parts = key.split(".")
    for i, part in enumerate(parts):
        fields = model.model_fields
        where = ".".join(parts[:i]) or "the top level"
        if part not in fields:
            raise ConfigError(f"unknown key '{key}' (valid keys in {where}: {', '.join(fields)})")
        annotation = fields[part].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if i == len(parts) - 1:
                keys = ", ".join(annotation.model_fields)
                raise ConfigError(f"'{key}' is a section; name one of its keys: {keys}")
            model = annotation
        elif i < len(parts) - 1:
            raise ConfigError(f"unknown key '{key}' ('{'.'.join(parts[: i + 1])}' is not a section)")
        else:
            return annotation
    raise ConfigError(f"unknown key '{key}'")


def _text_like(annotation: Any) -> tuple[bool, bool]:
    """(takes text, accepts None) for str, Literal["a", "b"] and their Optional forms."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return (len(inner) == 1 and _text_like(inner[0])[0], type(None) in args)
    if annotation is str:
        return True, False
    return origin is typing.Literal and all(isinstance(a, str) for a in args), False


def parse_value(key: str, raw: str) -> Any:
    """VALUE from the command line: the literal text for a text key (so a name like `2001` or `off`
    stays text), otherwise a YAML scalar or flow list (`0.6`, `false`, `null`, `[a, b]`)."""
    text, nullable = _text_like(_field_annotation(key))
    if text:
        return None if nullable and raw in ("null", "~") else raw
    try:
        return yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        return raw  # not YAML: let validation say what the key wanted


def get_value(cfg: Config, key: str) -> Any:
    _field_annotation(key)
    return flatten(cfg)[key]


# ------------------------------------------------------------------------------------ round-trip edit
def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap a long system prompt
    y.indent(mapping=2, sequence=4, offset=2)
    # ruamel writes None as an empty value; `null` is what the defaults file and the reader show.
    y.representer.add_representer(
        type(None), lambda r, _d: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return y


def _plain_safe(value: str) -> bool:
    """Config is read by PyYAML (YAML 1.1): `off`, `yes`, `1_000` written plain would come back as bool or
    int, so such text is written quoted."""
    try:
        return bool(yaml.safe_load(value) == value)
    except yaml.YAMLError:
        return False


def _node(value: Any) -> Any:
    if isinstance(value, str) and not _plain_safe(value):
        return DoubleQuotedScalarString(value)
    return value


def set_in_text(text: str, key: str, value: Any, source: str = "config") -> str:
    """`text` with `key` set to `value`; comments, order and other keys untouched. Sections are created."""
    y = _yaml()
    try:
        data = y.load(text) if text.strip() else None
    except Exception as e:  # ruamel raises many kinds; all mean the file is not YAML we can edit
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(
            f"{source}: cannot edit: YAML syntax error: {first}; fix it with `os1 config edit`"
        ) from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ConfigError(f"{source}: the top level must be a mapping of sections (persona:, audio:, …)")
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = CommentedMap()
            node[part] = child
        elif not isinstance(child, CommentedMap):
            raise ConfigError(
                f"{source}: '{part}' is not a section (it holds {child!r}); fix it with `os1 config edit`"
            )
        node = child
    node[parts[-1]] = _node(value)
    out = io.StringIO()
    y.dump(data, out)
    if text.strip() and not isinstance(y.load(text), CommentedMap):
        return text.rstrip("\n") + "\n" + out.getvalue()  # a file of comments only: keep them on top
    return out.getvalue()


def set_key(text: str, key: str, raw: str, source: str = "config") -> tuple[str, Config]:
    """The new file text and its validated config. ConfigError if the key or value is bad."""
    try:
        value = parse_value(key, raw)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    new_text = set_in_text(text, key, value, source)
    return new_text, parse(new_text, source)


# ------------------------------------------------------------------------------------ which file; writing it
def target_path(cli_path: str | None, daemon_file: str | None, daemon_is_other_user: bool) -> Path:
    """The file `set`/`edit` change: the one the daemon reads. --config > the running daemon's own file >
    the first existing in the search order > a new one: /etc/os1/config.yaml if the daemon runs as
    another user (the system service), else the first user location."""
    if cli_path:
        return Path(cli_path)
    if daemon_file:
        return Path(daemon_file)
    from device.config.load import find_user_config

    found = find_user_config(None)
    if found is not None:
        return found
    candidates = paths.user_config_candidates(None)
    return candidates[-1] if daemon_is_other_user else candidates[0]
