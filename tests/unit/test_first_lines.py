"""The compact table of first lines an import without --replace remembers accessIds in."""

from __future__ import annotations

import pytest

from serviceguide.domain.mdb import COLUMNS, FirstLines, Header, RowChecker

pytestmark = pytest.mark.unit


def test_it_remembers_the_first_line_of_each_access_through_growing() -> None:
    seen = FirstLines()
    for n in range(200_000):  # past several doublings of its 65 536 slots
        seen[f"A{n}"] = n + 2
    assert all(f"A{n}" in seen for n in range(0, 200_000, 997))
    assert seen["A12345"] == 12347 and "B1" not in seen and 5 not in seen
    with pytest.raises(KeyError):
        seen["B1"]


def _cells(access_id: str) -> list[str]:
    values = dict.fromkeys(COLUMNS, "")
    values.update(coId="KOX", accessId=access_id, streetName="Gatan", streetNumber="1",
                  postalCode="12345", city="Stad", premisesType="OTHER")  # fmt: skip
    return [values[c] for c in COLUMNS]


@pytest.mark.parametrize("keep_names", [True, False])
def test_a_duplicate_access_is_rejected_naming_its_first_line_either_way(keep_names: bool) -> None:
    checker = RowChecker(Header.parse(list(COLUMNS)), "KOX", keep_names=keep_names)
    assert not isinstance(checker.check(2, _cells("X1")), list)
    assert not isinstance(checker.check(3, _cells("X2")), list)
    again = checker.check(4, _cells("X1"))
    assert isinstance(again, list) and "first on line 2" in again[0].reason
    if keep_names:
        assert set(checker.named) == {"X1", "X2"}
    else:
        with pytest.raises(RuntimeError):
            checker.named  # noqa: B018
