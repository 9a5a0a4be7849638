"""ON-API 2.4 `accesses` for the market database: ``/plain/onapi/{coid}/accesses[/{id}]``.

JSON, HTTP Basic auth with ``api_user:api_key``, ``Last-Modified`` on every answer with
accesses, ``If-Modified-Since`` for changes only (304 when none). Errors are ``{"cause": …}``
as ON-API's common responses say.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from serviceguide.domain.errors import AuthenticationFailed, Throttled
from serviceguide.domain.model import Caller
from serviceguide.domain.ordering import is_digits
from serviceguide.services import auth, onapi
from serviceguide.services.context import AppContext
from serviceguide.services.onapi import PREMISES

router = APIRouter(prefix="/plain/onapi", tags=["ON-API 2.4 accesses"])

CHALLENGE = {"WWW-Authenticate": 'Basic realm="ON-API", charset="UTF-8"'}
#: For ``components.securitySchemes`` of the OpenAPI description (serviceguide.api.openapi).
SECURITY_SCHEMES = {
    "onapiBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "`api_user:api_key` of a KO's or TL's API user",
    }
}


# The answers as documented in the OpenAPI description.
def _obj(properties: dict[str, Any], *optional: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


_TEXT = {"type": "string"}
_SERVICE = _obj(
    {
        "service": {"type": "string", "description": "the guide service's `uid`"},
        "connection": {"const": "YES"},
        "available": {"const": "YES"},
        "disconnection": {"const": ""},
        "forcedTakeoverPossible": {"type": "boolean"},
    }
)
_ACCESS_FIELDS: dict[str, Any] = {
    "accessId": _TEXT,
    "streetName": _TEXT,
    "streetNumber": _TEXT,
    "streetLittera": _TEXT,
    "postalCode": _TEXT,
    "city": _TEXT,
    "countryCode": _TEXT,
    "premisesType": {"type": "string", "enum": sorted({*PREMISES.values(), "UNKNOWN"})},
    "mduApartmentNumber": _TEXT,
    "mduDistinguisher": _TEXT,
    "accessState": {"const": "CONNECTED"},
    "coNetworkAgreement": _TEXT,
    "services": {"type": "array", "items": _SERVICE},
}
_MDU = ("mduApartmentNumber", "mduDistinguisher")
_ACCESS = _obj(_ACCESS_FIELDS, *_MDU)
_ONE_ACCESS = _obj({**_ACCESS_FIELDS, "subscriptions": {"type": "array", "maxItems": 0}}, *_MDU)
_HTTP_DATE = {"schema": {"type": "string"}, "required": True}
_JSON_CAUSE = {"application/json": {"schema": _obj({"cause": _TEXT})}}


def _error_doc(description: str, **headers: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"description": description, "content": _JSON_CAUSE}
    if headers:
        doc["headers"] = headers
    return doc


def _responses(ok: dict[str, Any], not_modified: dict[str, Any]) -> dict[str, Any]:
    return {
        "200": {
            "description": "the accesses, ON-API 2.4 form",
            "headers": {"Last-Modified": _HTTP_DATE},
            "content": {"application/json": {"schema": ok}},
        },
        "304": not_modified,
        "401": _error_doc(
            "no, malformed or wrong Basic credentials",
            **{"WWW-Authenticate": {"schema": _TEXT, "required": True}},
        ),
        "403": _error_doc("a network the caller may not read (or no such network)"),
        "404": _error_doc("the network has no accesses, or not this one"),
        "429": _error_doc(
            "too many failed logins; see Retry-After",
            **{"Retry-After": {"schema": {"type": "integer", "minimum": 0}, "required": True}},
        ),
    }


def _openapi(*names: str, ok: dict[str, Any], not_modified: dict[str, Any]) -> dict[str, Any]:
    """Path parameters are read from the path, not declared as arguments: any text is valid, so
    there is no 422 to document."""
    return {
        "description": "HTTP Basic authentication with `api_user:api_key` of a KO (its own "
        "network) or a TL (networks where it sells services). JSON; `Last-Modified` on "
        "every answer with accesses; `If-Modified-Since` for the accesses changed since.",
        "parameters": [
            *({"name": n, "in": "path", "required": True, "schema": _TEXT} for n in names),
            {
                "name": "If-Modified-Since",
                "in": "header",
                "required": False,
                "schema": _TEXT,
                "description": "an HTTP date: only what changed since (an invalid date is ignored)",
            },
        ],
        "responses": _responses(ok, not_modified),
        "security": [{"onapiBasic": []}],
    }


def _cause(status: int, cause: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"cause": cause}, status_code=status, headers=headers)


def _http_date(dt: datetime) -> str:
    return format_datetime(dt, usegmt=True)


def _if_modified_since(request: Request) -> datetime | None:
    raw = request.headers.get("if-modified-since")
    if not raw:
        return None
    try:
        parsed = parsedate_to_datetime(raw)
        # An HTTP date is GMT; a date without a zone (or "-0000") is read as GMT too, and one
        # that is not a time in UTC at all (year 9999 at -23:59) is as invalid as any other.
        return parsed.replace(tzinfo=parsed.tzinfo or UTC).astimezone(UTC)
    except (TypeError, ValueError, OverflowError):
        return None  # RFC 9110: an invalid date is ignored


async def _caller(request: Request) -> Caller:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise AuthenticationFailed("Basic authentication required")
    try:
        user, sep, key = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed("Malformed Basic credentials") from None
    if not sep or not is_digits(user) or len(user) > 9:
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


@router.get(
    "/{coid}/accesses",
    summary="All accesses of a network (or those changed)",
    openapi_extra=_openapi(
        "coid",
        ok={"type": "array", "items": _ACCESS},
        not_modified={"description": "nothing changed since If-Modified-Since"},
    ),
)
@router.get("/{coid}/accesses/", include_in_schema=False)
async def list_accesses(request: Request) -> Response:
    coid = request.path_params["coid"]
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


@router.get(
    "/{coid}/accesses/{access_id}",
    summary="One access with its services",
    openapi_extra=_openapi(
        "coid",
        "access_id",
        ok=_ONE_ACCESS,
        not_modified={
            "description": "not changed since If-Modified-Since",
            "headers": {"Last-Modified": _HTTP_DATE},
        },
    ),
)
async def get_access(request: Request) -> Response:
    coid, access_id = request.path_params["coid"], request.path_params["access_id"]
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
