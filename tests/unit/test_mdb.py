"""MdB2 rows: the header, every rule of a row, and the address normalisation behind search."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serviceguide.domain.addresses import (
    city_key,
    fold,
    number_key,
    parse_query,
    street_key,
)
from serviceguide.domain.catalogue import PremisesType, postal_code
from serviceguide.domain.errors import InvalidInput
from serviceguide.domain.mdb import (
    COLUMNS,
    AccessRow,
    Header,
    MdbFormat,
    Rejection,
    RowChecker,
    guess_format,
)

pytestmark = pytest.mark.unit

GOOD = {
    "coId": "KOA",
    "accessId": "AB-123.x",
    "streetName": "Östra Ågatan",
    "streetNumber": "652-16",
    "streetLittera": "B",
    "postalCode": "75320",
    "city": "Uppsala",
    "countryCode": "SE",
    "premisesType": "RENTAL_APARTMENT",
    "mduApartmentNumber": "1102",
    "mduDistinguisher": "Uppgång 2",
    "propertyUnitDesignation": "Uppsala Kvarngärdet 1:23",
    "swerefType": "SWEREF99TM",
    "swerefNorth": "6638532.5",
    "swerefEast": "648012",
}


def checker(coid: str = "KOA", columns: tuple[str, ...] = COLUMNS) -> RowChecker:
    return RowChecker(Header.parse(list(columns)), coid)


def cells(columns: tuple[str, ...] = COLUMNS, **changes: str) -> list[str]:
    values = {**GOOD, **changes}
    return [values[c] for c in columns]


def problems(**changes: str) -> list[Rejection]:
    result = checker().check(7, cells(**changes))
    assert isinstance(result, list), f"expected a rejection, got {result}"
    return result


def fields_of(rejections: list[Rejection]) -> set[str]:
    return {r.field for r in rejections}


# --- the header ------------------------------------------------------------------------------


def test_a_header_with_every_mdb2_column_is_read():
    header = Header.parse(list(COLUMNS))
    assert header.positions == {c: i for i, c in enumerate(COLUMNS)}
    assert header.width == len(COLUMNS)
    assert header.ignored == ()


def test_header_names_match_in_any_case_and_order_and_after_a_bom():
    names = ["\ufeffACCESSID", " city ", "postalcode", "StreetNumber", "streetname", "premisesType"]
    header = Header.parse(names)
    assert header.positions["accessId"] == 0
    assert header.positions["city"] == 1
    assert header.positions["streetName"] == 4


def test_unknown_columns_are_ignored_and_listed():
    header = Header.parse([*COLUMNS, "comment"])
    assert header.ignored == ("comment",)
    row = RowChecker(header, "KOA").check(2, [*cells(), "anything"])
    assert isinstance(row, AccessRow)


def test_a_header_without_a_required_column_cannot_be_imported():
    with pytest.raises(InvalidInput, match="postalCode"):
        Header.parse([c for c in COLUMNS if c != "postalCode"])


def test_a_tab_file_read_as_csv_is_refused_with_a_hint():
    with pytest.raises(InvalidInput, match="CSV or TAB"):
        Header.parse(["\t".join(COLUMNS)])


def test_a_column_named_twice_is_refused():
    with pytest.raises(InvalidInput, match="twice"):
        Header.parse([*COLUMNS, "city"])


def test_optional_columns_may_be_left_out_and_are_empty():
    columns = ("accessId", "streetName", "streetNumber", "postalCode", "city", "premisesType")
    row = checker(columns=columns).check(2, cells(columns))
    assert isinstance(row, AccessRow)
    assert row.street_littera == ""
    assert row.mdu_apartment_number == ""
    assert row.country_code == "SE"
    assert row.sweref_north == ""


# --- a valid row -----------------------------------------------------------------------------


def test_a_valid_row_becomes_an_access_row_with_every_field():
    row = checker().check(2, cells())
    assert row == AccessRow(
        access_id="AB-123.x",
        street_name="Östra Ågatan",
        street_number="652-16",
        street_littera="B",
        postal_code="75320",
        city="Uppsala",
        country_code="SE",
        premises_type="RENTAL_APARTMENT",
        mdu_apartment_number="1102",
        mdu_distinguisher="Uppgång 2",
        property_unit_designation="Uppsala Kvarngärdet 1:23",
        sweref_type="SWEREF99TM",
        sweref_north="6638532.5",
        sweref_east="648012",
    )


def test_an_access_row_writes_back_the_cells_it_came_from():
    row = checker().check(2, cells())
    assert isinstance(row, AccessRow)
    assert row.cells("KOA") == cells()


def test_spaces_around_values_are_trimmed():
    row = checker().check(2, [f"  {c} " for c in cells()])
    assert isinstance(row, AccessRow)
    assert row.street_name == "Östra Ågatan"


def test_an_empty_coid_in_the_row_is_the_imported_network():
    assert isinstance(checker().check(2, cells(coId="")), AccessRow)


def test_an_empty_country_code_means_sweden():
    row = checker().check(2, cells(countryCode=""))
    assert isinstance(row, AccessRow)
    assert row.country_code == "SE"


@pytest.mark.parametrize("number", ["1", "10", "652-16", "123456"])
def test_street_numbers_like_10_or_652_16_are_valid(number: str):
    assert isinstance(checker().check(2, cells(streetNumber=number)), AccessRow)


@pytest.mark.parametrize("ptype", list(PremisesType))
def test_every_mdb2_premises_type_is_valid(ptype: PremisesType):
    assert isinstance(checker().check(2, cells(premisesType=ptype.value)), AccessRow)


# --- every reason a row is rejected -----------------------------------------------------------


def test_a_row_with_the_wrong_number_of_fields_is_rejected():
    result = checker().check(9, cells()[:-1])
    assert result == [Rejection(9, "row", "expected 15 fields, found 14")]


def test_a_coid_other_than_the_imported_network_is_rejected():
    (p,) = problems(coId="KOB")
    assert (p.line, p.field, p.access_id) == (7, "coId", "AB-123.x")
    assert "KOB" in p.reason and "KOA" in p.reason


@pytest.mark.parametrize("access_id", ["", "AB 123", "AB_123", "å1", "x" * 37, "A/B"])
def test_an_access_id_outside_the_mdb2_pattern_is_rejected(access_id: str):
    assert fields_of(problems(accessId=access_id)) == {"accessId"}


def test_an_access_id_of_36_characters_is_accepted():
    assert isinstance(checker().check(2, cells(accessId="a" * 36)), AccessRow)


def test_a_repeated_access_id_is_rejected_with_the_line_of_the_first():
    check = checker().check
    assert isinstance(check(2, cells()), AccessRow)
    (p,) = check(5, cells(streetNumber="1"))  # type: ignore[misc]
    assert (p.line, p.field) == (5, "accessId")
    assert "first on line 2" in p.reason


def test_a_repeated_access_id_is_rejected_even_when_its_first_row_was_rejected():
    check = checker().check
    assert isinstance(check(2, cells(postalCode="0")), list)
    result = check(3, cells())
    assert isinstance(result, list)
    assert "first on line 2" in result[0].reason


@pytest.mark.parametrize("field", ["streetName", "city"])
def test_street_name_and_city_are_required(field: str):
    assert fields_of(problems(**{field: "  "})) == {field}


@pytest.mark.parametrize("number", ["", "10a", "1-", "-1", "abc", "10 B", "1234567", "1-2-3"])
def test_a_street_number_not_like_10_or_652_16_is_rejected(number: str):
    assert fields_of(problems(streetNumber=number)) == {"streetNumber"}


@pytest.mark.parametrize("littera", ["-", "A B", "a_b", "x" * 11])
def test_a_littera_that_is_not_letters_or_digits_is_rejected(littera: str):
    assert fields_of(problems(streetLittera=littera)) == {"streetLittera"}


@pytest.mark.parametrize(
    "postal", ["", "01234", "1234", "123456", "1234 5", "12 345", "123  45", "012 34", "1234a"]
)
def test_a_postal_code_must_be_five_digits_not_starting_with_zero(postal: str):
    assert fields_of(problems(postalCode=postal)) == {"postalCode"}


@pytest.mark.parametrize("postal", ["123 45", " 123 45 "])
def test_a_postal_code_written_with_a_space_is_stored_without_it(postal: str):
    found = checker().check(2, cells(postalCode=postal))
    assert isinstance(found, AccessRow)
    assert found.postal_code == "12345"


@pytest.mark.parametrize("country", ["se", "SWE", "S"])
def test_a_country_code_must_be_two_capital_letters(country: str):
    assert fields_of(problems(countryCode=country)) == {"countryCode"}


@pytest.mark.parametrize("ptype", ["", "MDU_APARTMENT", "residential_house", "UNKNOWN"])
def test_a_premises_type_outside_the_mdb2_values_is_rejected(ptype: str):
    (p,) = problems(premisesType=ptype)
    assert p.field == "premisesType"
    assert "RESIDENTIAL_HOUSE" in p.reason


@pytest.mark.parametrize("apartment", ["1", "123", "12345", "12a4", "1 02"])
def test_an_apartment_number_must_be_empty_or_four_digits(apartment: str):
    assert fields_of(problems(mduApartmentNumber=apartment)) == {"mduApartmentNumber"}


def test_a_property_unit_designation_may_hold_67_characters_but_not_68():
    assert isinstance(checker().check(2, cells(propertyUnitDesignation="x" * 67)), AccessRow)
    assert fields_of(problems(propertyUnitDesignation="x" * 68)) == {"propertyUnitDesignation"}


@pytest.mark.parametrize(
    ("field", "most"), [("streetName", 200), ("city", 100), ("mduDistinguisher", 100)]
)
def test_text_longer_than_its_column_is_rejected(field: str, most: int):
    assert isinstance(checker().check(2, cells(**{field: "x" * most})), AccessRow)
    assert fields_of(problems(**{field: "x" * (most + 1)})) == {field}


@pytest.mark.parametrize("coordinate", ["abc", "1,5", "-5", "123456789", "1.1234567"])
def test_a_sweref_coordinate_must_be_metres(coordinate: str):
    assert fields_of(problems(swerefNorth=coordinate)) == {"swerefNorth"}
    assert fields_of(problems(swerefEast=coordinate)) == {"swerefEast"}


def test_a_control_character_inside_a_value_is_rejected():
    (p,) = problems(city="Upp\tsala")
    assert p.field == "city"
    assert "control character" in p.reason


def test_bytes_that_could_not_be_decoded_reject_their_row():
    (p,) = problems(streetName="G\ufffdtan")
    assert p.field == "streetName"
    assert p.reason == "holds a character that cannot be read (not UTF-8, nor Windows-1252)"


def test_every_problem_of_a_row_is_reported():
    found = problems(postalCode="0", premisesType="HOUSE", mduApartmentNumber="1")
    assert fields_of(found) == {"postalCode", "premisesType", "mduApartmentNumber"}
    assert {p.line for p in found} == {7}


_text = st.text(st.characters(codec="utf-8"), max_size=12)


@given(st.dictionaries(st.sampled_from(COLUMNS), _text, min_size=1, max_size=5))
def test_a_row_is_accepted_exactly_when_no_rule_is_broken(changes: dict[str, str]):
    """The fast whole-row check and the field-by-field explanation never disagree."""
    result = checker().check(3, cells(**changes))
    if isinstance(result, list):
        assert result
        assert all(r.reason != "is not a valid MdB2 row" for r in result), result
    else:
        assert (
            result.cells("KOA")[1:]
            == [
                postal_code(v)
                if c == "postalCode"
                else v.strip() or ("SE" if c == "countryCode" else "")
                for c, v in zip(COLUMNS, cells(**changes), strict=True)
            ][1:]
        )


# --- formats ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("mdb.csv", MdbFormat.CSV),
        ("MDB.CSV", MdbFormat.CSV),
        ("mdb.tab", MdbFormat.TAB),
        ("mdb.tsv", MdbFormat.TAB),
        ("mdb.txt", MdbFormat.TAB),
        ("mdb.xlsx", None),
        ("mdb", None),
    ],
)
def test_the_format_is_guessed_from_the_extension(name: str, fmt: MdbFormat | None):
    assert guess_format(name) == fmt


# --- address normalisation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Östra Ågatan", "ostra agatan"),
        ("ÖSTRA   ÅGATAN ", "ostra agatan"),
        ("Demog.", "demogatan"),
        ("Skolv.", "skolvagen"),
        ("S:t Eriksgatan", "s t eriksgatan"),
        ("Anna-Lisas väg", "anna lisas vag"),
        ("Rue Céline", "rue celine"),
        ("Æblevej", "aeblevej"),
        ("100% Gatan", "100 gatan"),
    ],
)
def test_street_names_are_folded_to_a_search_key(text: str, key: str):
    assert street_key(text) == key


def test_a_city_key_is_folded_like_a_street():
    assert city_key(" Upplands  Väsby ") == "upplands vasby"


@pytest.mark.parametrize(
    ("number", "littera", "key"),
    [
        ("7", "", "000007"),
        ("7", "B", "000007b"),
        ("652-16", "", "000652-000016"),
        ("10", "a", "000010a"),
    ],
)
def test_street_numbers_become_zero_padded_sort_keys(number: str, littera: str, key: str):
    assert number_key(number, littera) == key


@given(st.integers(0, 999_999), st.integers(0, 999_999))
def test_number_keys_sort_like_the_numbers(a: int, b: int):
    assert (number_key(str(a)) < number_key(str(b))) == (a < b)


@given(st.integers(1, 99_999), st.sampled_from(["", "A", "b"]))
def test_a_number_alone_is_a_prefix_of_the_number_with_any_littera(n: int, littera: str):
    assert number_key(str(n), littera).startswith(number_key(str(n)))
    assert not number_key(str(n * 10), littera).startswith(number_key(str(n)))


_street_words = st.lists(
    st.text("abcdefghijklmnopqrstuvwxyzåäöÅÄÖÉé", min_size=1, max_size=10), min_size=1, max_size=3
)


@given(_street_words, st.sampled_from(["", " ", "  "]))
def test_a_query_of_a_street_name_reads_as_that_streets_key(words: list[str], pad: str):
    name = " ".join(words)
    q = parse_query(f"{pad}{name.upper()}{pad}")
    assert q.street == street_key(name)
    assert q.number == ""


@given(st.text(max_size=40))
def test_a_key_is_only_lower_case_ascii_letters_digits_spaces_and_dashes(text: str):
    for key in (street_key(text), city_key(text), number_key(text)):
        assert set(key) <= set("abcdefghijklmnopqrstuvwxyz0123456789 -")
    assert street_key(street_key(text)) == street_key(text)


def test_fold_removes_swedish_accents():
    assert fold("Åsa Ängel Östen") == "asa angel osten"


@pytest.mark.parametrize(
    ("text", "street", "number", "postal", "city"),
    [
        ("Demog. 123", "demogatan", "000123", "", ""),
        ("östra ågatan 7B", "ostra agatan", "000007b", "", ""),
        ("Östra Ågatan 7 b", "ostra agatan", "000007b", "", ""),
        ("ostra agatan 7", "ostra agatan", "000007", "", ""),
        ("Skolv. 652-16", "skolvagen", "000652-000016", "", ""),
        ("12345", "", "", "12345", ""),
        ("123 45", "", "", "12345", ""),
        ("123", "", "", "123", ""),
        ("12345 Demostad", "", "", "12345", "demostad"),
        ("Demogatan 123, 123 45 Demostad", "demogatan", "000123", "12345", "demostad"),
        ("Demogatan 123 Demostad", "demogatan", "000123", "", "demostad"),
        ("Demogatan, Demostad", "demogatan", "", "", "demostad"),
        ("Demostad", "demostad", "", "", ""),
    ],
)
def test_a_query_is_read_as_street_number_postal_code_and_city(
    text: str, street: str, number: str, postal: str, city: str
):
    q = parse_query(text)
    assert (q.street, q.number, q.postal_code, q.city) == (street, number, postal, city)


def test_words_alone_may_name_a_street_or_a_city():
    assert parse_query("Demostad").street_may_be_city
    assert not parse_query("Demostad 1").street_may_be_city
    assert not parse_query("Demogatan, Demostad").street_may_be_city


def test_the_last_word_can_be_tried_as_the_city():
    split = parse_query("Storgatan Lund").with_last_word_as_city()
    assert split is not None
    assert (split.street, split.city) == ("storgatan", "lund")
    assert parse_query("Storgatan").with_last_word_as_city() is None


@pytest.mark.parametrize("text", ["", "   ", "%", "_", "'", "%%__''", "1", "0123", ",,,"])
def test_a_query_without_letters_or_a_postal_code_asks_for_nothing(text: str):
    assert parse_query(text).is_empty


def test_sql_and_like_wildcards_in_a_query_only_separate_words():
    assert parse_query("D_mogatan").street == "d mogatan"
    assert parse_query("%gatan").street == "gatan"
    assert parse_query("O'Briens väg").street == "o briens vag"
