"""The KO's market-database upload in-process: streamed to disk, imported in the background with
its progress and result in the database, every rejected row listed by line and as CSV; bad
files, an upload over the limit and a second upload of the network refused with nothing stored;
an import whose worker died picked up again."""

from __future__ import annotations

import csv
import io
import tracemalloc
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from serviceguide.domain.clock import utcnow
from serviceguide.domain.mdb import COLUMNS
from serviceguide.services import imports
from serviceguide.services.context import AppContext
from serviceguide.storage import tables
from serviceguide.web import csrf
from tests.integration.test_admin_accounts import count
from tests.integration.test_guide_pages import Page
from tests.support.admin import AdminBrowser, add_admin_users, admin_browser
from tests.support.world import World

pytestmark = pytest.mark.integration


@pytest.fixture
async def orgs(ctx: AppContext, world: World) -> dict[str, int]:
    return await add_admin_users(ctx)


def row(access_id: str, **over: str) -> dict[str, str]:
    values = {c: "" for c in COLUMNS}
    values.update(
        coId="KOA", accessId=access_id, streetName="Uppladdningsvägen", streetNumber="3",
        postalCode="12345", city="Teststad", countryCode="SE", premisesType="OTHER",
    )  # fmt: skip
    values.update(over)
    return values


def mdb(rows: list[dict[str, str]], sep: str = ",", encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), delimiter=sep, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


async def upload(
    b: AdminBrowser, content: bytes, fmt: str = "csv", *, token: str | None = None, **kw: Any
) -> Any:
    data = {csrf.FIELD: token if token is not None else await b.token(), "format": fmt}
    files = {"file": ("accesses.csv", content, "text/csv")}
    return await b.http.post("/staff/admin/accesses", data=data, files=files, **kw)


def var_files(ctx: AppContext) -> list[str]:
    directory = Path(ctx.settings.var_dir) / "imports"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


GOOD = [row("UP1"), row("UP2", streetName="Åkervägen"), row("UP3")]
BAD = [row("UP4", postalCode="01234"), row("UP5", premisesType="SLOTT")]


