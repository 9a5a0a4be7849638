"""A KO's new market-database file replaces the network's accesses: those it no longer names are
retired — gone from the guide, ON-API and the export, kept for the orders placed on them. And
the files older systems write: Latin-1 (Windows-1252), postal codes as "123 45"."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from serviceguide.app import create_app
from serviceguide.domain.errors import Conflict, InvalidInput
from serviceguide.domain.mdb import COLUMNS
from serviceguide.services import admin, marketdb
from serviceguide.services.context import AppContext
from serviceguide.storage.tables import accesses, networks
from tests.support.world import SERIALS, World
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration


def row(access_id: str, number: str, **changes: str) -> list[str]:
    values = {
        "coId": "KOA",
        "accessId": access_id,
        "streetName": "A-gatan",
        "streetNumber": number,
        "postalCode": "12345",
        "city": "Teststad",
        "premisesType": "OTHER",
    }
    values.update(changes)
    return [values.get(c, "") for c in COLUMNS]


def mdb_file(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows([list(COLUMNS), *rows])
    path.write_bytes(out.getvalue().encode(encoding))
    return path


@pytest.fixture
async def http(ctx: AppContext, world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def stored(ctx: AppContext, coid: str = "KOA") -> dict[str, bool]:
    """accessId → retired?"""
    async with ctx.db.read() as conn:
        rows = await conn.execute(
            select(accesses.c.access_id, accesses.c.retired_at)
            .join(networks, networks.c.id == accesses.c.network_id)
            .where(networks.c.coid == coid)
        )
        return {r.access_id: r.retired_at is not None for r in rows}


async def export_ids(ctx: AppContext, coid: str = "KOA") -> list[str]:
    out = io.StringIO(newline="")
    await marketdb.export_accesses(ctx, coid, "csv", out)
    return [r[1] for r in csv.reader(io.StringIO(out.getvalue()))][1:]


# The world's KOA has A1…A5; orders were placed on A1, A2 and A3 (o4 and o5).
NEW_FILE = [row("A1", "1"), row("A2", "2"), row("A4", "4"), row("A6", "6")]


async def test_replace_retires_the_accesses_the_file_does_not_name(
    ctx: AppContext, world: World, tmp_path: Path
):
    report = await marketdb.import_accesses(
        ctx, "KOA", mdb_file(tmp_path / "m.csv", NEW_FILE), replace=True
    )
    assert (report.inserted, report.unchanged, report.retired, report.absent) == (1, 3, 2, 0)
    assert await stored(ctx) == {
        "A1": False,
        "A2": False,
        "A3": True,
        "A4": False,
        "A5": True,
        "A6": False,
    }
    assert set(await stored(ctx, "KOB")) == {"B1", "B2", "B3"}  # another network: untouched
    assert not any((await stored(ctx, "KOB")).values())


async def test_without_replace_absent_accesses_are_only_counted(
    ctx: AppContext, world: World, tmp_path: Path
):
    report = await marketdb.import_accesses(ctx, "KOA", mdb_file(tmp_path / "m.csv", NEW_FILE))
    assert (report.retired, report.absent) == (0, 2)
    assert not any((await stored(ctx)).values())


async def test_a_retired_access_is_hidden_from_the_guide_on_api_and_the_export(
    ctx: AppContext, world: World, http: httpx.AsyncClient, tmp_path: Path
):
    await marketdb.import_accesses(ctx, "KOA", mdb_file(tmp_path / "m.csv", NEW_FILE), replace=True)

    found = (await http.get("/api/guide/addresses", params={"q": "A-gatan"})).json()
    assert sorted(a["accessId"] for a in found) == ["A1", "A2", "A4", "A6"]
    assert (await http.get("/api/guide/addresses", params={"q": "A-gatan 3"})).json() == []
    assert (await http.get("/api/guide/accesses/KOA/A3/services")).status_code == 404
    assert (await http.get("/api/guide/accesses/KOA/A4/services")).status_code == 200
    placed = await http.post(
        "/api/guide/orders",
        json={
            "coid": "KOA",
            "accessId": "A5",
            "services": [101],
            "customer": {
                "firstname": "Eva",
                "surname": "Ek",
                "serial": SERIALS[0],
                "email": "eva@example.se",
                "phone": "070-1234567",
            },
            "delivery": "asap",
        },
    )
    assert placed.status_code == 422
    assert [e["field"] for e in placed.json()["errors"]] == ["accessId"]

    login = world.users["KOA"]
    basic = httpx.BasicAuth(str(login.api_user), login.api_key)
    listed = (await http.get("/plain/onapi/KOA/accesses", auth=basic)).json()
    assert sorted(a["accessId"] for a in listed) == ["A1", "A2", "A4", "A6"]
    assert (await http.get("/plain/onapi/KOA/accesses/A3", auth=basic)).status_code == 404
    assert (await http.get("/plain/onapi/KOA/accesses/A4", auth=basic)).status_code == 200

    assert await export_ids(ctx) == ["A1", "A2", "A4", "A6"]


async def test_orders_on_a_retired_access_keep_it(
    ctx: AppContext, world: World, xsp: XspClient, tmp_path: Path
):
    await marketdb.import_accesses(ctx, "KOA", mdb_file(tmp_path / "m.csv", NEW_FILE), replace=True)
    tl = await xsp.session(world.users["TL1"])
    info = await tl.call("order_info", id=world.orders["o4"])
    assert info.status == "success"
    assert info.one("order")["socket"] == "A3"
    customer = await tl.call("customer_info", id=world.customers["c4"])
    assert customer.one("customer")["socket"] == "A3"


async def test_an_access_named_again_comes_back_as_a_change(
    ctx: AppContext, world: World, tmp_path: Path
):
    path = mdb_file(tmp_path / "m.csv", NEW_FILE)
    await marketdb.import_accesses(ctx, "KOA", path, replace=True)
    report = await marketdb.import_accesses(
        ctx, "KOA", mdb_file(path, [*NEW_FILE, row("A3", "3")]), replace=True
    )
    assert (report.inserted, report.updated, report.unchanged, report.retired) == (0, 1, 4, 0)
    assert (await stored(ctx))["A3"] is False
    assert "A3" in await export_ids(ctx)


async def test_a_retired_access_cannot_be_added_again_by_hand(
    ctx: AppContext, world: World, tmp_path: Path
):
    await marketdb.import_accesses(ctx, "KOA", mdb_file(tmp_path / "m.csv", NEW_FILE), replace=True)
    with pytest.raises(Conflict):
        await admin.add_access(
            ctx,
            coid="KOA",
            access_id="A5",
            street_name="A-gatan",
            street_number="5",
            postal_code="12345",
            city="Teststad",
        )


async def test_a_file_with_rejected_rows_retires_nothing(
    ctx: AppContext, world: World, tmp_path: Path
):
    rows = [*NEW_FILE, row("A7", "7", postalCode="01234"), ["KOA", "A3", "too", "few"]]
    report = await marketdb.import_accesses(
        ctx, "KOA", mdb_file(tmp_path / "m.csv", rows), replace=True
    )
    assert (report.inserted, report.rejected_rows, report.retired) == (1, 2, 0)
    assert report.absent == 2
    assert not any((await stored(ctx)).values())


async def test_replacing_with_a_file_of_no_rows_is_refused_and_changes_nothing(
    ctx: AppContext, world: World, tmp_path: Path
):
    before = await stored(ctx)
    with pytest.raises(InvalidInput, match="retire every access of KOA"):
        await marketdb.import_accesses(ctx, "KOA", mdb_file(tmp_path / "m.csv", []), replace=True)
    assert await stored(ctx) == before


# --- what older systems write ----------------------------------------------------------------


async def test_a_latin1_file_is_read_as_latin1(ctx: AppContext, world: World, tmp_path: Path):
    rows = [
        row("L1", "1", streetName="Östra Ågatan", city="Göteborg"),
        row("L2", "2", streetName="Storgatan 1–3", city="Malmö"),  # – is Windows-1252's 0x96
    ]
    path = mdb_file(tmp_path / "m.csv", rows, encoding="windows-1252")
    assert b"\xd6stra \xc5gatan" in path.read_bytes()
    report = await marketdb.import_accesses(ctx, "KOA", path)
    assert (report.inserted, report.rejected_rows, report.encoding) == (2, 0, "windows-1252")
    found = (await admin_search(ctx, "Östra Ågatan 1"))[0]
    assert found == "Östra Ågatan 1, 12345 Göteborg"
    assert (await export_ids(ctx))[-2:] == ["L1", "L2"]
    exported = io.StringIO(newline="")
    await marketdb.export_accesses(ctx, "KOA", "csv", exported)
    assert "Storgatan 1–3" in exported.getvalue()  # exported as UTF-8


async def test_a_utf8_file_is_read_as_utf8(ctx: AppContext, world: World, tmp_path: Path):
    path = mdb_file(tmp_path / "m.csv", [row("U1", "1", city="Göteborg")])
    report = await marketdb.import_accesses(ctx, "KOA", path)
    assert (report.inserted, report.encoding) == (1, "utf-8")
    assert (await admin_search(ctx, "A-gatan 1 Göteborg")) == ["A-gatan 1, 12345 Göteborg"]


async def test_a_latin1_stream_that_cannot_seek_is_read_too(ctx: AppContext, world: World):
    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
            chunk = self.data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    out = io.StringIO(newline="")
    csv.writer(out).writerows([list(COLUMNS), row("S1", "1", city="Örebro")])
    stream = io.BufferedReader(OneWay(out.getvalue().encode("latin-1")))
    assert not stream.seekable()
    report = await marketdb.import_accesses(ctx, "KOA", stream, "csv")
    assert (report.inserted, report.encoding) == (1, "windows-1252")
    assert (await admin_search(ctx, "A-gatan 1 Örebro")) == ["A-gatan 1, 12345 Örebro"]


async def test_a_byte_that_no_encoding_reads_rejects_its_row(
    ctx: AppContext, world: World, tmp_path: Path
):
    path = mdb_file(tmp_path / "m.csv", [row("X1", "1", city="XCITYX"), row("X2", "2")])
    path.write_bytes(path.read_bytes().replace(b"XCITYX", b"G\xf6te\x81borg"))
    report = await marketdb.import_accesses(ctx, "KOA", path)
    assert [(r.line, r.field, r.access_id) for r in report.rejections] == [(2, "city", "X1")]
    assert "not UTF-8, nor Windows-1252" in report.rejections[0].reason
    assert report.inserted == 1


async def test_a_postal_code_written_with_a_space_is_imported(
    ctx: AppContext, world: World, tmp_path: Path
):
    path = mdb_file(tmp_path / "m.csv", [row("P1", "1", postalCode="123 45")])
    report = await marketdb.import_accesses(ctx, "KOA", path)
    assert (report.inserted, report.rejected_rows) == (1, 0)
    await admin.add_access(
        ctx,
        coid="KOA",
        access_id="P2",
        street_name="A-gatan",
        street_number="2",
        postal_code="123 45",
        city="Teststad",
    )
    async with ctx.db.read() as conn:
        codes = await conn.execute(
            select(accesses.c.postal_code).where(accesses.c.access_id.in_(["P1", "P2"]))
        )
        assert set(codes.scalars()) == {"12345"}


async def admin_search(ctx: AppContext, q: str) -> list[str]:
    from serviceguide.services.addresses import search_addresses

    return [m.address for m in await search_addresses(ctx, q)]
