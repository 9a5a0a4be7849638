"""Masking of secrets and personnummer in what is logged, in either log format.

Query strings lose the values of credential parameters (``hash``, ``api_key``, ``password``,
…), however their names are spelt or encoded; any text loses every personnummer the domain's
parser would accept, in any spelling (domain.personnummer.spans_in), the credentials in URLs
(``scheme://user:password@``) and in ``Authorization`` headers, and ``key=value`` pairs whose
key names a secret.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from serviceguide.domain.personnummer import mask_in, spans_in

MASK = "***"
# Credentials never reach a log, however their names are spelt or encoded.
SECRET_NAMES = frozenset(
    {"hash", "hash_key", "api_key", "password", "serial", "personnummer", "secret", "token"}
)


def redact_query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        secret = bool(sep) and unquote_plus(name).strip().lower() in SECRET_NAMES
        if secret or spans_in(unquote_plus(value if sep else name)):
            part = f"{name}={MASK}" if sep else MASK
        parts.append(part)
    return "&".join(parts)


def redact_path(path: str) -> str:
    """The path, with a personnummer in it (someone's mistake, never our URLs) masked."""
    return mask_in(path, MASK)


_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]*@")
_AUTHORIZATION = re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)(?:\w+\s+)?[^\s\"',;]+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
_PAIR = re.compile(
    r"(?i)\b(" + "|".join(sorted(SECRET_NAMES, key=len, reverse=True)) + r")"
    r"([\"']?\s*[=:]\s*[\"']?)([^\s\"'&,;)]+)"
)
# Cheap test first: most lines have none of these.
_MAYBE = re.compile(
    r"(?i)://[^/\s]*@|authorization|bearer|basic|" + "|".join(SECRET_NAMES) + r"|\d"
)


def redact_text(text: str) -> str:
    """``text`` with secrets and personnummer masked (see the module's docstring)."""
    if not _MAYBE.search(text):
        return text
    text = _URL_PASSWORD.sub(rf"\1{MASK}@", text)
    text = _AUTHORIZATION.sub(rf"\1{MASK}", text)
    text = _BEARER.sub(rf"\1 {MASK}", text)
    text = _PAIR.sub(rf"\1\2{MASK}", text)
    return mask_in(text, MASK)
