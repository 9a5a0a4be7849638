"""The XSP order API (``/plain/serviceguide_log``) as its OpenAPI description says it.

Each method has a form of its own, ``XspOrders``, ``XspSetStatus`` …, among which ``method``
chooses (a discriminated ``oneOf``): the POST body is one of them, and so are the GET query
parameters (one object parameter, ``style: form, explode: true``, that is, the form's fields as
query parameters). Each form says what the server checks before it looks anything up: which
fields the method needs, integer ranges, patterns. A request the description allows is never
refused as bad input (400); it may still be refused for who sends it (401), for what it names
(404: no such order) or for what it asks (409: a status change that is not allowed).
"""

from __future__ import annotations

from typing import Any

from serviceguide.api import textrules
from serviceguide.domain.status import EventType, MessageType, OrderStatus

DESCRIPTION = """The XSP order API. GET with query parameters or POST a form with the same fields
(the query string and the form are merged); `method` names the call and chooses which of the
forms `XspApiLogin` … `XspEvents` the other fields follow. Answers XML by default, JSON with
`output_format=json` or `Accept: application/json`. Every method but `api_login` needs the login
hash, as the field `hash` or as `Authorization: Bearer HASH` (`add_message` also takes `api_user`
alone from an allow-listed address). See docs/api.md for each method's fields and answers."""

#: The methods, in the order docs/api.md describes them.
METHODS = [
    "api_login",
    "orders",
    "customers",
    "order_info",
    "customer_info",
    "order_log",
    "set_status",
    "add_message",
    "events",
]
ERROR_ROOT = "serviceguide_log"
#: Ids are read as at most 18 digits (a 64-bit integer, whatever the database).
MAX_ID = 10**18 - 1
#: ``api_user`` is read as at most 9 digits.
MAX_API_USER = 10**9 - 1

_STATUSES = [s.value for s in OrderStatus]
_MESSAGE_TYPES = [t.value for t in MessageType]

# -- the request: one form per method ------------------------------------------------------

_HASH = {
    "type": "string",
    "description": "the login hash from `api_login`; or send `Authorization: Bearer HASH`. "
    "Empty counts as absent",
}
_OUTPUT_FORMAT = {
    "type": "string",
    "enum": ["xml", "json"],
    "description": "the answer's format (else `Accept` decides: JSON if it names "
    "`application/json`, XML otherwise)",
}
_API_USER = {
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_API_USER,
    "description": "the API user's number",
}
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_DATE = {
    "type": "string",
    "format": "date",
    "pattern": textrules.DATE,
    "description": "created on or after this day (local time), `YYYY-MM-DD`",
}
_SINCE_ID = {
    "type": "integer",
    "minimum": 0,
    "description": "only ids above this one, oldest first (a number beyond every id finds nothing)",
}
_LIMIT = {
    "type": "integer",
    "minimum": 1,
    "description": "at most this many (default and upper bound 1000: more counts as 1000)",
}


