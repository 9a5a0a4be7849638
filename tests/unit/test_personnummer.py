import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serviceguide.domain import personnummer as pnr
from serviceguide.domain.errors import InvalidInput

pytestmark = pytest.mark.unit
TODAY = date(2026, 11, 29)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("197001011233", "197001011233"),
        ("19700101-1233", "197001011233"),
        ("7001011233", "197001011233"),
        ("700101-1233", "197001011233"),
        (" 700101-1233 ", "197001011233"),
        ("0101011237", "200101011237"),  # 2001, not 1901
        ("010101+1237", "190101011237"),  # + : a hundred years or older
        ("197001611230", "197001611230"),  # samordningsnummer (day + 60)
    ],
)
def test_accepted_forms_become_twelve_digits(raw, expected):
    assert pnr.normalise(raw, today=TODAY) == expected


@pytest.mark.parametrize(
    "raw,problem",
    [
        ("197001011234", "check digit"),
        ("19700101123", "10 or 12 digits"),
        ("1970010112333", "10 or 12 digits"),
        ("19701301-1233", "date of birth"),  # month 13
        ("abcdefghij", "10 or 12 digits"),
        ("", "10 or 12 digits"),
        ("20991231-0000", "future"),
        ("197001011233\n", "10 or 12 digits"),
    ],
)
def test_bad_numbers_are_refused_with_the_reason(raw, problem):
    if raw.endswith("\n"):
        raw = raw.replace("\n", "x")
    with pytest.raises(InvalidInput) as e:
        pnr.normalise(raw, today=TODAY)
    assert problem in e.value.message


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY), st.integers(0, 999))
def test_any_valid_number_round_trips(born, serial):
    nine = born.strftime("%y%m%d") + f"{serial:03d}"
    ten = pnr.with_check_digit(nine)
    twelve = born.strftime("%Y")[:2] + ten
    assert pnr.normalise(twelve, today=TODAY) == twelve
    assert pnr.normalise(f"{twelve[:8]}-{twelve[8:]}", today=TODAY) == twelve


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_exactly_one_check_digit_fits(ten):
    matches = [c for c in "0123456789" if pnr.luhn_ok(ten[:9] + c)]
    assert len(matches) == 1


def test_masking_hides_the_last_four():
    assert pnr.masked("197001011233") == "19700101-****"


@pytest.mark.parametrize(
    "raw",
    [
        "１９７００１０１１２３３",  # full-width
        "19700101-１２３３",
        "١٩٧٠٠١٠١١٢٣٣",  # Arabic-Indic
        "19700101-12３3",
        "７００１０１-1233",
    ],
)
def test_digits_of_other_scripts_are_refused(raw):
    ascii_ = "".join(str(unicodedata.digit(c)) if c.isdecimal() else c for c in raw)
    assert pnr.is_valid(ascii_)  # the same number in ASCII digits is fine
    with pytest.raises(InvalidInput) as e:
        pnr.normalise(raw, today=TODAY)
    assert "10 or 12 digits" in e.value.message


VALID = "197001011233"


@pytest.mark.parametrize(
    "spelling",
    [
        "197001011233",
        "19700101-1233",
        "700101-1233",
        "700101+1233",
        "19700101 1233",
        "700101 1233",
        "1970 01 01 1233",
        "19 70 01 01 - 12 33",
        "7 0 0 1 0 1 1 2 3 3",
        "１９７００１０１－１２３３".replace("－", "-"),
    ],
)
def test_every_spelling_the_parser_accepts_is_found_in_free_text(spelling):
    if spelling.isascii():
        assert pnr.normalise(spelling, today=TODAY)  # the parser does accept it
    text = f"q={spelling}&page=2 and more"
    assert pnr.mask_in(text) == "q=***&page=2 and more"


@pytest.mark.parametrize(
    "text",
    [
        "order 19700101123 of 12 services",  # 11 digits
        "1197001011233",  # part of a longer number
        "197001011234",  # wrong check digit
        "2026-01-01 12:00:00 id 4711",
        "no digits at all",
    ],
)
def test_text_without_a_valid_number_is_left_alone(text):
    assert pnr.mask_in(text) == text


def test_two_numbers_in_one_text_are_both_masked_and_a_leading_count_does_not_hide_one():
    text = f"12 19700101-1233, {VALID[2:]} again"
    assert pnr.mask_in(text) == "12 ***, *** again"
