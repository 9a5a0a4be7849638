"""A KO admin's market database: the network's accesses count and recent uploads, the upload of
an MdB2 file (``multipart/form-data``: ``file`` and ``format``, ``csv`` or ``tab``), the
upload's progress page and result (every rejected row by line number, also as CSV), and the
network's export.

URLs::

    GET  /staff/admin/accesses                            count, last imports, upload form
    POST /staff/admin/accesses                            upload (→ 303 to the import's page)
    GET  /staff/admin/accesses/imports/{id}               progress, then the result
    GET  /staff/admin/accesses/imports/{id}/rejected.csv  every rejected row
    GET  /staff/admin/accesses/export?format=csv|tab      the network's accesses

The upload is checked before its body is read — signed in, a KO admin, no other upload of the
network under way, a declared size within ``SERVICEGUIDE_MAX_UPLOAD_BYTES`` (else a 413 page) —
then streamed to disk (web.admin.upload) and imported in the background (services.imports). The
progress page refreshes itself every two seconds with ``<meta http-equiv="refresh">`` (no
JavaScript needed) until the import has finished.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from serviceguide.domain.errors import InvalidInput
from serviceguide.domain.mdb import MdbFormat
from serviceguide.services import imports, marketdb
from serviceguide.web.admin.page import AdminPage, admin_get, answer, get_page, parse_id
from serviceguide.web.admin.upload import BadForm, TooLarge, receive_upload
from serviceguide.web.guide.page import SECURITY_HEADERS

router = APIRouter(prefix="/staff/admin", include_in_schema=False)

UPLOAD_PATH = "/staff/admin/accesses"
#: Paths whose request bodies the server's general size limit leaves to the route.
UPLOAD_PATHS = frozenset({UPLOAD_PATH})
REFRESH_SECONDS = 2
#: What a form adds to its file: the boundaries, the part headers, the token and the format.
FORM_OVERHEAD = 16 * 1024


def size_text(n: int) -> str:
    return f"{n / 1_000_000:.0f} MB" if n >= 1_000_000 else f"{n / 1000:.0f} kB"


async def _render(
    page: AdminPage,
    *,
    status: int = 200,
    field_errors: dict[str, str] | None = None,
    busy: Any = None,
    fmt: str = "csv",
) -> Response:
    view = await imports.view(page.ctx, page.actor)
    page.get_path = "/staff/admin/accesses"
    return page.render(
        "admin/accesses.html",
        status=status,
        section="accesses",
        view=view,
        field_errors=field_errors or {},
        busy=busy,
        fmt=fmt,
        max_size=size_text(page.ctx.settings.max_upload_bytes),
    )


@router.get("/accesses", response_class=HTMLResponse)
async def accesses_page(request: Request) -> Response:
    return await get_page(request, _render)


@router.post("/accesses", response_class=HTMLResponse)
async def upload(request: Request) -> Response:
    page = await admin_get(request)  # signed in (a POST's body is not read for this)
    if isinstance(page, Response):
        return page

    async def handle(page: AdminPage) -> Response:
        ctx, actor = page.ctx, page.actor
        try:
            ticket = await imports.begin(ctx, actor)
        except imports.ImportBusy as e:
            return await _render(page, status=409, busy=e.current)
        limit = ctx.settings.max_upload_bytes
        declared = request.headers.get("content-length", "")
        if declared and (not declared.isdigit() or int(declared) > limit + FORM_OVERHEAD):
            return _too_large(page, limit)
        path = imports.new_path(ticket)
        try:
            got = await receive_upload(
                request,
                path,
                limit=limit,
                token_ok=lambda token: page.guard.valid(request, {"csrf_token": token}),
            )
        except TooLarge:
            return _too_large(page, limit)
        except BadForm as e:
            if e.csrf:
                return page.forbidden()
            errors = {"file": page.t("err.file.empty")}
            return await _render(page, status=400, field_errors=errors)
        if not page.guard.valid(request, got.fields):
            path.unlink(missing_ok=True)
            return page.forbidden()
        fmt = got.fields.get("format", "")
        try:
            chosen = imports.check_file(path, fmt)
            import_id = await imports.queue(
                ctx, actor, ticket, path, filename=got.filename, fmt=chosen, size=got.size
            )
        except InvalidInput as e:
            path.unlink(missing_ok=True)
            errors = {e.field: page.error_text(e)}
            return await _render(page, status=400, field_errors=errors, fmt=fmt or "csv")
        except imports.ImportBusy as e:
            return await _render(page, status=409, busy=e.current)
        return page.redirect(f"/staff/admin/accesses/imports/{import_id}")

    return await answer(page, handle)


def _too_large(page: AdminPage, limit: int) -> Response:
    response = page.render(
        "admin/problem.html",
        status=413,
        title_key="upload.too_large.title",
        text_key="upload.too_large.text",
        text_values={"max": size_text(limit)},
    )
    response.headers["Connection"] = "close"
    return response


@router.get("/accesses/imports/{raw_id}", response_class=HTMLResponse)
async def import_page(request: Request, raw_id: str) -> Response:
    async def handle(page: AdminPage) -> Response:
        import_id = parse_id(raw_id)
        if import_id is None:
            return page.not_found()
        record = await imports.get(page.ctx, page.actor, import_id)
        after = parse_id(request.query_params.get("after", "")) or 0
        rows = await imports.rejections(page.ctx, page.actor, import_id, after=after)
        page.get_path = f"/staff/admin/accesses/imports/{import_id}"
        return page.render(
            "admin/import.html",
            section="accesses",
            r=record,
            rejections=rows,
            after=after,
            more=len(rows) == imports.PAGE,
            refresh=REFRESH_SECONDS if record.busy else 0,
        )

    return await get_page(request, handle)


def _csv_response(chunks: AsyncIterator[str], filename: str) -> Response:
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/accesses/imports/{raw_id}/rejected.csv")
async def rejected_csv(request: Request, raw_id: str) -> Response:
    async def handle(page: AdminPage) -> Response:
        import_id = parse_id(raw_id)
        if import_id is None:
            return page.not_found()
        await imports.get(page.ctx, page.actor, import_id)  # 403/404 before the stream starts
        batches = imports.all_rejections(page.ctx, page.actor, import_id)

        async def chunks() -> AsyncIterator[str]:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(["line", "field", "reason"])
            yield "\ufeff" + out.getvalue()
            async for batch in batches:
                out = io.StringIO()
                writer = csv.writer(out, lineterminator="\r\n")
                writer.writerows(batch)
                yield out.getvalue()

        return _csv_response(chunks(), f"import-{import_id}-rejected.csv")

    return await get_page(request, handle)


@router.get("/accesses/export")
async def export(request: Request) -> Response:
    async def handle(page: AdminPage) -> Response:
        view = await imports.view(page.ctx, page.actor)
        raw = request.query_params.get("format", "csv")
        fmt = MdbFormat.TAB if raw == "tab" else MdbFormat.CSV
        coid, ctx = view.network.coid, page.ctx
        # Written to a file first (a network may hold millions of accesses), then sent.
        directory = Path(ctx.settings.var_dir) / "imports"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"export-{secrets.token_hex(8)}.tmp"
        try:
            with path.open("w", encoding="utf-8", newline="") as out:
                await marketdb.export_accesses(ctx, coid, fmt, out)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        name = f"{coid}-accesses.{'tab' if fmt == MdbFormat.TAB else 'csv'}"
        headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
        return FileResponse(
            path,
            media_type="text/csv; charset=utf-8",
            headers=headers,
            background=BackgroundTask(path.unlink, missing_ok=True),
        )

    return await get_page(request, handle)
