"""ON-API 2.4 `accesses` for the market database: ``/plain/onapi/{coid}/accesses[/{id}]``.

JSON, HTTP Basic auth with ``api_user:api_key``, ``Last-Modified`` on every answer with
accesses, ``If-Modified-Since`` for changes only (304 when none). Errors are ``{"cause": …}``
as ON-API's common responses say.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from serviceguide.domain.errors import AuthenticationFailed, Throttled
from serviceguide.domain.model import Caller
from serviceguide.services import auth, onapi
from serviceguide.services.context import AppContext

router = APIRouter(prefix="/plain/onapi", tags=["ON-API 2.4 accesses"])

CHALLENGE = {"WWW-Authenticate": 'Basic realm="ON-API", charset="UTF-8"'}


def _cause(status: int, cause: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"cause": cause}, status_code=status, headers=headers)


def _http_date(dt: datetime) -> str:
    return format_datetime(dt, usegmt=True)


def _if_modified_since(request: Request) -> datetime | None:
    raw = request.headers.get("if-modified-since")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None  # RFC 9110: an invalid date is ignored


async def _caller(request: Request) -> Caller:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise AuthenticationFailed("Basic authentication required")
    try:
        user, sep, key = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed("Malformed Basic credentials") from None
    if not sep or not user.isascii() or not user.isdigit() or len(user) > 9:
        raise AuthenticationFailed("Invalid api_user or api_key")
    ctx: AppContext = request.app.state.ctx
    client = request.client.host if request.client else None
    return await auth.caller_for_basic(ctx, int(user), key, client)


async def _guarded(request: Request) -> Caller | Response:
    try:
        return await _caller(request)
    except AuthenticationFailed as e:
        return _cause(401, str(e), CHALLENGE)
    except Throttled as e:
        return _cause(429, str(e), {"Retry-After": str(e.retry_after)})


@router.get("/{coid}/accesses", summary="All accesses of a network (or those changed)")
@router.get("/{coid}/accesses/", include_in_schema=False)
async def list_accesses(request: Request, coid: str) -> Response:
    caller = await _guarded(request)
    if isinstance(caller, Response):
        return caller
    ctx: AppContext = request.app.state.ctx
    try:
        listing = await onapi.list_accesses(ctx, caller, coid, _if_modified_since(request))
    except onapi.Forbidden as e:
        return _cause(403, str(e))
    except onapi.NoAccesses as e:
        return _cause(404, str(e))
    if listing.body is None or listing.last_modified is None:
        return Response(status_code=304, media_type="application/json")
    return StreamingResponse(
        listing.body,
        media_type="application/json",
        headers={"Last-Modified": _http_date(listing.last_modified), "Cache-Control": "no-store"},
    )


@router.get("/{coid}/accesses/{access_id}", summary="One access with its services")
async def get_access(request: Request, coid: str, access_id: str) -> Response:
    caller = await _guarded(request)
    if isinstance(caller, Response):
        return caller
    ctx: AppContext = request.app.state.ctx
    try:
        last_modified, doc = await onapi.get_access(
            ctx, caller, coid, access_id, _if_modified_since(request)
        )
    except onapi.Forbidden as e:
        return _cause(403, str(e))
    except onapi.NoAccesses as e:
        return _cause(404, str(e))
    headers = {"Last-Modified": _http_date(last_modified), "Cache-Control": "no-store"}
    if doc is None:
        return Response(status_code=304, headers=headers)
    return JSONResponse(doc, headers=headers)