def _form(method: str, summary: str, fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
    properties = {"method": {"type": "string", "const": method}, **fields}
    properties["output_format"] = _OUTPUT_FORMAT
    return {
        "type": "object",
        "description": summary,
        "properties": properties,
        "required": ["method", *required],
    }


def _list_form(method: str, what: str) -> dict[str, Any]:
    form = _form(
        method,
        f"{what}: those created on or after `date`, or (polling) those with an id above "
        "`since_id`; one of the two is needed. `limit` applies to `since_id`.",
        {"hash": _HASH, "date": _DATE, "since_id": _SINCE_ID, "limit": _LIMIT},
        [],
    )
    form["anyOf"] = [{"required": ["date"]}, {"required": ["since_id"]}]
    return form


def _by_id(method: str, what: str, **fields: Any) -> dict[str, Any]:
    noun = "customer" if method == "customer_info" else "order"
    return _form(
        method,
        what,
        {"hash": _HASH, "id": {**_ID, "description": f"the {noun}'s id"}, **fields},
        ["id", *fields],
    )


def forms(message_max_length: int) -> dict[str, dict[str, Any]]:
    """The form of each method, by method name. ``message_max_length`` is the server's
    ``SERVICEGUIDE_MESSAGE_MAX_LENGTH``."""
    add_message = _by_id(
        "add_message",
        "Add a message to an order's log. Without a hash, `api_user` alone is taken from an "
        "address on that API user's allow-list.",
        type={"type": "string", "enum": _MESSAGE_TYPES},
        message={
            "type": "string",
            "pattern": textrules.trimmed(message_max_length, required=True),
            "description": f"the text: at most {message_max_length} characters once leading "
            "and trailing whitespace is removed, not empty, no control characters other than "
            "tab and line breaks",
        },
    )
    add_message["properties"]["api_user"] = {
        **_API_USER,
        "description": "without a hash: the API user, from an allow-listed address",
    }
    return {
        "api_login": _form(
            "api_login",
            "Log in: a hash for the other methods, valid for SERVICEGUIDE_HASH_TTL_SECONDS.",
            {
                "api_user": _API_USER,
                "api_key": {
                    "type": "string",
                    "pattern": textrules.not_blank(),
                    "description": "the API user's key",
                },
            },
            ["api_user", "api_key"],
        ),
        "orders": _list_form("orders", "Orders"),
        "customers": _list_form("customers", "Customers of the orders"),
        "order_info": _by_id("order_info", "One order."),
        "customer_info": _by_id("customer_info", "One customer, with contact details."),
        "order_log": _by_id("order_log", "An order's log entries."),
        "set_status": _by_id(
            "set_status",
            "Change an order's status (409 when the change is not allowed).",
            status={"type": "string", "enum": _STATUSES},
        ),
        "add_message": add_message,
        "events": _form(
            "events",
            "Events (new orders, status changes, messages) with an id above `since_id`.",
            {"hash": _HASH, "since_id": _SINCE_ID, "limit": _LIMIT},
            ["since_id"],
        ),
    }


#: The fields each method reads (the names do not depend on the length of a message). Another
#: field is ignored, even when it is given twice with different values.
FIELDS = {m: frozenset(f["properties"]) for m, f in forms(message_max_length=1).items()}


def component_name(method: str) -> str:
    """``set_status`` -> ``XspSetStatus``."""
    return "Xsp" + "".join(part.title() for part in method.split("_"))


def components(message_max_length: int) -> dict[str, dict[str, Any]]:
    """The forms as named schemas, for ``components.schemas``."""
    return {component_name(m): f for m, f in forms(message_max_length).items()}


_REF = "#/components/schemas/"
#: The form of any method: the one its ``method`` names.
ONE_OF: dict[str, Any] = {
    "oneOf": [{"$ref": _REF + component_name(m)} for m in METHODS],
    "discriminator": {
        "propertyName": "method",
        "mapping": {m: _REF + component_name(m) for m in METHODS},
    },
}


# The JSON form of the envelope (api/envelope.py): {"METHOD": {"response": {...}, "status": ...}}.
def _obj(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_INT = {"type": "integer"}
_TEXT = {"type": "string"}
_SECONDS = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"}
_MINUTES = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$"}
_STATUS = {"type": "string", "enum": _STATUSES}
_ORDER = {
    "id": _INT,
    "type": {"const": "order"},
    "date": _SECONDS,
    "status": _STATUS,
    "service": _INT,
    "xsp": _INT,
    "delivery": {"type": "string", "pattern": r"^(asap|\d{4}-\d{2}-\d{2})$"},
    "customer": _INT,
}
_CUSTOMER = {
    "id": _INT,
    "socket": _TEXT,
    "serial": {"type": "string", "pattern": r"^\d{12}$"},
    "firstname": _TEXT,
    "surname": _TEXT,
}


def _array(item: dict[str, Any], one: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": _obj(item)}
    if one:
        schema |= {"minItems": 1, "maxItems": 1}
    return schema


_RESPONSES: dict[str, dict[str, Any]] = {
    "api_login": {"message": _TEXT, "hash_key": {"type": "string", "pattern": "^[0-9a-f]{32}$"}},
    "orders": {"order": _array(_ORDER)},
    "customers": {"customer": _array({**_CUSTOMER, "date": _MINUTES})},
    "order_info": {
        "order": _array(
            {
                **_ORDER,
                "service_uid": _TEXT,
                "service_name": _TEXT,
                "xsp_name": _TEXT,
                "coid": _TEXT,
                "socket": _TEXT,
                "price_monthly": {"type": "number"},
                "price_once": {"type": "number"},
                "message": _TEXT,
                "updated": _SECONDS,
            },
            one=True,
        )
    },
    "customer_info": {
        "customer": _array(
            {**_CUSTOMER, "email": _TEXT, "address": _TEXT, "zip": _TEXT, "city": _TEXT}, one=True
        ),
        "data": _obj({"phone": _TEXT, "premise": _TEXT}),
    },
    "order_log": {
        "entry": _array(
            {
                "id": _INT,
                "date": _SECONDS,
                "type": {"type": "string", "enum": _MESSAGE_TYPES},
                "message": _TEXT,
                "user": _TEXT,
                "org": _TEXT,
            }
        )
    },
    "set_status": {"message": _TEXT},
    "add_message": {"message": _TEXT},
    "events": {
        "event": _array(
            {
                "id": _INT,
                "date": _SECONDS,
                "type": {"type": "string", "enum": [t.value for t in EventType]},
                "order": _INT,
                "status": _STATUS,
                "message_type": {"enum": [*_MESSAGE_TYPES, None]},
            }
        )
    },
}


def _envelope(roots: dict[str, dict[str, Any]], status: str) -> dict[str, Any]:
    """Exactly one of ``roots`` (the root element: the method's name) with its response."""
    return {
        "type": "object",
        "properties": {
            root: _obj({"response": response, "status": {"const": status}})
            for root, response in roots.items()
        },
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
    }


_XML = {"application/xml": {"schema": {"type": "string", "description": "the same tree in XML"}}}
_NO_STORE = {"Cache-Control": {"schema": {"const": "no-store"}, "required": True}}


def _success() -> dict[str, Any]:
    roots = {m: _obj(fields) for m, fields in _RESPONSES.items()}
    return {
        "description": "`<METHOD><response>…</response><status>success</status></METHOD>`; "
        "the JSON form holds the same tree, with `order`, `customer`, `entry` and `event` "
        "always arrays",
        "headers": _NO_STORE,
        "content": {"application/json": {"schema": _envelope(roots, "success")}, **_XML},
    }


def _failed(code: int, description: str) -> dict[str, Any]:
    body = _obj({"message": _TEXT, "code": {"const": code}})
    # The root is the method's name, or serviceguide_log when the method is missing or unknown.
    roots = dict.fromkeys([*METHODS, ERROR_ROOT], body)
    headers = dict(_NO_STORE)
    if code == 429:
        headers["Retry-After"] = {"schema": {"type": "integer", "minimum": 0}, "required": True}
    return {
        "description": f"{description}; `<status>failed</status>` with `<message>` and `<code>`",
        "headers": headers,
        "content": {"application/json": {"schema": _envelope(roots, "failed")}, **_XML},
    }


_OPENAPI_RESPONSES = {
    "200": _success(),
    "400": _failed(400, "missing or malformed parameter, unknown method"),
    "401": _failed(401, "bad credentials, or a missing, unknown or expired hash"),
    "404": _failed(404, "no such order/customer, or not visible to the caller"),
    "409": _failed(409, "status change not allowed"),
    "429": _failed(429, "too many failed logins; see Retry-After"),
}
#: A body over the server's limit on any request (serviceguide.middleware.RequestLimits).
_TOO_LARGE = {
    "description": "body larger than `SERVICEGUIDE_MAX_REQUEST_BYTES`; not in the envelope",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
                "additionalProperties": False,
            }
        }
    },
}

#: The login hash as an HTTP scheme (``components.securitySchemes``); the field ``hash`` is the
#: other way to send it. Optional: ``api_login`` needs none.
SECURITY_SCHEMES = {
    "xspHash": {
        "type": "http",
        "scheme": "bearer",
        "description": "the hash from `api_login` (or send it as the field `hash`)",
    }
}
_SECURITY: list[dict[str, list[str]]] = [{"xspHash": []}, {}]

GET_EXTRA = {
    "parameters": [
        {
            "name": "call",
            "in": "query",
            "required": True,
            "style": "form",
            "explode": True,
            "schema": ONE_OF,
            "description": "the method's form, as query parameters (`?method=orders&date=…`); "
            "`call` itself does not appear in the URL",
        }
    ],
    "responses": _OPENAPI_RESPONSES,
    "security": _SECURITY,
}

POST_EXTRA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {"schema": ONE_OF},
            "multipart/form-data": {"schema": ONE_OF},
        },
    },
    "responses": {**_OPENAPI_RESPONSES, "413": _TOO_LARGE},
    "security": _SECURITY,
}
