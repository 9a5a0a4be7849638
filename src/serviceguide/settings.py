"""All configuration, from environment variables (and a ``.env`` file)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from serviceguide.domain.allowlist import parse_network


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SERVICEGUIDE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,  # a bad SMTP or database URL must not print its password
    )

    database_url: str = "sqlite:///./var/serviceguide.sqlite3"
    base_url: str = "http://127.0.0.1:8000"
    smtp_url: str | None = None
    mail_from: str = "tjansteguiden@localhost"
    hash_ttl_seconds: int = Field(default=1200, gt=0)
    secret_key: str | None = None
    guide_rate: int = Field(default=60, ge=0)
    login_failures: int = Field(default=10, gt=0)
    #: Window over which failed logins are counted (docs/api.md: 5 minutes).
    login_failure_window_seconds: int = Field(default=300, gt=0)
    #: Where generated files live (the secret key, mail as .eml files, the SQLite file by default).
    var_dir: Path = Path("./var")
    #: argon2 parameters: "default" is RFC 9106's low-memory profile (argon2-cffi's default);
    #: "fast" is the cheapest valid profile, for test suites only.
    password_hashing: Literal["default", "fast"] = "default"  # noqa: S105
    #: Largest request body accepted anywhere (bytes); larger ones are refused with 413 before
    #: they are read. Above the endpoints' own limits (the XSP API: 1 MiB, answered in its
    #: envelope; the guide's JSON API: 64 KiB), so those answer first where they apply.
    max_request_bytes: int = Field(default=2 << 20, gt=0)
    #: Largest market-database file a KO may upload on the web (bytes); a larger one gets a 413
    #: page before it is read. The upload's own limit: SERVICEGUIDE_MAX_REQUEST_BYTES does not
    #: apply to it.
    max_upload_bytes: int = Field(default=200 * 1000 * 1000, gt=0)
    #: Days after its last order closed (delivered or cancelled) that a customer's personal
    #: data is kept; ``serviceguide privacy anonymise`` blanks it after that.
    retention_days: int = Field(default=730, gt=0)
    #: Unknown order-page links (``/thanks/…``, ``/my-orders/…``) tried from one client address
    #: within 10 minutes before those pages answer 429 to it.
    order_page_misses: int = Field(default=50, gt=0)
    #: Max characters in an ``add_message`` text.
    message_max_length: int = Field(default=2000, gt=0)
    #: Reverse proxies whose ``X-Forwarded-For``/``X-Forwarded-Proto`` are believed: addresses
    #: and networks, comma-separated. Unset, the TCP peer is the client, whatever the headers
    #: say: throttling and the KO allow-list cannot be fooled by a forged header.
    trusted_proxies: str = ""
    #: Longest a server or relay waits for the database — to connect, for a pooled connection,
    #: for each statement — before giving up with a 503 (storage.db.Database).
    db_timeout_seconds: float = Field(default=10.0, gt=0)
    #: ``text`` (one line per record) or ``json`` (one JSON object per line), for every logger.
    log_format: Literal["text", "json"] = "text"
    #: Addresses and networks (comma-separated) that may read ``GET /metrics``; others get 404.
    metrics_allow: str = "127.0.0.1,::1"

    # The outbox relay (docs/notifications.md).
    #: Run a relay inside every ``serviceguide serve`` worker (off: run ``serviceguide relay``).
    relay_in_serve: bool = True
    #: Attempts per message before it is marked ``failed``.
    outbox_max_attempts: int = Field(default=10, gt=0)
    #: Back-off after the n-th failed attempt: min(cap, base · 2^(n-1)), with jitter.
    #: The defaults spread 10 attempts over 4 to 8 hours.
    outbox_backoff_base_seconds: float = Field(default=60.0, ge=0)
    outbox_backoff_cap_seconds: float = Field(default=14400.0, ge=0)
    #: How long a relay's claim on a message lasts; after it another relay may deliver it.
    outbox_lease_seconds: float = Field(default=300.0, gt=0)
    #: How often an idle relay looks for due messages.
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    #: Messages claimed at a time.
    outbox_batch_size: int = Field(default=20, gt=0)
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    #: How often a TL's ON-API products are read again (services.products), by whichever server
    #: worker comes first; 0: never by the server (``serviceguide tl sync-products`` only).
    products_sync_seconds: float = Field(default=3600.0, ge=0)
    #: Longest an ON-API push to a TL waits for its answer (docs/onapi-sp.md): the guide's
    #: answer to the customer waits at most this long for the first attempt.
    sp_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        entries = filter(None, (e.strip() for e in value.split(",")))
        return ",".join(parse_network(entry, what="trust") for entry in entries)

    @field_validator("metrics_allow")
    @classmethod
    def _metrics_allow(cls, value: str) -> str:
        entries = filter(None, (e.strip() for e in value.split(",")))
        return ",".join(parse_network(entry, what="show the metrics to") for entry in entries)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("smtp", "smtp+starttls", "smtps"):
            raise ValueError("SMTP URL must start with smtp://, smtp+starttls:// or smtps://")
        if not parts.hostname:
            raise ValueError("SMTP URL has no host")
        parts.port  # noqa: B018 - raises ValueError on a malformed port
        return value

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once and kept under ``var_dir``."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # Create exclusively so that two processes starting together agree on one key.
        try:
            with open(path, "x") as f:
                f.write(key)
            path.chmod(0o600)
        except FileExistsError:
            return path.read_text().strip()
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
