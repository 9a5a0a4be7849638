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


#: What the agent answers the portal, for the customer (``externalMessage``), unless the
#: configuration says otherwise. ``{cause}`` in the rejection is the network's own reason.
MESSAGES = {
    "confirmed": "Tack för din beställning! Tjänsten är nu aktiverad.",
    "in_progress": "Tack för din beställning! Vi har beställt aktiveringen hos nätägaren "
    "och hör av oss när tjänsten är klar.",
    "manual": "Tack för din beställning! Vi går igenom den och hör av oss.",
    "rejected": "Vi kunde tyvärr inte aktivera tjänsten på din adress. "
    "Kontakta oss gärna så hjälper vi dig. (Nätägarens besked: {cause})",
}


@dataclass(frozen=True)
class SpConfig:
    """``[sp]``: the ON-API 2.6 service-provider endpoints the agent serves to the portal."""

    port: int
    username: str
    password: str = field(default="", repr=False)  # one of password and password_hash
    password_hash: str = field(default="", repr=False)  # argon2, as `agent hash-password` prints
    host: str = "127.0.0.1"
    base_path: str = "/onapi/2.6"
    answer_within: float = 5.0  # seconds the portal's push may wait for the KO's result
    workers: int = 4  # pushes handled at once; more wait for a free worker
    messages: dict[str, str] = field(default_factory=lambda: dict(MESSAGES))


@dataclass(frozen=True)
class AgentConfig:
    api: ApiConfig
    state_path: Path
    sink_path: Path
    networks: dict[str, NetworkConfig]
    sp: SpConfig | None = None


SECTIONS = {"api", "state", "sink", "onapi", "sp"}


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
        raise ConfigError(f"unknown table [{unknown[0]}] (expected api, state, sink, onapi, sp)")
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
        sp=_sp(doc["sp"]) if "sp" in doc else None,
    )


SP_KEYS = {
    "host",
    "port",
    "base_path",
    "username",
    "password",
    "password_hash",
    "answer_within",
    "workers",
    *(f"message_{k}" for k in MESSAGES),
}


def _sp(table: Any) -> SpConfig:
    if not isinstance(table, dict):
        raise ConfigError("[sp] must be a table")
    _no_extra(table, "sp", SP_KEYS)
    port = _key(table, "sp", "port", int)
    if not 0 <= port <= 65535:
        raise ConfigError(f"[sp] port: must be 0–65535 (0: any free port), got {port}")
    host = _key(table, "sp", "host", str) if "host" in table else "127.0.0.1"
    base_path = _key(table, "sp", "base_path", str) if "base_path" in table else "/onapi/2.6"
    if not base_path.startswith("/") or any(c in base_path for c in "?#{} "):
        raise ConfigError(f"[sp] base_path: must be a path starting with /, got {base_path!r}")
    base_path = base_path.rstrip("/")
    has_password, has_hash = "password" in table, "password_hash" in table
    if has_password == has_hash:
        raise ConfigError("[sp]: give exactly one of password and password_hash")
    password = _key(table, "sp", "password", str) if has_password else ""
    password_hash = _key(table, "sp", "password_hash", str) if has_hash else ""
    if has_hash and not password_hash.startswith("$argon2"):
        raise ConfigError(
            "[sp] password_hash: must be an argon2 hash ($argon2…), "
            "as `serviceguide agent hash-password` prints"
        )
    answer_within = table.get("answer_within", 5.0)
    if (
        isinstance(answer_within, bool)
        or not isinstance(answer_within, int | float)
        or not 0 < answer_within <= 60
    ):
        raise ConfigError(
            f"[sp] answer_within: must be a number of seconds, above 0 and at most 60, "
            f"got {answer_within!r}"
        )
    workers = _key(table, "sp", "workers", int) if "workers" in table else 4
    if not 1 <= workers <= 64:
        raise ConfigError(f"[sp] workers: must be 1–64, got {workers}")
    messages = dict(MESSAGES)
    for kind in MESSAGES:
        if f"message_{kind}" in table:
            text = _key(table, "sp", f"message_{kind}", str)
            if len(text) > 255:
                raise ConfigError(f"[sp] message_{kind}: at most 255 characters")
            messages[kind] = text
    return SpConfig(
        port=port,
        username=_key(table, "sp", "username", str),
        password=password,
        password_hash=password_hash,
        host=host,
        base_path=base_path,
        answer_within=float(answer_within),
        workers=workers,
        messages=messages,
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
