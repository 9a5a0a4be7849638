"""The server's rules for text fields, written as JSON Schema patterns for the OpenAPI
description, so that a value the description allows is one the server takes.

The server strips a value with Python's ``str.strip()`` before it checks it, so the patterns
allow the same whitespace around a value, and spell that whitespace out as a character class
(JSON Schema's ``\\s`` is ECMA-262's, which is not quite Python's).
"""

from __future__ import annotations

#: Every character ``str.strip()`` removes (``str.isspace()``), as the inside of a class.
WS = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
#: The control characters stored text may not hold (serviceguide.domain.ordering), ditto.
CTRL = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f"


#: A day ``YYYY-MM-DD`` as Python reads one: the year 0000 is valid to RFC 3339, not to Python.
DATE = "^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-[0-9]{2}-[0-9]{2}$"


def not_blank() -> str:
    """Something other than whitespace somewhere (the server's "Empty parameter")."""
    return f"[^{WS}]"


def trimmed(max_length: int, *, required: bool) -> str:
    """Text that, once stripped, is ``max_length`` characters at most, has no control
    characters, and (if ``required``) is not empty."""
    edge = f"[^{WS}{CTRL}]"
    core = f"{edge}(?:[^{CTRL}]{{0,{max_length - 2}}}{edge})?" if max_length > 1 else edge
    if not required:
        core = f"(?:{core})?"
    return f"^[{WS}]*{core}[{WS}]*$"


def stripped(core: str) -> str:
    """``core`` (a pattern without anchors) with whitespace allowed around it."""
    return f"^[{WS}]*{core}[{WS}]*$"


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c}]" for c in word)


#: What serviceguide.domain.mailaddress stores, as a pattern with no lookarounds (test-data
#: generators read it): a dot-atom of ASCII before the ``@``, at most 64 characters; an ASCII
#: domain name of labels of at most 63 characters with a dot, whose last label ends with a
#: letter. Stricter than the server in places (no ``--`` in a domain, at most three dots before
#: the ``@``; internationalised domain names are left out). The reserved names (``.test``,
#: ``.local`` …) are :data:`EMAIL_RESERVED`, for a ``not``.
_ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = "[A-Za-z0-9](?:-?[A-Za-z0-9]){0,31}"
EMAIL = (
    f"^[{WS}]*{_ATEXT}{{1,16}}(?:\\.{_ATEXT}{{1,15}}){{0,3}}"
    f"@(?:{_LABEL}\\.){{1,3}}(?:[A-Za-z0-9]-?){{0,31}}[A-Za-z][{WS}]*$"
)
_RESERVED = ("arpa", "invalid", "local", "localhost", "onion", "test")
EMAIL_RESERVED = f"\\.(?:{'|'.join(_any_case(d) for d in _RESERVED)})[{WS}]*$"
