"""Normalising Swedish addresses for search, and reading a free-text address query.

One set of rules serves both sides: the search keys stored with every access and the keys a
query is turned into, so that whatever the customer types is compared like with like.

- Case and accents fold away: "Östra Ågatan" → ``ostra agatan`` (å ä → a, ö → o, é → e, …).
- Anything that is not a letter or digit separates words; runs of spacing collapse to one space.
- The abbreviations "g." and "v." at the end of a word expand: "Demog." → ``demogatan``,
  "Skolv." → ``skolvagen``. Without the dot the word is simply a prefix, which finds the same.
- A street number becomes a sort key: every digit run zero-padded to six, the littera
  appended in lower case: "652-16" → ``000652-000016``, "7" + "B" → ``000007b``.
- A query's number is the start of a number, as typed so far: "1" finds 1, 1A, 10–19 and
  100–199 (the keys starting ``000001``, ``00001``, ``0001``, …), the number itself first. A
  littera, with or without a space before it, finds that littera and the bare number too:
  "123 a" and "123a" find 123 A and 123 (the letter may be the start of a littera still to be
  checked on the door, or a typing habit).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache

#: Greater than every character a key can hold: ``key >= p AND key < p + KEY_END`` is "starts
#: with p". Keys hold only ``[a-z0-9 -]``.
KEY_END = "~"

_NON_DECOMPOSING = str.maketrans({"æ": "ae", "ø": "o", "œ": "oe", "ß": "ss", "đ": "d", "ł": "l"})
_WORD = re.compile(r"[a-z]+\.?|[0-9]+")
_DIGITS = re.compile(r"[0-9]+")
_QUERY_TOKEN = re.compile(r"[0-9]+(?:-[0-9]+)?|[a-z]+\.?|,")


def fold(text: str) -> str:
    """Lower case, accents removed, only ASCII left: "Östra Ågatan" → "ostra agatan"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_NON_DECOMPOSING))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _expand(word: str) -> str:
    if word.endswith("g."):
        return word[:-2] + "gatan"
    if word.endswith("v."):
        return word[:-2] + "vagen"
    return word.rstrip(".")


@lru_cache(maxsize=65536)
def street_key(street_name: str) -> str:
    """The search key of a street name: "Östra Ågatan" → "ostra agatan", "Demog." → "demogatan"."""
    return " ".join(_expand(w) for w in _WORD.findall(fold(street_name)))


@lru_cache(maxsize=16384)
def city_key(city: str) -> str:
    """The search key of a city (or any other words): folded, single-spaced."""
    return " ".join(w.rstrip(".") for w in _WORD.findall(fold(city)))


@lru_cache(maxsize=65536)
def number_key(street_number: str, littera: str = "") -> str:
    """Sort and search key of a street number with its littera: ("7", "B") → "000007b"."""
    number = _DIGITS.sub(lambda m: m.group().zfill(6), fold(street_number))
    number = re.sub(r"[^0-9-]", "", number)
    return number + re.sub(r"[^a-z0-9]", "", fold(littera))


@dataclass(frozen=True, slots=True)
class AddressQuery:
    """What a free-text address query asks for; every part may be empty.

    ``street`` and ``city`` are key prefixes; ``number`` is a prefix of the number key;
    ``postal_code`` is five digits, or fewer when only the start of one was typed.
    """

    street: str = ""
    number: str = ""
    #: More numbers that match besides those starting with ``number``: (key, True) for a key
    #: itself, (key, False) for the keys starting with it.
    number_also: tuple[tuple[str, bool], ...] = ()
    postal_code: str = ""
    city: str = ""
    #: The words could name a city as well as a street: no number, postal code or comma.
    street_may_be_city: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.street or self.postal_code or self.city)

    @property
    def postal_is_prefix(self) -> bool:
        return 0 < len(self.postal_code) < 5

    def with_last_word_as_city(self) -> AddressQuery | None:
        """ "Storgatan Uppsala": the same query with its last street word read as the city."""
        words = self.street.split(" ")
        if self.city or len(words) < 2:
            return None
        return replace(self, street=" ".join(words[:-1]), city=words[-1], street_may_be_city=False)


def _is_postal(token: str) -> bool:
    return len(token) == 5 and token.isdigit() and token[0] != "0"


def _is_split_postal(tokens: list[str], i: int) -> bool:
    """ "123 45": three digits and then two, starting with 1-9."""
    return (
        i + 1 < len(tokens)
        and len(tokens[i]) == 3
        and tokens[i].isdigit()
        and tokens[i][0] != "0"
        and len(tokens[i + 1]) == 2
        and tokens[i + 1].isdigit()
    )


def _also(number_text: str, littera: str) -> tuple[tuple[str, bool], ...]:
    """The other numbers a typed number finds (see the module's docstring)."""
    if not number_text.isdigit() or len(number_text) >= 6:
        return ()
    if littera:
        return ((number_key(number_text), True),)
    return tuple(("0" * (6 - n) + number_text, False) for n in range(len(number_text) + 1, 7))


def parse_query(text: str) -> AddressQuery:
    """Read "Demog. 123 B, 123 45 Demostad" as street, number, postal code and city.

    The street is the words before the first number or comma; a single letter right after
    the number is its littera; five digits (or "123 45") are a postal code; words after the
    number, the postal code or a comma are the city. A query of only digits is (the start
    of) a postal code. Characters that are neither letters nor digits only separate words,
    so SQL or LIKE wildcards in the query are never wildcards.
    """
    tokens = _QUERY_TOKEN.findall(fold(text))
    if not tokens:
        return AddressQuery()
    if all(t.isdigit() for t in tokens):
        digits = "".join(tokens)
        if 3 <= len(digits) <= 5 and digits[0] != "0" and len(tokens) <= 2:
            return AddressQuery(postal_code=digits)
        return AddressQuery()

    i, n = 0, len(tokens)
    street: list[str] = []
    while i < n and tokens[i][0].isalpha():
        street.append(_expand(tokens[i]))
        i += 1
    number = postal = ""
    number_also: tuple[tuple[str, bool], ...] = ()
    comma = False
    if i < n and tokens[i] == ",":
        comma = True
        i += 1
    elif i < n and street:
        if _is_postal(tokens[i]):
            postal, i = tokens[i], i + 1
        else:
            number_text, i = tokens[i], i + 1
            littera = ""
            if i < n and len(tokens[i]) == 1 and tokens[i].isalpha():
                littera, i = tokens[i], i + 1
            number = number_key(number_text, littera)
            number_also = _also(number_text, littera)
    city: list[str] = []
    while i < n:
        part = tokens[i]
        if part == ",":
            comma = True
        elif not postal and _is_postal(part):
            postal = part
        elif not postal and _is_split_postal(tokens, i):
            postal, i = part + tokens[i + 1], i + 1
        elif part[0].isalpha():
            city.append(part.rstrip("."))
        i += 1
    return AddressQuery(
        street=" ".join(street),
        number=number,
        number_also=number_also,
        postal_code=postal,
        city=" ".join(city),
        street_may_be_city=bool(street) and not (number or postal or comma or city),
    )


def format_address(
    street_name: str, street_number: str, street_littera: str, postal_code: str, city: str
) -> str:
    """ "Demogatan 123B, 12345 Demostad"."""
    return f"{street_name} {street_number}{street_littera}, {postal_code} {city}"