async def test_an_upload_is_imported_in_the_background_with_progress_and_every_rejected_row(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    async with admin_browser(ctx, "koa.admin") as b:
        r = await upload(b, mdb([GOOD[0], BAD[0], GOOD[1], BAD[1], GOOD[2]]))
        assert r.status_code == 303
        location = r.headers["location"]
        queued = await b.get(location)
        assert 'http-equiv="refresh"' in queued.html and 'data-state="queued"' in queued.html
        assert await imports.run_pending(ctx) == 1
        done = await b.get(location)
        assert 'data-state="done"' in done.html and 'http-equiv="refresh"' not in done.html
        assert 'data-field="imported">3<' in done.html and 'data-field="rejected">2<' in done.html
        lines = [int(x) for x in __import__("re").findall(r'data-line="(\d+)"', done.html)]
        assert lines == [3, 5]
        rejected = await b.http.get(f"{location}/rejected.csv")
        assert rejected.status_code == 200
        table = list(csv.reader(io.StringIO(rejected.text.lstrip("\ufeff"))))
        assert table[0] == ["line", "field", "reason"] and [t[0] for t in table[1:]] == ["3", "5"]
        page = await b.get("/staff/admin/accesses")
        assert 'data-field="accesses">8<' in page.html  # 5 of the world's, 3 new
        exported = await b.http.get("/staff/admin/accesses/export?format=tab")
        assert exported.status_code == 200 and "UP2\tÅkervägen" in exported.text
    assert var_files(ctx) == []  # the upload is gone once imported
    async with ctx.db.read() as conn:
        q = select(tables.accesses.c.access_id).where(tables.accesses.c.access_id.like("UP%"))
        assert sorted((await conn.execute(q)).scalars()) == ["UP1", "UP2", "UP3"]
    async with admin_browser(ctx, "kob.admin") as other:
        assert (await other.get(location)).status == 404
        assert (await other.http.get(f"{location}/rejected.csv")).status_code == 404


async def test_a_latin_1_file_is_read_as_latin_1(ctx: AppContext, orgs: dict[str, int]) -> None:
    async with admin_browser(ctx, "koa.admin") as b:
        r = await upload(b, mdb([row("L1", streetName="Östra Ågatan")], encoding="latin-1"))
        assert r.status_code == 303
        await imports.run_pending(ctx)
    async with ctx.db.read() as conn:
        q = select(tables.accesses.c.street_name).where(tables.accesses.c.access_id == "L1")
        assert (await conn.execute(q)).scalar_one() == "Östra Ågatan"


@pytest.mark.parametrize(
    ("content", "fmt", "field", "says"),
    [
        (b"", "csv", "file", "tom"),
        (b"   \r\n", "csv", "file", "tom"),
        (mdb(GOOD, sep="\t"), "csv", "format", ""),
        (mdb(GOOD), "tab", "format", ""),
        (mdb(GOOD, encoding="utf-16"), "csv", "file", "UTF-8 eller Latin-1"),
        (b"name,age\r\nEva,4\r\n", "csv", "file", ""),
        (mdb(GOOD), "xls", "format", ""),
    ],
)
async def test_a_file_that_is_not_an_mdb2_file_is_refused_and_nothing_is_stored(
    ctx: AppContext, orgs: dict[str, int], content: bytes, fmt: str, field: str, says: str
) -> None:
    async with admin_browser(ctx, "koa.admin") as b:
        r = await upload(b, content, fmt)
        assert r.status_code == 400, r.text[:300]
        assert says in Page(r).error_of(field) if field == "file" else 'id="format-error"' in r.text
    assert await count(ctx, tables.imports) == 0
    assert var_files(ctx) == []


async def test_an_upload_over_the_limit_gets_413_before_it_is_read(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    small = ctx.settings.model_copy(update={"max_upload_bytes": 2000})
    ctx2 = AppContext(db=ctx.db, settings=small)
    big = mdb([row(f"B{i}") for i in range(400)])  # about 40 kB
    async with admin_browser(ctx2, "koa.admin") as b:
        token = await b.token()
        read: list[int] = []

        async def chunks() -> AsyncIterator[bytes]:
            yield b'--x\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            yield token.encode() + b"\r\n--x"
            yield b'\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
            for i in range(0, len(big), 500):
                read.append(i)
                yield big[i : i + 500]
            yield b"\r\n--x--\r\n"

        declared = await b.http.post(
            "/staff/admin/accesses",
            content=chunks(),
            headers={
                "content-type": "multipart/form-data; boundary=x",
                "content-length": str(len(big) + 300),
            },
        )
        assert declared.status_code == 413 and "högst 2 kB" in declared.text
        assert read == []  # not a byte of the file was read
        streamed = await b.http.post(  # no length declared: stopped while it is read
            "/staff/admin/accesses",
            content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=x"},
        )
        assert streamed.status_code == 413
        assert len(read) < len(big) // 500  # reading stopped at the limit
    assert await count(ctx, tables.imports) == 0
    assert var_files(ctx) == []


async def test_a_second_upload_while_one_is_under_way_is_refused_clearly(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    async with admin_browser(ctx, "koa.admin") as b:
        assert (await upload(b, mdb(GOOD))).status_code == 303
        second = await upload(b, mdb([row("OTHER")]))
        assert second.status_code == 409
        assert "pågår redan" in second.text and "koa.admin" in second.text
        assert (await b.get("/staff/admin/accesses")).status == 200
    assert await count(ctx, tables.imports) == 1
    assert len(var_files(ctx)) == 1
    async with admin_browser(ctx, "kob.admin") as kob:  # another network is not held up
        assert (await upload(kob, mdb([row("K1", coId="KOB")]))).status_code == 303


async def test_an_upload_without_a_valid_csrf_token_is_refused_and_nothing_stored(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    async with admin_browser(ctx, "koa.admin") as b:
        assert (await upload(b, mdb(GOOD), token="forged")).status_code == 403
    async with admin_browser(ctx, "koa.handler") as h:
        assert (await upload(h, mdb(GOOD))).status_code == 403
    async with admin_browser(ctx, "tl1.admin") as tl:
        assert (await upload(tl, mdb(GOOD))).status_code == 403
    async with admin_browser(ctx) as anonymous:
        r = await upload(anonymous, mdb(GOOD))
        assert r.status_code == 303 and "/staff/login" in r.headers["location"]
    assert await count(ctx, tables.imports) == 0 and var_files(ctx) == []


async def test_an_import_whose_worker_died_is_taken_up_again_and_finished_once(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    async with admin_browser(ctx, "koa.admin") as b:
        location = (await upload(b, mdb([*GOOD, *BAD]))).headers["location"]
    import_id = int(location.rsplit("/", 1)[1])
    # A worker claimed it, wrote some of it, and died: its heartbeat stopped.
    old = utcnow() - imports.STALE - timedelta(seconds=5)
    async with ctx.db.write() as conn:
        await conn.execute(
            update(tables.imports)
            .where(tables.imports.c.id == import_id)
            .values(state="running", claim_token="dead", heartbeat_at=old, rows_done=2)
        )
        await conn.execute(
            tables.import_rejections.insert().values(
                import_id=import_id, line=6, field="x", reason="from the dead worker"
            )
        )
    assert await imports.run_pending(ctx) == 1
    assert await imports.run_pending(ctx) == 0  # done: nothing left to take
    async with admin_browser(ctx, "koa.admin") as b:
        page = await b.get(location)
    assert 'data-state="done"' in page.html and 'data-field="rejected">2<' in page.html
    assert await count(ctx, tables.import_rejections) == 2  # the dead worker's are gone


async def test_the_upload_request_holds_no_more_than_a_chunk_of_the_file(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    """A 20 MB file sent in 64 kB chunks: the request's allocations stay far below its size."""
    body = mdb([row("M0")]) + b"M" * (20 << 20)  # the size is what counts here, not the rows
    async with admin_browser(ctx, "koa.admin") as b:
        token = await b.token()
        head = (
            b'--x\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            + token.encode()
            + b'\r\n--x\r\nContent-Disposition: form-data; name="format"\r\n\r\ncsv\r\n'
            + b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        )

        async def chunks() -> AsyncIterator[bytes]:
            yield head
            view = memoryview(body)
            for i in range(0, len(body), 1 << 16):
                yield bytes(view[i : i + (1 << 16)])
            yield b"\r\n--x--\r\n"

        tracemalloc.start()
        try:
            r = await b.http.post(
                "/staff/admin/accesses",
                content=chunks(),
                headers={"content-type": "multipart/form-data; boundary=x"},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert r.status_code == 303, r.text[:300]
    assert peak < 4 << 20, f"the upload held {peak} bytes at once"
    stored = Path(ctx.settings.var_dir) / "imports"
    assert [p.stat().st_size for p in stored.iterdir()] == [len(body)]
