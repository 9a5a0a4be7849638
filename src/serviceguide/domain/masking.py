"""Finding a customer's personal data in free text and in stored copies of mails, and masking it.

What is looked for: the customer's names, e-mail address, phone number and personnummer (in
each of the ways it is written), as whole words, case-insensitively. Each is replaced by
``***``. A mail is masked part by part, decoded first: its headers, and each text part in its
own transfer encoding (quoted-printable, base64), with HTML's escaped forms of each text too.
"""

from __future__ import annotations

import email
import html
import re
from collections.abc import Iterable
from email import policy
from email.message import EmailMessage
from typing import Protocol

from serviceguide.domain import personnummer
from serviceguide.domain.errors import InvalidInput

MASK = "***"


class PersonalFields(Protocol):
    firstname: str
    surname: str
    email: str
    phone: str
    serial: str


def tokens_of(customer: PersonalFields) -> list[str]:
    """What of the customer may stand in free text: names, e-mail, phone, personnummer (12 and
    10 digits, with and without the dash). Longest first, so that a longer match wins."""
    serial = customer.serial or ""
    tokens = [customer.firstname, customer.surname, customer.email, customer.phone]
    if len(serial) == 12:
        tokens += [serial, serial[2:], f"{serial[2:8]}-{serial[8:]}", f"{serial[:8]}-{serial[8:]}"]
    return sorted({t.strip() for t in tokens if t and len(t.strip()) >= 2}, key=len, reverse=True)


def _pattern(tokens: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = [rf"(?<!\w){re.escape(t)}(?!\w)" for t in tokens]
    return re.compile("|".join(alternatives), flags=re.IGNORECASE) if alternatives else None


def mask_text(text: str, tokens: list[str], serial: str = "") -> str:
    """``text`` with each token replaced by ``***`` (whole words, any case); with ``serial``
    (12 digits), also that personnummer however it is written (spaces, dashes, 10 digits)."""
    pattern = _pattern(tokens)
    if pattern is not None:
        text = pattern.sub(MASK, text)
    if len(serial) != 12:
        return text
    out, last = [], 0
    for start, end in personnummer.spans_in(text):
        try:
            same = personnummer.normalise(text[start:end].replace(" ", "")) == serial
        except InvalidInput:
            same = False
        if same:
            out += [text[last:start], MASK]
            last = end
    return "".join([*out, text[last:]])


def mask_message(data: bytes, tokens: list[str], serial: str = "") -> bytes | None:
    """The stored mail ``data`` with the tokens (and ``serial``, as :func:`mask_text` does)
    masked in its headers and text parts, or None when none of them occurs in it."""
    if not tokens:
        return None
    msg = email.message_from_bytes(data, _class=EmailMessage, policy=policy.default)
    escaped = {html.escape(t) for t in tokens}  # &#x27; for ', as the stdlib writes it
    escaped |= {e.replace("&#x27;", "&#39;") for e in escaped}  # as Jinja's autoescape does
    in_html = sorted({*tokens, *escaped}, key=len, reverse=True)
    changed = False
    for part in msg.walk():
        for name, value in list(part.items()):
            masked = mask_text(str(value), tokens, serial)
            if masked != str(value):
                part.replace_header(name, masked)
                changed = True
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        assert isinstance(part, EmailMessage)
        text = part.get_content()
        subtype = part.get_content_subtype()
        masked = mask_text(text, in_html if subtype == "html" else tokens, serial)
        if masked != text:
            # set_content writes the part's Content-* headers anew; others (none in our mails)
            # would be dropped, which for a masked copy is no loss.
            part.set_content(masked, subtype=subtype, cte="quoted-printable")
            changed = True
    return msg.as_bytes() if changed else None
