"""Importing and exporting a network's accesses as MdB2 files, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import InvalidInput, NotFound
from serviceguide.domain.mdb import COLUMNS, Header, RowChecker
from serviceguide.services import admin, marketdb
from serviceguide.services.context import AppContext
from serviceguide.storage import accesses as store
from serviceguide.storage import catalogue, migrate
from serviceguide.storage.db import sync_url
from serviceguide.storage.tables import accesses, networks
from tests.conftest import create_pg_database, drop_pg_database
from tests.support.commands import invoke, run_process

pytestmark = pytest.mark.integration

HEADER = list(COLUMNS)


def row(access_id: str, **changes: str) -> list[str]:
    values = {
        "coId": "KOM",
        "accessId": access_id,
        "streetName": "Östra Ågatan",
        "streetNumber": "7",
        "streetLittera": "",
        "postalCode": "75320",
        "city": "Uppsala",
        "countryCode": "SE",
        "premisesType": "RESIDENTIAL_HOUSE",
        "mduApartmentNumber": "",
        "mduDistinguisher": "",
        "propertyUnitDesignation": "Uppsala Kåbo 1:2",
        "swerefType": "SWEREF99TM",
        "swerefNorth": "6638532",
        "swerefEast": "648012",
    }
    values.update(changes)
    return [values[c] for c in COLUMNS]


def write_file(
    path: Path, rows: list[list[str]], *, sep: str = ",", bom: bool = False, header=HEADER
) -> Path:
    out = io.StringIO(newline="")
    if sep == ",":
        csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    else:
        out.writelines(sep.join(r) + "\r\n" for r in [header, *rows])
    text = out.getvalue()
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


SAMPLE = [
    row("M1"),
    row("M2", streetNumber="7", streetLittera="B"),
    row("M3", streetName="Demogatan", streetNumber="123", mduApartmentNumber="1001",
        premisesType="RENTAL_APARTMENT", city="Demostad", postalCode="12345"),
    row("M4", streetName="Skolvägen", streetNumber="652-16", city="Lund", postalCode="22100",
        swerefNorth="", swerefEast="", swerefType="", propertyUnitDesignation=""),
]  # fmt: skip


@pytest.fixture
async def network(ctx: AppContext) -> str:
    await admin.create_ko(ctx, "KOM", "Stadsnät M")
    return "KOM"


async def stored(ctx: AppContext, coid: str = "KOM") -> dict[str, dict[str, object]]:
    async with ctx.db.read() as conn:
        rows = await conn.execute(
            select(accesses)
            .join(networks, networks.c.id == accesses.c.network_id)
            .where(networks.c.coid == coid)
        )
        return {r.access_id: dict(r._mapping) for r in rows}


async def export_text(ctx: AppContext, coid: str = "KOM", fmt: str = "csv") -> str:
    out = io.StringIO(newline="")
    await marketdb.export_accesses(ctx, coid, fmt, out)
    return out.getvalue()


# --- importing -------------------------------------------------------------------------------


async def test_a_csv_file_is_imported_with_every_field(ctx: AppContext, network: str, tmp_path):
    path = write_file(tmp_path / "mdb.csv", SAMPLE)
    report = await marketdb.import_accesses(ctx, network, path)
    assert (report.rows, report.inserted, report.updated, report.unchanged) == (4, 4, 0, 0)
    assert report.complete and report.rejected_rows == 0
    assert report.format == "csv"
    got = await stored(ctx)
    assert set(got) == {"M1", "M2", "M3", "M4"}
    m3 = got["M3"]
    assert m3["street_name"] == "Demogatan"
    assert m3["mdu_apartment_number"] == "1001"
    assert m3["premises_type"] == "RENTAL_APARTMENT"
    assert (got["M1"]["sweref_type"], got["M1"]["sweref_north"]) == ("SWEREF99TM", "6638532")
    assert got["M4"]["street_number"] == "652-16"
    assert (got["M2"]["search_street"], got["M2"]["search_number"]) == ("ostra agatan", "000007b")
    assert got["M1"]["search_city"] == "uppsala"


async def test_a_tab_file_with_a_bom_is_imported(ctx: AppContext, network: str, tmp_path):
    path = write_file(tmp_path / "mdb.tab", SAMPLE, sep="\t", bom=True)
    report = await marketdb.import_accesses(ctx, network, path)
    assert report.format == "tab"
    assert report.inserted == 4 and report.complete
    assert (await stored(ctx))["M1"]["street_name"] == "Östra Ågatan"


async def test_a_binary_stream_is_imported_in_the_format_asked_for(ctx: AppContext, network: str):
    text = "\n".join("\t".join(r) for r in [HEADER, *SAMPLE])
    report = await marketdb.import_accesses(
        ctx, network, io.BytesIO(text.encode("utf-8-sig")), "tab"
    )
    assert report.inserted == 4


async def test_many_batches_are_counted_as_one_import(ctx: AppContext, network: str, tmp_path):
    rows = [row(f"N{i}", streetNumber=str(i)) for i in range(1, 26)]
    path = write_file(tmp_path / "mdb.csv", rows)
    report = await marketdb.import_accesses(ctx, network, path, batch_size=4)
    assert (report.rows, report.inserted) == (25, 25)
    rows[3] = row("N4", streetNumber="400")
    rows[20] = row("N21", city="Lund")
    write_file(path, [*rows, row("N99")])
    again = await marketdb.import_accesses(ctx, network, path, batch_size=4)
    assert (again.inserted, again.updated, again.unchanged) == (1, 2, 23)


async def test_rejected_rows_are_reported_by_line_and_field_and_not_stored(
    ctx: AppContext, network: str, tmp_path
):
    rows = [
        row("R1"),  # line 2
        row("R2", postalCode="01234"),  # line 3
        row("R3", premisesType="MDU_APARTMENT", mduApartmentNumber="12"),  # line 4
        row("R1", streetNumber="9"),  # line 5: duplicate
        row("R5", coId="KOB"),  # line 6
        row("R6", streetNumber="10a"),  # line 7
        row("R7 X"),  # line 8
        row("R8"),  # line 9
    ]
    path = write_file(tmp_path / "mdb.csv", rows)
    report = await marketdb.import_accesses(ctx, network, path)
    assert (report.rows, report.rejected_rows, report.inserted) == (8, 6, 2)
    assert not report.complete
    assert [(r.line, r.field) for r in report.rejections] == [
        (3, "postalCode"),
        (4, "premisesType"),
        (4, "mduApartmentNumber"),
        (5, "accessId"),
        (6, "coId"),
        (7, "streetNumber"),
        (8, "accessId"),
    ]
    assert "first on line 2" in report.rejections[3].reason
    assert report.rejections[0].access_id == "R2"
    got = await stored(ctx)
    assert set(got) == {"R1", "R8"}
    assert got["R1"]["street_number"] == "7"  # the duplicate did not overwrite it


async def test_line_numbers_count_blank_lines_and_quoted_line_breaks(
    ctx: AppContext, network: str, tmp_path
):
    good = ",".join(row("L1"))
    multi = ",".join(row("L2", mduDistinguisher='"two\nlines"'))
    bad = ",".join(row("L3", postalCode="1"))
    text = ",".join(HEADER) + "\n\n" + good + "\n" + multi + "\n\n" + bad + "\n"
    (tmp_path / "mdb.csv").write_text(text, encoding="utf-8")
    report = await marketdb.import_accesses(ctx, network, tmp_path / "mdb.csv")
    assert [(r.line, r.field) for r in report.rejections] == [
        (4, "mduDistinguisher"),  # a line break inside a value is a control character
        (7, "postalCode"),
    ]
    assert report.rows == 3


async def test_a_file_that_is_not_utf8_is_read_as_latin1(ctx: AppContext, network: str, tmp_path):
    path = write_file(tmp_path / "mdb.csv", [row("U1"), row("U2", city="XCITYX"), row("U3")])
    path.write_bytes(path.read_bytes().replace(b"XCITYX", b"G\xf6teborg"))  # Latin-1 ö
    report = await marketdb.import_accesses(ctx, network, path)
    assert (report.rejections, report.encoding) == ([], "windows-1252")
    got = await stored(ctx)
    assert got["U2"]["city"] == "Göteborg"
    # The rest of the file was UTF-8 ("Östra Ågatan", two bytes a letter): one file is read in
    # one encoding, so those rows are read as Windows-1252 too.
    assert got["U1"]["street_name"] == "Ã–stra Ã…gatan"


async def test_reimport_updates_only_changed_rows_and_bumps_only_their_updated_at(
    ctx: AppContext, network: str, tmp_path
):
    path = write_file(tmp_path / "mdb.csv", SAMPLE)
    await marketdb.import_accesses(ctx, network, path)
    before = await stored(ctx)

    changed = [list(r) for r in SAMPLE]
    changed[1] = row("M2", streetNumber="7", streetLittera="B", mduDistinguisher="Uppgång A")
    changed[3] = row("M4", streetName="Skolvägen", streetNumber="652-17", city="Lund",
                     postalCode="22100", swerefNorth="", swerefEast="", swerefType="",
                     propertyUnitDesignation="")  # fmt: skip
    write_file(path, [*changed, row("M5")])
    report = await marketdb.import_accesses(ctx, network, path)
    assert (report.inserted, report.updated, report.unchanged, report.absent) == (1, 2, 2, 0)

    after = await stored(ctx)
    for access_id in ("M1", "M3"):
        assert after[access_id] == before[access_id]
    for access_id in ("M2", "M4"):
        assert after[access_id]["id"] == before[access_id]["id"]  # the identity is kept
        assert isinstance(after[access_id]["updated_at"], datetime)
        assert after[access_id]["updated_at"] > before[access_id]["updated_at"]  # type: ignore[operator]
    assert after["M2"]["mdu_distinguisher"] == "Uppgång A"
    assert (after["M4"]["street_number"], after["M4"]["search_number"]) == (
        "652-17",
        "000652-000017",
    )


async def test_importing_the_same_file_again_changes_nothing(
    ctx: AppContext, network: str, tmp_path
):
    path = write_file(tmp_path / "mdb.csv", SAMPLE)
    await marketdb.import_accesses(ctx, network, path)
    before = await stored(ctx)
    report = await marketdb.import_accesses(ctx, network, path)
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 4)
    assert await stored(ctx) == before


async def test_accesses_absent_from_the_file_are_kept_and_counted(
    ctx: AppContext, network: str, tmp_path
):
    await admin.add_access(
        ctx,
        coid=network,
        access_id="KEEP1",
        street_name="Gamla vägen",
        street_number="1",
        postal_code="75320",
        city="Uppsala",
    )
    other_ko = await admin.create_ko(ctx, "KOO", "Other network")
    assert other_ko
    await admin.add_access(
        ctx,
        coid="KOO",
        access_id="M1",
        street_name="Annan gata",
        street_number="1",
        postal_code="75320",
        city="Uppsala",
    )
    report = await marketdb.import_accesses(ctx, network, write_file(tmp_path / "m.csv", SAMPLE))
    assert report.absent == 1
    assert "KEEP1" in await stored(ctx)
    other = await stored(ctx, "KOO")
    assert other["M1"]["street_name"] == "Annan gata"  # accessIds are per network


async def test_an_unknown_network_is_a_fatal_error(ctx: AppContext, tmp_path):
    with pytest.raises(NotFound):
        await marketdb.import_accesses(ctx, "NOPE", write_file(tmp_path / "m.csv", SAMPLE))


@pytest.mark.parametrize(
    "content",
    [b"", b"accessId,streetName\r\nA1,Gatan\r\n", "\t".join(HEADER).encode() + b"\r\n"],
    ids=["empty", "missing-columns", "tab-file-read-as-csv"],
)
async def test_a_file_without_a_usable_header_is_a_fatal_error(
    ctx: AppContext, network: str, tmp_path, content: bytes
):
    path = tmp_path / "mdb.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidInput):
        await marketdb.import_accesses(ctx, network, path)
    assert await stored(ctx) == {}


async def test_a_missing_file_is_a_fatal_error(ctx: AppContext, network: str, tmp_path):
    with pytest.raises(InvalidInput, match="cannot read"):
        await marketdb.import_accesses(ctx, network, tmp_path / "nothing.csv")


async def test_progress_is_reported_up_to_the_whole_file(ctx: AppContext, network: str, tmp_path):
    path = write_file(tmp_path / "mdb.csv", [row(f"P{i}") for i in range(10)])
    seen: list[marketdb.ImportProgress] = []
    await marketdb.import_accesses(ctx, network, path, progress=seen.append, batch_size=3)
    assert seen[-1] == marketdb.ImportProgress(10, path.stat().st_size, path.stat().st_size)
    assert [p.rows for p in seen] == sorted(p.rows for p in seen)


# --- exporting -------------------------------------------------------------------------------


async def test_export_writes_the_mdb2_layout_ordered_by_access_id(
    ctx: AppContext, network: str, tmp_path
):
    await marketdb.import_accesses(ctx, network, write_file(tmp_path / "m.csv", SAMPLE[::-1]))
    text = await export_text(ctx)
    lines = text.split("\r\n")
    assert lines[0] == ",".join(COLUMNS)
    assert lines[1] == ",".join(SAMPLE[0])
    assert [line.split(",")[1] for line in lines[1:-1]] == ["M1", "M2", "M3", "M4"]
    assert lines[-1] == ""


async def test_export_then_import_round_trips_unchanged(ctx: AppContext, network: str, tmp_path):
    tricky = row("T1", streetName='Gatan "Den gamla", väster', mduDistinguisher="A, B")
    await marketdb.import_accesses(ctx, network, write_file(tmp_path / "m.csv", [*SAMPLE, tricky]))
    for fmt in ("csv", "tab"):
        exported = tmp_path / f"export.{fmt}"
        exported.write_text(await export_text(ctx, fmt=fmt), encoding="utf-8", newline="")
        before = await stored(ctx)
        report = await marketdb.import_accesses(ctx, network, exported)
        assert (report.updated, report.inserted, report.unchanged) == (0, 0, 5), fmt
        assert await stored(ctx) == before

    # Into another network: the same data, so the same export (but for the coId).
    await admin.create_ko(ctx, "KOC", "Copy")
    csv_text = await export_text(ctx)
    copy = tmp_path / "copy.csv"
    copy.write_text(csv_text.replace("KOM,", "KOC,"), encoding="utf-8", newline="")
    assert (await marketdb.import_accesses(ctx, "KOC", copy)).inserted == 5
    assert await export_text(ctx, "KOC") == csv_text.replace("KOM,", "KOC,")


async def test_exporting_an_unknown_network_fails(ctx: AppContext):
    with pytest.raises(NotFound):
        await export_text(ctx, "NOPE")


async def test_add_access_writes_the_search_keys_too(ctx: AppContext, network: str):
    await admin.add_access(
        ctx,
        coid=network,
        access_id="K1",
        street_name=" Östra  Ågatan ",
        street_number="7",
        street_littera="b",
        postal_code="75320",
        city="Upplands Väsby",
    )
    got = (await stored(ctx))["K1"]
    assert (got["search_street"], got["search_number"], got["search_city"]) == (
        "ostra agatan",
        "000007b",
        "upplands vasby",
    )
    async with ctx.db.read() as conn:
        assert (await catalogue.access_by_id(conn, network, "K1")) is not None


# --- the command line ------------------------------------------------------------------------


def cli(
    database_url: str, tmp_path: Path, *args: str, process: bool = False
) -> subprocess.CompletedProcess[str]:
    """``serviceguide ARGS`` in the test process, or as a separate process (``process``)."""
    env = {
        **os.environ,
        "SERVICEGUIDE_DATABASE_URL": database_url,
        "SERVICEGUIDE_VAR_DIR": str(tmp_path / "var"),
        "COLUMNS": "200",
    }
    return (run_process if process else invoke)(list(args), env, tmp_path)


async def test_the_cli_imports_reports_and_exports(
    ctx: AppContext, network: str, tmp_path, database_url: str
):
    good = write_file(tmp_path / "good.tsv", SAMPLE, sep="\t")
    done = cli(database_url, tmp_path, "accesses", "import", str(good), "--coid", network)
    assert done.returncode == 0, done.stderr
    assert "4 of 4 rows imported" in done.stdout
    assert "4 new, 0 updated, 0 unchanged" in done.stdout

    bad = write_file(tmp_path / "bad.csv", [row("M1"), row("B2", postalCode="01234"), row("B3")])
    done = cli(database_url, tmp_path, "accesses", "import", str(bad), "--coid", network)
    assert done.returncode == 2, done.stderr
    assert "1 rows rejected" in done.stdout
    assert "line 3 (accessId B2): postalCode:" in done.stdout
    assert "3 accesses of KOM are not in the file" in done.stdout

    out = tmp_path / "out.tab"
    done = cli(
        database_url, tmp_path, "accesses", "export", "--coid", network, "--output", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().decode("utf-8").split("\r\n")[0] == "\t".join(COLUMNS)
    done = cli(database_url, tmp_path, "accesses", "export", "--coid", network)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (await export_text(ctx)).replace("\r\n", "\n")  # text-mode pipe

    same = cli(database_url, tmp_path, "accesses", "import", str(out), "--coid", network)
    assert same.returncode == 0, same.stderr
    assert "0 new, 0 updated, 5 unchanged" in same.stdout


async def test_the_cli_exits_1_when_nothing_can_be_imported(
    ctx: AppContext, network: str, tmp_path, database_url: str
):
    # Real processes: the exit codes as a shell sees them.
    path = write_file(tmp_path / "mdb.csv", SAMPLE)
    done = cli(database_url, tmp_path, "accesses", "import", str(path), "--coid", "NOPE",
               process=True)  # fmt: skip
    assert done.returncode == 1
    assert "NOPE" in done.stderr
    tab = write_file(tmp_path / "mdb.data", SAMPLE, sep="\t")
    done = cli(database_url, tmp_path, "accesses", "import", str(tab), "--coid", network,
               "--format", "csv", process=True)  # fmt: skip
    assert done.returncode == 1
    assert "CSV or TAB" in done.stderr
    sniffed = cli(database_url, tmp_path, "accesses", "import", str(tab), "--coid", network,
                  process=True)  # fmt: skip
    assert sniffed.returncode == 0, sniffed.stderr


async def test_the_first_import_fast_path_refuses_an_access_stored_meanwhile(
    ctx: AppContext, network: str
):
    """What makes the first import fall back to upserting when someone else adds accesses."""
    check = RowChecker(Header.parse(HEADER), network).check
    rows = [check(2, row("F1")), check(3, row("F2"))]
    async with ctx.db.read() as conn:
        found = await catalogue.network_by_coid(conn, network)
    assert found is not None
    async with ctx.db.write() as conn:
        await store.insert_new(conn, found.id, rows[:1], utcnow())  # type: ignore[arg-type]
    with pytest.raises(store.AlreadyStored):
        async with ctx.db.write() as conn:
            await store.insert_new(conn, found.id, rows, utcnow())  # type: ignore[arg-type]
    assert set(await stored(ctx)) == {"F1"}  # the failed batch left nothing behind
    async with ctx.db.write() as conn:
        counted = await store.upsert(conn, found.id, rows, utcnow())  # type: ignore[arg-type]
    assert (counted.inserted, counted.updated) == (1, 0)


# --- the migration ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migration_fills_the_search_keys_of_existing_accesses(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    if backend == "sqlite":
        url, admin_url = f"sqlite:///{tmp_path / 'm.sqlite3'}", None
    else:
        admin_url = request.getfixturevalue("pg_server")
        url = create_pg_database(admin_url)
    try:
        migrate.upgrade(url, "0002")
        engine = create_engine(sync_url(url))
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO organisations (id, kind, name, coid, created_at)"
                    " VALUES (1, 'ko', 'KO', 'KOM', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO networks (id, coid, name, ko_org_id, created_at)"
                    " VALUES (1, 'KOM', 'KO', 1, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO accesses (network_id, access_id, street_name, street_number,"
                    " street_littera, postal_code, city, updated_at) VALUES (1, 'OLD1',"
                    " 'Östra Ågatan', '7', 'B', '75320', 'Upplands Väsby', CURRENT_TIMESTAMP)"
                )
            )
        migrate.upgrade(url)
        with engine.connect() as conn:
            keys = conn.execute(
                text("SELECT search_street, search_number, search_city, sweref_type FROM accesses")
            ).one()
        engine.dispose()
        assert tuple(keys) == ("ostra agatan", "000007b", "upplands vasby", "")
    finally:
        if admin_url is not None:
            drop_pg_database(admin_url, url)
