"""Swedish personal identity numbers (personnummer and samordningsnummer).

Stored and shown as 12 digits, ``YYYYMMDDNNNC``. Input may have 10 or 12 digits, with ``-`` or
``+`` before the last four; ``+`` in a 10-digit number means the person is 100 or older.
"""

from __future__ import annotations

import re
from datetime import date

from serviceguide.domain.errors import InvalidInput

_FORM = re.compile(r"^(\d{2})?(\d{6})([-+]?)(\d{4})$")


def luhn_ok(digits: str) -> bool:
    """The check digit rule over the 10 digits ``YYMMDDNNNC``."""
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def normalise(raw: str, *, today: date | None = None, field: str = "serial") -> str:
    """Return the 12-digit form of ``raw`` or raise :class:`InvalidInput` naming the problem."""
    text = raw.strip().replace(" ", "")
    m = _FORM.match(text)
    if not m:
        raise InvalidInput(field, "Personnummer must be 10 or 12 digits, e.g. 19700101-1234")
    century, yymmdd, sep, last4 = m.groups()
    today = today or date.today()
    if century is None:
        yy = int(yymmdd[:2])
        candidate = (today.year // 100) * 100 + yy
        if candidate > today.year:
            candidate -= 100
        if sep == "+":
            candidate -= 100
        year = candidate
    else:
        year = int(century + yymmdd[:2])
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    if day > 60:  # samordningsnummer: day + 60
        day -= 60
    try:
        born = date(year, month, day)
    except ValueError:
        raise InvalidInput(field, "Personnummer does not hold a valid date of birth") from None
    if born > today:
        raise InvalidInput(field, "Personnummer has a date of birth in the future")
    if not luhn_ok(yymmdd + last4):
        raise InvalidInput(field, "Personnummer check digit is wrong")
    return f"{year:04d}{yymmdd[2:]}{last4}"


def is_valid(raw: str) -> bool:
    try:
        normalise(raw)
    except InvalidInput:
        return False
    return True


def with_check_digit(nine: str) -> str:
    """Append the check digit to 9 digits ``YYMMDDNNN`` (for demo data and tests)."""
    for c in "0123456789":
        if luhn_ok(nine + c):
            return nine + c
    raise AssertionError("unreachable: one digit always fits")


def masked(serial: str) -> str:
    """``19700101-****``: for lists and anything that is not the single place showing it."""
    return f"{serial[:8]}-****" if len(serial) == 12 else "****"
