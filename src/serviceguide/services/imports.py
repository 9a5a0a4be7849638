"""Market-database uploads on the web: a KO admin's file, imported in the background by the
server, with its progress and every rejected row kept in the database.

How an upload goes:

1. :func:`begin` — before the request body is read: the caller must be a KO admin, and the
   network must have no upload queued or running (a second one is refused, clearly, with who
   started the first and when; uploads of one network are never interleaved).
2. The web layer streams the body to a file under ``SERVICEGUIDE_VAR_DIR/imports`` (never the
   whole file in memory) and :func:`check_file` reads its first line: empty, not text (NUL
   bytes: UTF-16, a spreadsheet), or a header that is not MdB2 in the chosen format is refused
   at once, and the file deleted.
3. :func:`queue` writes the ``imports`` row (state ``queued``) and the admin-log entry. The
   database's partial unique index makes sure only one upload per network is ever queued or
   running, whatever two requests race.
4. Every server worker runs :func:`imports_in_background`: it claims a queued import (one
   UPDATE: no two workers take the same), imports it with :func:`marketdb.import_accesses` in
   batches, writing after each batch the rows done, the rejections so far and a heartbeat.
5. A worker that dies mid-import stops writing its heartbeat; after ``STALE`` another worker
   (or the same one, restarted) claims the import again and runs it from the start. That is
   safe: an import is an upsert by accessId, so rows already written are found unchanged.
   The file is deleted when the import is done or has failed.

The progress page and the result read the row, so they work whichever worker answers. With
several machines, every ``serve`` must see the same ``SERVICEGUIDE_VAR_DIR/imports`` (a shared
disk), or uploads must be routed to one machine: a worker claims only imports whose file it can
read.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import io
import logging
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import Conflict, InvalidInput, NotFound
from serviceguide.domain.mdb import Header, MdbFormat
from serviceguide.domain.model import Organisation, OrgKind
from serviceguide.domain.roles import Actor, require_admin, require_own
from serviceguide.services import audit, marketdb
from serviceguide.services.availability import is_outage
from serviceguide.services.background import repeating
from serviceguide.services.context import AppContext
from serviceguide.storage import catalogue
from serviceguide.storage import imports as repo
from serviceguide.storage import organisations as orgs
from serviceguide.storage.catalogue import NetworkRecord
from serviceguide.storage.imports import ImportRecord

log = logging.getLogger(__name__)

#: A running import whose heartbeat is older than this is taken over by another worker.
STALE = timedelta(seconds=60)
#: How often an idle worker looks for queued imports.
POLL_SECONDS = 1.0
#: Rejections shown on one page of the result.
PAGE = 1000
#: Rows per batch of an upload: smaller than the command line's, so that the two batches in
#: flight (one parsed while the other is written) stay small beside the server's own memory.
BATCH_ROWS = 5000


class _TakenOver(Exception):
    """Another worker claimed the import (this one had stopped writing for too long)."""


class ImportBusy(Conflict):
    """The network has an upload queued or running."""

    def __init__(self, current: ImportRecord) -> None:
        super().__init__(f"import {current.id} of this network is under way")
        self.current = current


@dataclass(frozen=True, slots=True)
class Upload:
    """What an upload may go ahead with: the network and where its file goes."""

    org: Organisation
    network: NetworkRecord
    directory: Path


@dataclass(frozen=True, slots=True)
class AccessesView:
    network: NetworkRecord
    accesses: int  # in use
    recent: list[ImportRecord]


def _directory(ctx: AppContext) -> Path:
    path = Path(ctx.settings.var_dir) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _own_network(ctx: AppContext, actor: Actor) -> tuple[Organisation, NetworkRecord]:
    require_admin(actor, OrgKind.KO)
    async with ctx.db.read() as conn:
        org = await orgs.by_id(conn, actor.org_id or 0)
        network = await catalogue.network_by_coid(conn, org.coid) if org and org.coid else None
    if org is None or network is None:
        raise NotFound("network", actor.org_id)
    return org, network


async def view(ctx: AppContext, actor: Actor) -> AccessesView:
    from serviceguide.storage import accesses

    _, network = await _own_network(ctx, actor)
    async with ctx.db.read() as conn:
        count = await accesses.count(conn, network.id, retired=False)
        recent = await repo.recent(conn, network.id, 10)
    return AccessesView(network, count, recent)


async def begin(ctx: AppContext, actor: Actor) -> Upload:
    """May the actor upload now? Checked before the body is read."""
    org, network = await _own_network(ctx, actor)
    async with ctx.db.read() as conn:
        current = await repo.busy_of(conn, network.id)
    if current is not None:
        raise ImportBusy(current)
    return Upload(org, network, _directory(ctx))


def new_path(upload: Upload) -> Path:
    return upload.directory / f"upload-{secrets.token_hex(12)}.part"


def check_file(path: Path, fmt: str) -> MdbFormat:
    """The upload's format, after a look at its first line; :class:`InvalidInput` on ``file``
    or ``format`` for a file that cannot be an MdB2 file."""
    try:
        chosen = MdbFormat(fmt)
    except ValueError:
        raise InvalidInput("format", "format must be csv or tab") from None
    with path.open("rb") as f:
        head = f.read(1 << 16)
    if not head.strip():
        raise InvalidInput("file", "the file is empty")
    if b"\x00" in head:
        raise InvalidInput("file", "the file is not text in UTF-8 or Latin-1 (encoding)")
    first = head.splitlines()[0] if head.splitlines() else head
    try:
        text = codecs.decode(first, "utf-8-sig")
    except UnicodeDecodeError:
        text = codecs.decode(first, marketdb.LEGACY, errors="replace")
    cells = next(csv.reader(io.StringIO(text), delimiter=chosen.delimiter), [])
    try:
        Header.parse(cells)
    except InvalidInput as e:
        other = MdbFormat.TAB if chosen == MdbFormat.CSV else MdbFormat.CSV
        if other.delimiter in text and chosen.delimiter not in text:
            raise InvalidInput("format", f"the file is {other.value.upper()}, not {fmt}") from None
        raise InvalidInput("file", f"not an MdB2 file: {e.message}") from None
    return chosen


async def queue(
    ctx: AppContext,
    actor: Actor,
    upload: Upload,
    path: Path,
    *,
    filename: str,
    fmt: MdbFormat,
    size: int,
) -> int:
    """Queue the uploaded file for import; :class:`ImportBusy` if another got there first."""
    async with ctx.db.write() as conn:
        try:
            import_id = await repo.insert_import(
                conn,
                network_id=upload.network.id,
                org_id=upload.org.id,
                state="queued",
                format=fmt.value,
                filename=filename[:200] or "upload",
                path=str(path),
                bytes=size,
                created_by=actor.name,
                created_at=utcnow(),
            )
        except repo.Busy:
            current = await repo.busy_of(conn, upload.network.id)
            path.unlink(missing_ok=True)
            if current is None:  # finished meanwhile: a retry would be accepted
                raise InvalidInput("file", "another import just finished; upload again") from None
            raise ImportBusy(current) from None
        await audit.record(
            conn,
            actor,
            upload.org,
            "accesses.upload",
            f"import {import_id}",
            after={"file": filename[:200], "format": fmt, "bytes": size},
        )
    return import_id


async def get(ctx: AppContext, actor: Actor, import_id: int) -> ImportRecord:
    """One of the actor's network's uploads (another network's is not found)."""
    _, network = await _own_network(ctx, actor)
    async with ctx.db.read() as conn:
        found = await repo.get(conn, import_id)
    require_own(actor, found.org_id if found else None, "import", import_id)
    assert found is not None and found.network_id == network.id
    return found


async def rejections(
    ctx: AppContext, actor: Actor, import_id: int, *, after: int = 0, limit: int = PAGE
) -> list[tuple[int, str, str]]:
    await get(ctx, actor, import_id)
    async with ctx.db.read() as conn:
        return await repo.rejections(conn, import_id, after=after, limit=limit)


async def all_rejections(
    ctx: AppContext, actor: Actor, import_id: int
) -> AsyncIterator[list[tuple[int, str, str]]]:
    """Every rejected row, in batches (the CSV download)."""
    await get(ctx, actor, import_id)
    async with ctx.db.read() as conn:
        async for batch in repo.iter_rejections(conn, import_id):
            yield batch


# --- the background worker ----------------------------------------------------------------------


def _count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


async def run(ctx: AppContext, record: ImportRecord) -> bool:
    """Claim and run one import; False if another worker has it."""
    token = secrets.token_hex(16)
    now = utcnow()
    async with ctx.db.write() as conn:
        if not await repo.claim(conn, record.id, token, now, now - STALE):
            return False
    path = Path(record.path)
    async with ctx.db.read() as conn:
        network = await catalogue.network_by_id(conn, record.network_id)
    assert network is not None
    lines = await asyncio.to_thread(_count_lines, path)
    async with ctx.db.write() as conn:
        await repo.progress(conn, record.id, token, utcnow(), lines=max(lines - 1, 0))

    async def after_batch(report: marketdb.ImportReport, _: marketdb.ImportProgress) -> None:
        found = [(r.line, r.field, r.reason) for r in report.rejections]
        report.rejections.clear()  # kept in the database, not in memory
        async with ctx.db.write() as conn:
            ok = await repo.progress(
                conn,
                record.id,
                token,
                utcnow(),
                rows_done=report.imported + report.rejected_rows,
                rejected=report.rejected_rows,
                inserted=report.inserted,
                updated=report.updated,
                unchanged=report.unchanged,
            )
            if ok:
                await repo.add_rejections(conn, record.id, found)
        if not ok:
            raise _TakenOver()

    state, error = "done", None
    try:
        await marketdb.import_accesses(
            ctx,
            network.coid,
            path,
            record.format,
            after_batch=after_batch,
            batch_size=BATCH_ROWS,
        )
    except InvalidInput as e:
        state, error = "failed", e.message
    except _TakenOver:
        return True
    except Exception as e:
        if is_outage(e):
            raise  # left running: taken up again once the database is back
        log.exception("import %s failed", record.id)
        state, error = "failed", f"the import stopped: {type(e).__name__}"
    async with ctx.db.write() as conn:
        await repo.progress(
            conn, record.id, token, utcnow(), state=state, error=error, finished_at=utcnow()
        )
    with contextlib.suppress(OSError):
        path.unlink()
    return True


async def run_pending(ctx: AppContext) -> int:
    """Run every import this worker may take now (queued, or running without a heartbeat);
    returns how many it ran."""
    async with ctx.db.read() as conn:
        found = await repo.claimable(conn, utcnow() - STALE)
    ran = 0
    for record in found:
        if os.path.exists(record.path) and await run(ctx, record):
            ran += 1
    return ran


@contextlib.asynccontextmanager
async def imports_in_background(ctx: AppContext) -> AsyncIterator[None]:
    """Run uploads as they are queued, for as long as the server runs."""
    async with repeating(
        "imports", lambda: run_pending(ctx), every=POLL_SECONDS, backoff_cap=30.0, log=log
    ):
        yield
