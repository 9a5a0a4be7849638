"""E-mail addresses: the one check every address passes before it is stored.

A stored address is one the system can send to as it stands: the syntax of RFC 5321/5322 as
the ``email-validator`` library reads it, with a domain name that could exist on the internet
(a dot in it, not ``localhost``, ``.test``, ``.invalid``, ``.local`` …). Nothing is looked up
in the DNS: the machine may have no internet, and an address whose domain has no mail server
today is still the address the person gave.

Only ASCII is accepted before the ``@``: a non-ASCII local part needs SMTPUTF8 from every
server on the way, and without it the address would go out as an encoded word that no mail
server understands. A non-ASCII domain (``exämple.se``) is accepted and stored in its ASCII
form (``xn--exmple-cua.se``), which every server understands. The domain is lower-cased; the
part before the ``@`` is kept as given.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from serviceguide.domain.errors import InvalidInput

#: The longest address SMTP can carry (RFC 5321's path limit less the angle brackets).
MAX_LENGTH = 254


def normalise_email(raw: str, *, field: str = "email") -> str:
    """The address to store for ``raw``, or :class:`InvalidInput` naming ``field`` and why."""
    text = raw.strip()
    if not text:
        raise InvalidInput(field, "Not a valid e-mail address: it is empty")
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as e:
        raise InvalidInput(field, f"Not a valid e-mail address: {e}") from None
    address = checked.ascii_email or checked.normalized
    if len(address) > MAX_LENGTH:
        raise InvalidInput(field, f"Not a valid e-mail address: longer than {MAX_LENGTH}")
    return address


def is_valid_email(raw: str) -> bool:
    try:
        normalise_email(raw)
    except InvalidInput:
        return False
    return True
