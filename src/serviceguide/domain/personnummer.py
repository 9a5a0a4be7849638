"""Swedish personal identity numbers (personnummer and samordningsnummer).

Stored and shown as 12 digits, ``YYYYMMDDNNNC``. Input may have 10 or 12 ASCII digits, with ``-``
or ``+`` before the last four; ``+`` in a 10-digit number means the person is 100 or older; spaces
anywhere are ignored. Digits of other scripts (full-width "１", Arabic-Indic "١") are refused: they
would be stored as they came and match nothing.

:func:`spans_in` finds, in free text, everything this parser would accept (and the same in any
script's digits), so that logs can mask every spelling of a number, not only the usual ones.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from serviceguide.domain.errors import InvalidInput

_FORM = re.compile(r"^([0-9]{2})?([0-9]{6})([-+]?)([0-9]{4})$")


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


# -- finding numbers in free text (log masking) ---------------------------------------------

#: Runs of digits (of any script), spaces, ``-`` and ``+``: where a number could be written.
_RUN = re.compile(r"\d[\d +\-]*")
_GROUP = re.compile(r"\d+")


def _ascii_digits(text: str) -> str:
    if text.isascii():
        return text
    return "".join(str(unicodedata.digit(c)) if c.isdecimal() else c for c in text)


def spans_in(text: str, *, today: date | None = None) -> list[tuple[int, int]]:
    """``(start, end)`` of every stretch of ``text`` that :func:`normalise` would accept
    (whatever spaces, ``-`` or ``+`` it has, in any script's digits), and that is not part of a
    longer number. Stretches start and end on whole groups of digits."""
    found: list[tuple[int, int]] = []
    for run in _RUN.finditer(text):
        if len(run[0]) < 10:
            continue
        groups = [(m.start() + run.start(), m.end() + run.start()) for m in _GROUP.finditer(run[0])]
        if sum(end - start for start, end in groups) < 10:
            continue
        today = today or date.today()
        for i, (start, _) in enumerate(groups):
            if found and start < found[-1][1]:
                continue
            digits = 0
            for start_j, end_j in groups[i:]:
                digits += end_j - start_j
                if digits > 12:
                    break
                if digits in (10, 12):
                    try:
                        normalise(_ascii_digits(text[start:end_j]), today=today)
                    except InvalidInput:
                        continue
                    found.append((start, end_j))
                    break
    return found


def mask_in(text: str, mask: str = "***") -> str:
    """``text`` with every personnummer :func:`spans_in` finds replaced by ``mask``."""
    spans = spans_in(text)
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], mask]
        last = end
    out.append(text[last:])
    return "".join(out)
