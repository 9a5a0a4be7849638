"""The guide's address search over the market database, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.addresses import parse_query
from serviceguide.domain.mdb import COLUMNS
from serviceguide.domain.model import AddressMatch
from serviceguide.services import admin, marketdb
from serviceguide.services.addresses import search_addresses
from serviceguide.services.context import AppContext
from serviceguide.storage.accesses import search_statements
from serviceguide.storage.direct import Sql

pytestmark = pytest.mark.integration

# (accessId, street, number, littera, postal code, city, apartment)
ACCESSES = [
    ("OA7", "Östra Ågatan", "7", "", "75320", "Uppsala", ""),
    ("OA7B", "Östra Ågatan", "7", "B", "75320", "Uppsala", ""),
    ("OA7A", "Östra Ågatan", "7", "A", "75320", "Uppsala", ""),
    ("OA70", "Östra Ågatan", "70", "", "75320", "Uppsala", ""),
    ("OA12-2", "Östra Ågatan", "12", "", "75320", "Uppsala", "1102"),
    ("OA12-1", "Östra Ågatan", "12", "", "75320", "Uppsala", "1101"),
    ("D123-3", "Demogatan", "123", "", "12345", "Demostad", "1003"),
    ("D123-1", "Demogatan", "123", "", "12345", "Demostad", "1001"),
    ("D123-2", "Demogatan", "123", "", "12345", "Demostad", "1002"),
    ("D12", "Demogatan", "12", "", "12345", "Demostad", ""),
    ("DB4", "Demogatans backe", "4", "", "12345", "Demostad", ""),
    ("DV1", "Demovägen", "1", "", "12346", "Demostad", ""),
    ("S3", "Skolvägen", "3", "", "22100", "Lund", ""),
    ("S652", "Skolvägen", "652-16", "", "22100", "Lund", ""),
    ("SU1", "Storgatan", "1", "", "75310", "Uppsala", ""),
    ("SL1", "Storgatan", "1", "", "22220", "Lund", ""),
    ("OB5", "O'Briens väg", "5", "", "22100", "Lund", ""),
    ("LG1", "Lundagatan", "1", "", "41101", "Göteborg", ""),
]


def mdb_file(rows: list[tuple[str, ...]]) -> io.BytesIO:
    out = io.StringIO(newline="")
    w = csv.writer(out)
    w.writerow(COLUMNS)
    for access_id, street, number, littera, postal, city, apartment in rows:
        w.writerow(
            ["KOS", access_id, street, number, littera, postal, city, "SE",
             "RENTAL_APARTMENT" if apartment else "RESIDENTIAL_HOUSE", apartment,
             "", "", "", "", ""]
        )  # fmt: skip
    return io.BytesIO(out.getvalue().encode("utf-8"))


@pytest.fixture
async def accesses(ctx: AppContext) -> None:
    await admin.create_ko(ctx, "KOS", "Söknät")
    report = await marketdb.import_accesses(ctx, "KOS", mdb_file(ACCESSES), "csv")
    assert report.complete and report.inserted == len(ACCESSES)


async def ids(ctx: AppContext, q: str, limit: int = 20) -> list[str]:
    return [m.access_id for m in await search_addresses(ctx, q, limit)]


# --- what is found ---------------------------------------------------------------------------


async def test_a_match_carries_the_network_the_address_and_the_apartment(ctx, accesses):
    found = await search_addresses(ctx, "Östra Ågatan 12")
    assert found[0] == AddressMatch(
        coid="KOS", access_id="OA12-1", address="Östra Ågatan 12, 75320 Uppsala", premise="1101"
    )
    b = (await search_addresses(ctx, "Östra Ågatan 7B"))[0]
    assert (b.address, b.premise) == ("Östra Ågatan 7B, 75320 Uppsala", "")


@pytest.mark.parametrize(
    "q", ["Östra Ågatan", "östra ågatan", "ÖSTRA ÅGATAN", "ostra agatan", "  östra   ågatan  "]
)
async def test_case_swedish_letters_and_spacing_do_not_matter(ctx, accesses, q: str):
    assert await ids(ctx, q) == ["OA7", "OA7A", "OA7B", "OA12-1", "OA12-2", "OA70"]


@pytest.mark.parametrize("q", ["Demog. 123", "demog 123", "Demogatan 123", "DEMOGATAN 123 "])
async def test_gatan_may_be_shortened_to_g(ctx, accesses, q: str):
    assert await ids(ctx, q) == ["D123-1", "D123-2", "D123-3"]


@pytest.mark.parametrize("q", ["Skolv. 3", "skolvägen 3", "Skolvagen 3"])
async def test_vagen_may_be_shortened_to_v(ctx, accesses, q: str):
    assert await ids(ctx, q) == ["S3"]


@pytest.mark.parametrize("q", ["Östra Ågatan 7B", "östra ågatan 7 b", "ostra agatan 7b"])
async def test_a_number_with_its_littera_finds_that_entrance_first_then_the_bare_number(
    ctx, accesses, q: str
):
    assert await ids(ctx, q) == ["OA7B", "OA7"]


async def test_a_littera_that_does_not_exist_still_finds_the_number(ctx, accesses):
    assert await ids(ctx, "Östra Ågatan 7 c") == ["OA7"]


async def test_a_number_finds_every_littera_and_then_the_numbers_it_begins(ctx, accesses):
    assert await ids(ctx, "Östra Ågatan 7") == ["OA7", "OA7A", "OA7B", "OA70"]
    # While the number is being typed: "1" already suggests 12 (and 12-1, 12-2 its entrances).
    assert await ids(ctx, "Östra Ågatan 1") == ["OA12-1", "OA12-2"]


async def test_a_number_with_a_dash_is_found(ctx, accesses):
    assert await ids(ctx, "Skolvägen 652-16") == ["S652"]
    assert await ids(ctx, "Skolvägen 652") == ["S652"]


@pytest.mark.parametrize("q", ["12345", "123 45"])
async def test_a_postal_code_finds_its_addresses(ctx, accesses, q: str):
    assert await ids(ctx, q) == ["D12", "D123-1", "D123-2", "D123-3", "DB4"]


async def test_the_start_of_a_postal_code_finds_the_codes_it_begins(ctx, accesses):
    assert set(await ids(ctx, "1234")) == {"D12", "D123-1", "D123-2", "D123-3", "DB4", "DV1"}


async def test_a_city_finds_its_addresses(ctx, accesses):
    assert await ids(ctx, "Demostad") == ["D12", "D123-1", "D123-2", "D123-3", "DB4", "DV1"]
    assert await ids(ctx, "demost") == ["D12", "D123-1", "D123-2", "D123-3", "DB4", "DV1"]
    assert set(await ids(ctx, "göteborg")) == {"LG1"}


@pytest.mark.parametrize(
    "q",
    [
        "Demogatan 123, Demostad",
        "Demogatan 123, 12345 Demostad",
        "Demogatan 123, 123 45 Demostad",
        "demogatan 123 demostad",
    ],
)
async def test_a_full_address_with_postal_code_and_city_is_found(ctx, accesses, q: str):
    assert await ids(ctx, q) == ["D123-1", "D123-2", "D123-3"]


async def test_the_city_narrows_a_street_found_in_several(ctx, accesses):
    assert set(await ids(ctx, "Storgatan 1")) == {"SL1", "SU1"}
    assert await ids(ctx, "Storgatan 1, Lund") == ["SL1"]
    assert await ids(ctx, "Storgatan 1 uppsala") == ["SU1"]
    assert await ids(ctx, "Storgatan Lund") == ["SL1"]  # no street "Storgatan Lund": a city
    assert await ids(ctx, "Storgatan 1, 222 20") == ["SL1"]


async def test_an_access_added_by_hand_is_found_too(ctx, accesses):
    await admin.add_access(
        ctx,
        coid="KOS",
        access_id="HAND1",
        street_name="Ängsvägen",
        street_number="9",
        street_littera="C",
        postal_code="75320",
        city="Uppsala",
    )
    assert await ids(ctx, "angsv. 9c") == ["HAND1"]


# --- ranking ---------------------------------------------------------------------------------


async def test_the_exact_street_comes_before_streets_that_start_with_it(ctx, accesses):
    assert await ids(ctx, "Demogatan") == ["D12", "D123-1", "D123-2", "D123-3", "DB4"]
    # 12 itself first, then the numbers that begin with 12 (123's apartments).
    assert await ids(ctx, "Demogatan 12") == ["D12", "D123-1", "D123-2", "D123-3"]


async def test_a_prefix_finds_streets_in_street_number_littera_apartment_order(ctx, accesses):
    assert await ids(ctx, "Dem") == ["D12", "D123-1", "D123-2", "D123-3", "DB4", "DV1"]
    assert await ids(ctx, "ostra ag") == ["OA7", "OA7A", "OA7B", "OA12-1", "OA12-2", "OA70"]


async def test_an_exact_city_comes_before_streets_that_start_with_its_name(ctx, accesses):
    assert await ids(ctx, "Lund") == ["OB5", "S3", "S652", "SL1", "LG1"]


# --- limits and odd input --------------------------------------------------------------------


async def test_at_most_twenty_matches_are_returned_by_default(ctx, accesses):
    many = [(f"M{n}", "Mångatan", str(n), "", "75320", "Uppsala", "") for n in range(1, 31)]
    await marketdb.import_accesses(ctx, "KOS", mdb_file(many), "csv")
    found = await ids(ctx, "mångatan")
    assert found == [f"M{n}" for n in range(1, 21)]
    assert await ids(ctx, "mångatan", limit=5) == ["M1", "M2", "M3", "M4", "M5"]
    assert await ids(ctx, "mångatan", limit=0) == []


@pytest.mark.parametrize("q", ["", " ", "\t\n", ",", "1"])
async def test_an_empty_query_finds_nothing(ctx, accesses, q: str):
    assert await search_addresses(ctx, q) == []


@pytest.mark.parametrize(
    "q", ["%", "_", "'", "%%", "%gatan", "D_mogatan", "Dem%", "' OR '1'='1", "Demogatan'; --"]
)
async def test_sql_and_like_wildcards_are_taken_literally(ctx, accesses, q: str):
    found = await ids(ctx, q)
    assert len(found) < len(ACCESSES)
    assert not set(found) - {"D12", "D123-1", "D123-2", "D123-3", "DB4", "DV1"}


async def test_an_apostrophe_in_a_street_name_is_found(ctx, accesses):
    assert await ids(ctx, "O'Briens väg 5") == ["OB5"]
    assert await ids(ctx, "obriens") == []  # the apostrophe separates words
    assert await ids(ctx, "o briens") == ["OB5"]


async def test_a_very_long_query_is_answered(ctx, accesses):
    assert await ids(ctx, "Demogatan " * 500) == []


# --- the index is used -----------------------------------------------------------------------


async def _plan(conn: AsyncConnection, sql: str, args: list[object], postgres: bool) -> str:
    if postgres:
        rows = await conn.exec_driver_sql("EXPLAIN " + sql, tuple(args))
        return "\n".join(r[0] for r in rows)
    rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + Sql.of(sql).sqlite, tuple(args))
    return "\n".join(r[-1] for r in rows)


@pytest.mark.parametrize(
    "q", ["ostra ag", "Östra Ågatan 7B", "Demog. 123, 12345 Demostad", "123 45", "1234", "Lund"]
)
async def test_every_search_query_reads_a_search_index_in_order(ctx, accesses, q: str):
    """No full scan and no sort: each query is a range in one index, read until the limit."""
    async with ctx.db.read() as conn:
        if ctx.db.is_postgres:  # the tables are tiny: make the planner show what it can do
            await conn.exec_driver_sql("SET enable_seqscan = off")
            await conn.exec_driver_sql("SET enable_bitmapscan = off")
        for sql, args in search_statements(parse_query(q), 20):
            plan = await _plan(conn, sql, args, ctx.db.is_postgres)
            assert "ix_accesses_search_" in plan, plan
            assert "Seq Scan on accesses" not in plan, plan
            assert "SCAN accesses" not in plan, plan
            assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
