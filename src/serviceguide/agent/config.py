"""The agent's TOML configuration (docs/agent.md lists every key). Relative paths in ``[state]``
and ``[sink]`` are resolved against the directory of the configuration file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """The configuration file is missing, not TOML, or lacks or mistypes a key."""


@dataclass(frozen=True)
class ApiConfig:
    base_url: str
    api_user: int
    api_key: str


@dataclass(frozen=True)
class NetworkConfig:
    coid: str
    url: str
    username: str
    password: str
    services: dict[str, str] = field(default_factory=dict)  # guide service_uid → ON-API service


@dataclass(frozen=True)
class AgentConfig:
    api: ApiConfig
    state_path: Path
    sink_path: Path
    networks: dict[str, NetworkConfig]


SECTIONS = {"api", "state", "sink", "onapi"}


def _table(doc: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = doc.get(name)
    if value is None:
        raise ConfigError(f"{where}: missing table [{name}]")
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    return value


def _key(table: dict[str, Any], section: str, key: str, kind: type) -> Any:
    if key not in table:
        raise ConfigError(f"[{section}] {key}: missing")
    value = table[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"[{section}] {key}: must be an integer, got {value!r}")
    if kind is str and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(f"[{section}] {key}: must be a non-empty string, got {value!r}")
    return value


def _no_extra(table: dict[str, Any], section: str, allowed: set[str]) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ConfigError(
            f"[{section}]: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )


def onapi_base(url: str) -> str:
    """A KO's ON-API base (``…/onapi/2.4``) from the URL as given: with or without a trailing
    slash, and with or without the ``orders/`` endpoint (which is where the orders go, and what
    a KO may well hand out as "the URL")."""
    base = url.rstrip("/")
    return base.removesuffix("/orders").rstrip("/") if base.endswith("/orders") else base


def parse_config(text: str, base_dir: Path = Path(".")) -> AgentConfig:
    """Parse and check the configuration; ``ConfigError`` names the first problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}") from None
    unknown = sorted(set(doc) - SECTIONS)
    if unknown:
        raise ConfigError(f"unknown table [{unknown[0]}] (expected api, state, sink, onapi)")
    api = _table(doc, "api", "configuration")
    _no_extra(api, "api", {"base_url", "api_user", "api_key"})
    base_url = _key(api, "api", "base_url", str)
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"[api] base_url: must start with http:// or https://, got {base_url!r}")
    state = _table(doc, "state", "configuration")
    _no_extra(state, "state", {"path"})
    sink = _table(doc, "sink", "configuration")
    _no_extra(sink, "sink", {"jsonl"})
    onapi = doc.get("onapi", {})
    if not isinstance(onapi, dict):
        raise ConfigError("[onapi] must be a table of networks ([onapi.COID])")
    networks: dict[str, NetworkConfig] = {}
    for coid, table in onapi.items():
        section = f"onapi.{coid}"
        if not isinstance(table, dict):
            raise ConfigError(f"[{section}] must be a table")
        _no_extra(table, section, {"url", "username", "password", "services"})
        url = _key(table, section, "url", str)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"[{section}] url: must start with http:// or https://, got {url!r}")
        url = onapi_base(url)
        services = table.get("services", {})
        if not isinstance(services, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in services.items()
        ):
            raise ConfigError(
                f'[{section}] services: must be a table of service_uid = "ON-API service"'
            )
        networks[coid] = NetworkConfig(
            coid=coid,
            url=url,
            username=_key(table, section, "username", str),
            password=_key(table, section, "password", str),
            services=dict(services),
        )
    return AgentConfig(
        api=ApiConfig(
            base_url=base_url,
            api_user=_key(api, "api", "api_user", int),
            api_key=_key(api, "api", "api_key", str),
        ),
        state_path=base_dir / Path(_key(state, "state", "path", str)),
        sink_path=base_dir / Path(_key(sink, "sink", "jsonl", str)),
        networks=networks,
    )


def load_config(path: Path) -> AgentConfig:
    """Read and parse ``path``; relative paths inside are resolved against its directory."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    try:
        return parse_config(text, path.resolve().parent)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
