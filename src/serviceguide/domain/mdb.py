"""The Marknadsdatabasen (MdB2) access record: its file layout and the rules for one row.

A KO loads its network's accesses as a CSV (comma) or TAB file with a header row of the MdB2
column names, in UTF-8 or (files from older systems) Latin-1/Windows-1252. Every row is checked
on its own: a valid row is imported, an invalid one is reported with its line number, the field
and the reason, and skipped. docs/marketdb.md describes the format for the KO.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter
from pathlib import PurePath
from typing import NamedTuple

from serviceguide.domain.catalogue import ACCESS_ID, POSTAL_CODE, PremisesType, postal_code
from serviceguide.domain.errors import InvalidInput

#: The MdB2 columns, in the order an export writes them.
COLUMNS: tuple[str, ...] = (
    "coId",
    "accessId",
    "streetName",
    "streetNumber",
    "streetLittera",
    "postalCode",
    "city",
    "countryCode",
    "premisesType",
    "mduApartmentNumber",
    "mduDistinguisher",
    "propertyUnitDesignation",
    "swerefType",
    "swerefNorth",
    "swerefEast",
)
#: A file without these columns cannot be imported at all; the others default to empty.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "accessId",
    "streetName",
    "streetNumber",
    "postalCode",
    "city",
    "premisesType",
)

STREET_NUMBER = re.compile(r"^[0-9]{1,6}(-[0-9]{1,6})?$")
LITTERA = re.compile(r"^[^\W_]{0,10}$")
APARTMENT_NUMBER = re.compile(r"^[0-9]{4}$")
COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
SWEREF_COORDINATE = re.compile(r"^[0-9]{1,8}(\.[0-9]{1,6})?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

#: Longest text each free-text field may hold (the columns of the ``accesses`` table).
MAX_LENGTH = {
    "streetName": 200,
    "streetLittera": 10,
    "city": 100,
    "mduDistinguisher": 100,
    "propertyUnitDesignation": 67,
    "swerefType": 20,
}
_PREMISES_TYPES = frozenset(PremisesType.__members__)


class MdbFormat(StrEnum):
    CSV = "csv"
    TAB = "tab"

    @property
    def delimiter(self) -> str:
        return "," if self is MdbFormat.CSV else "\t"


_EXTENSIONS = {".csv": MdbFormat.CSV, ".tab": MdbFormat.TAB, ".tsv": MdbFormat.TAB}


def guess_format(name: str | PurePath) -> MdbFormat | None:
    """CSV for ``.csv``, TAB for ``.tab``/``.tsv``/``.txt``; None when the name does not say."""
    suffix = PurePath(name).suffix.lower()
    if suffix == ".txt":
        return MdbFormat.TAB
    return _EXTENSIONS.get(suffix)


class AccessRow(NamedTuple):
    """One valid MdB2 row (the coId is the network's and not kept here).

    A named tuple rather than a dataclass: a million of them are made per import.
    """

    access_id: str
    street_name: str
    street_number: str
    street_littera: str
    postal_code: str
    city: str
    country_code: str
    premises_type: str
    mdu_apartment_number: str
    mdu_distinguisher: str
    property_unit_designation: str
    sweref_type: str
    sweref_north: str
    sweref_east: str

    def cells(self, coid: str) -> list[str]:
        """The row as written to a file, in ``COLUMNS`` order."""
        return [coid, *self]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one row of a file was not imported. ``field`` is an MdB2 column name, or ``row``."""

    line: int
    field: str
    reason: str
    access_id: str = ""


@dataclass(frozen=True, slots=True)
class Header:
    """Where each known column sits in the file's rows."""

    positions: dict[str, int]
    width: int
    ignored: tuple[str, ...] = ()

    @classmethod
    def parse(cls, cells: Sequence[str]) -> Header:
        """Read a header row; column names match case-insensitively, in any order.

        Raises InvalidInput for a missing required column or a column named twice, since no
        row of such a file can be read correctly.
        """
        canonical = {c.lower(): c for c in COLUMNS}
        positions: dict[str, int] = {}
        ignored: list[str] = []
        for i, raw in enumerate(cells):
            name = canonical.get(raw.strip().lstrip("\ufeff").lower())
            if name is None:
                if raw.strip():
                    ignored.append(raw.strip())
                continue
            if name in positions:
                raise InvalidInput("header", f"column {name} appears twice in the header row")
            positions[name] = i
        missing = [c for c in REQUIRED_COLUMNS if c not in positions]
        if missing:
            shown = ", ".join(c.strip() for c in cells[:20])
            raise InvalidInput(
                "header",
                f"the header row lacks the column(s) {', '.join(missing)} "
                f"(found: {shown or 'nothing'}); is the format (CSV or TAB) right?",
            )
        return cls(positions, len(cells), tuple(ignored))


def _text(most: int, least: int = 0) -> str:
    return f"[^\\x00-\\x1f\\x7f\\ufffd]{{{least},{most}}}"


class FirstLines:
    """accessId → the line it was first named on, for a million rows in little memory.

    A dict of a million accessIds holds about 120 MB; this table keeps only a 64-bit hash and a
    line number per accessId (20 bytes a slot, 24 MB for a million), in two arrays with open
    addressing. The price: two different accessIds of one file whose hashes (Python's per-process
    string hash) are equal would be taken for one, a chance of about 1 in 40 million for a
    million rows. Use a dict where the names themselves are needed (``RowChecker.named``).
    """

    _MASK = (1 << 64) - 1

    def __init__(self) -> None:
        self._size = 1 << 16
        self._hashes = array("Q", bytes(8 * self._size))
        self._lines = array("I", bytes(4 * self._size))
        self._count = 0

    def _slot(self, h: int) -> int:
        hashes, mask = self._hashes, self._size - 1
        i = h & mask
        while True:
            k = hashes[i]
            if k == 0 or k == h:
                return i
            i = (i + 1) & mask

    @classmethod
    def _hash(cls, access_id: str) -> int:
        return (hash(access_id) & cls._MASK) or 1

    def __contains__(self, access_id: object) -> bool:
        return isinstance(access_id, str) and self._hashes[self._slot(self._hash(access_id))] != 0

    def __getitem__(self, access_id: str) -> int:
        i = self._slot(self._hash(access_id))
        if self._hashes[i] == 0:
            raise KeyError(access_id)
        return self._lines[i]

    def __setitem__(self, access_id: str, line: int) -> None:
        h = self._hash(access_id)
        i = self._slot(h)
        if self._hashes[i] == 0:
            self._count += 1
        self._hashes[i], self._lines[i] = h, line
        if self._count * 10 > self._size * 7:
            self._grow()

    def _grow(self) -> None:
        old = zip(self._hashes, self._lines, strict=True)
        self._size *= 2
        self._hashes = array("Q", bytes(8 * self._size))
        self._lines = array("I", bytes(4 * self._size))
        for h, line in old:
            if h:
                i = self._slot(h)
                self._hashes[i], self._lines[i] = h, line


class RowChecker:
    """Checks the rows of one file in order; remembers accessIds to reject duplicates.

    A row is first matched as a whole against one regular expression (fast, and almost every
    row of a real file passes); only a row that fails is taken apart field by field to say why.
    """

    def __init__(self, header: Header, coid: str, *, keep_names: bool = True) -> None:
        """``keep_names``: keep the accessIds themselves (``named``, for an import that retires
        what the file does not name); without, a compact table (:class:`FirstLines`)."""
        self.header = header
        self.coid = coid
        self._first_line: dict[str, int] | FirstLines = {} if keep_names else FirstLines()
        missing = header.width  # index of the "" appended to every row for absent columns
        self._pick = itemgetter(*(header.positions.get(c, missing) for c in COLUMNS))
        premises = "|".join(PremisesType)
        fields = (
            f"(?:{re.escape(coid)})?",
            "[-0-9a-zA-Z.]{1,36}",
            _text(MAX_LENGTH["streetName"], 1),
            "[0-9]{1,6}(?:-[0-9]{1,6})?",
            f"[^\\W_]{{0,{MAX_LENGTH['streetLittera']}}}",
            "[1-9][0-9]{4}",
            _text(MAX_LENGTH["city"], 1),
            "(?:[A-Z]{2})?",
            f"(?:{premises})",
            "(?:[0-9]{4})?",
            _text(MAX_LENGTH["mduDistinguisher"]),
            _text(MAX_LENGTH["propertyUnitDesignation"]),
            _text(MAX_LENGTH["swerefType"]),
            "(?:[0-9]{1,8}(?:\\.[0-9]{1,6})?)?",
            "(?:[0-9]{1,8}(?:\\.[0-9]{1,6})?)?",
        )
        self._valid = re.compile("\\x00".join(fields))

    def check(self, line: int, cells: Sequence[str]) -> AccessRow | list[Rejection]:
        """A valid row, or every reason it is not one."""
        if len(cells) != self.header.width:
            return [
                Rejection(line, "row", f"expected {self.header.width} fields, found {len(cells)}")
            ]
        v = list(map(str.strip, self._pick([*cells, ""])))
        if " " in v[5]:  # "123 45", as postal codes are written
            v[5] = postal_code(v[5])
        access_id = v[1]
        if self._valid.fullmatch("\x00".join(v)) and access_id not in self._first_line:
            self._first_line[access_id] = line
            return AccessRow(
                access_id, v[2], v[3], v[4], v[5], v[6], v[7] or "SE", v[8], v[9], v[10], v[11],
                v[12], v[13], v[14],
            )  # fmt: skip
        return self._reasons(line, dict(zip(COLUMNS, v, strict=True)))

    @property
    def named(self) -> Collection[str]:
        """Every accessId the rows checked so far name, imported or not (a rejected row that
        names a valid accessId names it too). Only with ``keep_names``."""
        if isinstance(self._first_line, FirstLines):
            raise RuntimeError("the checker keeps no names (keep_names=False)")
        return self._first_line.keys()

    def _reasons(self, line: int, v: dict[str, str]) -> list[Rejection]:
        access_id = v["accessId"]
        problems: list[Rejection] = []

        def bad(name: str, reason: str) -> None:
            problems.append(Rejection(line, name, reason, access_id))

        for name, value in v.items():
            if "\ufffd" in value:
                bad(name, "holds a character that cannot be read (not UTF-8, nor Windows-1252)")
            elif _CONTROL.search(value):
                bad(name, "contains a control character (tab, newline, …)")
        coid = v["coId"]
        if coid and coid != self.coid:
            bad("coId", f"coId {coid!r} is not the network being imported ({self.coid})")
        if not ACCESS_ID.match(access_id):
            bad("accessId", f"{access_id!r} is not 1-36 of 0-9 a-z A-Z - .")
        elif access_id in self._first_line:
            first = self._first_line[access_id]
            bad("accessId", f"duplicate accessId {access_id}, first on line {first}")
        else:
            # Also when the row is rejected for another reason: a file that names an access
            # twice is ambiguous, and the later row must not silently win.
            self._first_line[access_id] = line
        for name in ("streetName", "city"):
            if not v[name]:
                bad(name, f"{name} is required")
        number = v["streetNumber"]
        if not STREET_NUMBER.match(number):
            bad("streetNumber", f"{number!r} is not a street number like 10 or 652-16")
        littera = v["streetLittera"]
        if not LITTERA.match(littera):
            bad("streetLittera", f"{littera!r} is not letters or digits")
        postal = v["postalCode"]
        if not POSTAL_CODE.match(postal):
            bad("postalCode", f"{postal!r} is not a postal code (5 digits, not starting with 0)")
        country = v["countryCode"]
        if country and not COUNTRY_CODE.match(country):
            bad("countryCode", f"{country!r} is not a country code of two capital letters, like SE")
        premises = v["premisesType"]
        if premises not in _PREMISES_TYPES:
            bad("premisesType", f"{premises!r} is not one of {', '.join(PremisesType)}")
        apartment = v["mduApartmentNumber"]
        if apartment and not APARTMENT_NUMBER.match(apartment):
            bad("mduApartmentNumber", f"{apartment!r} is not empty or 4 digits")
        for name in ("swerefNorth", "swerefEast"):
            coordinate = v[name]
            if coordinate and not SWEREF_COORDINATE.match(coordinate):
                bad(name, f"{coordinate!r} is not a SWEREF 99 coordinate in metres")
        for name, most in MAX_LENGTH.items():
            if len(v[name]) > most:
                bad(name, f"is longer than {most} characters")
        if not problems:  # cannot happen while the two checks agree; never import unchecked
            bad("row", "is not a valid MdB2 row")
        return problems
