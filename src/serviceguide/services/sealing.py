"""Secrets the guide must use again, not only check — a TL's ON-API password, sent with every
push — sealed (encrypted and authenticated, Fernet: AES-128-CBC with HMAC-SHA256) under a key
derived from the installation's secret key (SERVICEGUIDE_SECRET_KEY, or the one kept under
SERVICEGUIDE_VAR_DIR). Every process that pushes must share that key; a sealed value that the
current key cannot open is refused with a clear error, never guessed at."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from serviceguide.domain.errors import DomainError
from serviceguide.settings import Settings

_PURPOSE = b"serviceguide sealed secrets v1"


class Unsealable(DomainError):
    """A sealed secret that this installation's secret key does not open."""


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    raw = hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(raw))


def seal(settings: Settings, plain: str) -> str:
    return _fernet(settings.resolved_secret_key()).encrypt(plain.encode()).decode("ascii")


def unseal(settings: Settings, sealed: str, what: str = "secret") -> str:
    try:
        return _fernet(settings.resolved_secret_key()).decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, ValueError, UnicodeError):
        raise Unsealable(
            f"the stored {what} cannot be read with this installation's secret key "
            "(SERVICEGUIDE_SECRET_KEY changed?); set it again"
        ) from None
