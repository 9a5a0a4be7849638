"""A TL's offerings in ON-API 2.6 ``products`` form: ``/plain/onapi/{xsp}/products[/{accessId}]``.

JSON, HTTP Basic auth with ``api_user:api_key`` as for the accesses (api.onapi): the TL itself,
or the KO of a network that admits the TL (its network's offerings); others 403.
``Last-Modified`` on every answer with offerings; ``If-Modified-Since`` answers 304 when
nothing changed since. Errors are ``{"cause": …}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from serviceguide.api.onapi import _TEXT, _cause, _guarded, _http_date, _if_modified_since, _obj
from serviceguide.services import product_listing
from serviceguide.services.context import AppContext

router = APIRouter(prefix="/plain/onapi", tags=["ON-API 2.6 products"])

_FILE = _obj({"type": _TEXT, "url": _TEXT, "updated": _TEXT})
_PRICE = {"type": "string", "description": "SEK, decimal comma: 250,50"}
_DURATION = {"type": "string", "description": "ISO 8601 duration: P1M"}
_OFFERING = _obj(
    {
        "offeringId": _TEXT,
        "marketingInformation": _obj(
            {
                "offeringName": _TEXT,
                "consumerTypes": {"type": "array", "items": _TEXT},
                "description": _TEXT,
                "deliveryInformation": _TEXT,
                "startPrice": _PRICE,
                "price": _PRICE,
                "pricePeriod": _DURATION,
                "periodOfNotice": _DURATION,
                "agreementLength": _DURATION,
                "campaignLength": _DURATION,
                "basePrice": _PRICE,
                "campaign": {"type": "boolean"},
                "valueAdded": _PRICE,
            },
            "deliveryInformation",
            "agreementLength",
            "campaignLength",
            "basePrice",
            "valueAdded",
        ),
    }
)
_PRODUCTS = _obj(
    {
        "serviceProvider": _obj(
            {
                "phone": _TEXT,
                "openingHours": _TEXT,
                "email": _TEXT,
                "website": _TEXT,
                "presentation": _TEXT,
                "files": {"type": "array", "items": _FILE},
            },
            "openingHours",
        ),
        "products": {
            "type": "array",
            "items": _obj(
                {
                    "coProducts": {"type": "array", "items": _TEXT},
                    "productId": _TEXT,
                    "marketingInformation": _obj(
                        {
                            "productName": _TEXT,
                            "categories": {"type": "array", "items": _TEXT},
                            "description": _TEXT,
                        }
                    ),
                    "files": {"type": "array", "items": _FILE},
                    "offerings": {"type": "array", "items": _OFFERING},
                }
            ),
        },
    }
)
_ERR = {"application/json": {"schema": _obj({"cause": _TEXT})}}


def _openapi(*names: str) -> dict[str, Any]:
    return {
        "description": "HTTP Basic authentication with `api_user:api_key` of the TL itself, or "
        "of a KO whose network admits the TL (that network's offerings). `Last-Modified` on "
        "every answer; `If-Modified-Since`: 304 when nothing changed since.",
        "security": [{"onapiBasic": []}],
        "parameters": [
            *({"name": n, "in": "path", "required": True, "schema": _TEXT} for n in names),
            {"name": "If-Modified-Since", "in": "header", "required": False, "schema": _TEXT},
        ],
        "responses": {
            "200": {
                "description": "the TL's offerings, ON-API 2.6 `products` form",
                "content": {"application/json": {"schema": _PRODUCTS}},
            },
            "304": {"description": "not changed since If-Modified-Since"},
            "401": {"description": "no, malformed or wrong Basic credentials", "content": _ERR},
            "403": {"description": "a TL the caller may not read (or no such TL)", "content": _ERR},
            "404": {"description": "no such access in the TL's networks", "content": _ERR},
            "429": {"description": "too many failed logins; see Retry-After", "content": _ERR},
        },
    }


async def _answer(request: Request, access_id: str | None) -> Response:
    caller = await _guarded(request)
    if isinstance(caller, Response):
        return caller
    ctx: AppContext = request.app.state.ctx
    try:
        answer = await product_listing.list_products(
            ctx, caller, request.path_params["xsp"], access_id, _if_modified_since(request)
        )
    except product_listing.Forbidden as e:
        return _cause(403, str(e))
    except product_listing.NoAccesses as e:
        return _cause(404, str(e))
    headers = {"Cache-Control": "no-store"}
    if answer.last_modified is not None:
        headers["Last-Modified"] = _http_date(answer.last_modified)
    if answer.document is None:
        return Response(status_code=304, headers=headers)
    return JSONResponse(answer.document, headers=headers)


@router.get(
    "/{xsp}/products",
    summary="A TL's offerings (ON-API 2.6 products)",
    openapi_extra=_openapi("xsp"),
)
@router.get("/{xsp}/products/", include_in_schema=False)
async def list_products(request: Request) -> Response:
    return await _answer(request, None)


@router.get(
    "/{xsp}/products/{access_id}",
    summary="A TL's offerings on one access",
    openapi_extra=_openapi("xsp", "access_id"),
)
async def access_products(request: Request) -> Response:
    return await _answer(request, request.path_params["access_id"])
