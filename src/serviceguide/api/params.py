"""Reading and checking the XSP API's parameters (query string or POSTed form)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from serviceguide.domain.errors import InvalidInput
from serviceguide.domain.ordering import has_control_chars, is_digits
from serviceguide.domain.status import MessageType, OrderStatus

MAX_BODY = 1 << 20
MAX_FIELDS = 100  # of a multipart form; the methods take at most a dozen parameters
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_LIMIT = 1000
MAX_ID = 2**63 - 1  # PostgreSQL bigint
_DIGITS = re.compile(r"^[0-9]{1,18}$")  # fits a 64-bit integer
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _decode_pairs(raw: bytes, problems: list[InvalidInput]) -> list[tuple[str, str]]:
    """Decode ``a=b&c=d``; text that is not UTF-8 is kept (with U+FFFD) and reported."""
    pairs = []
    for part in raw.split(b"&"):
        if not part:
            continue
        key_raw, _, value_raw = part.partition(b"=")
        key_b = unquote_to_bytes(key_raw.replace(b"+", b" "))
        value_b = unquote_to_bytes(value_raw.replace(b"+", b" "))
        key = key_b.decode("utf-8", errors="replace")
        value = value_b.decode("utf-8", errors="replace")
        try:
            key_b.decode("utf-8")
            value_b.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(InvalidInput(key, f"Parameter {key} is not valid UTF-8"))
        pairs.append((key, value))
    return pairs


@dataclass(frozen=True, slots=True)
class Params:
    values: dict[str, str]
    #: what is wrong with the request as a whole (not UTF-8, a body too large); reported as a
    #: 400 after authentication, like any other bad parameter
    problems: list[InvalidInput]
    #: names given more than once with different values (the first is in ``values``): a 400
    #: for a name the method reads (:func:`repeated`); a name it does not read is ignored
    repeated: frozenset[str] = frozenset()


def repeated(name: str) -> InvalidInput:
    return InvalidInput(name, f"Parameter {name} is given more than once")


async def read_params(request: Request) -> Params:
    """Query string and (for POST) form fields, merged."""
    problems: list[InvalidInput] = []
    pairs = _decode_pairs(request.scope.get("query_string", b""), problems)
    ctype = request.headers.get("content-type", "")
    if request.method == "POST" and ctype.startswith(_FORMS):
        announced = request.headers.get("content-length", "")
        announced_too_large = is_digits(announced) and int(announced) > MAX_BODY
        # Not read at all when announced too large; read and measured when chunked.
        if announced_too_large or len(body := await request.body()) > MAX_BODY:
            problems.append(InvalidInput("body", "Request body is too large"))
        elif ctype.startswith("application/x-www-form-urlencoded"):
            pairs += _decode_pairs(body, problems)
        else:
            try:
                form = await request.form(max_files=0, max_fields=MAX_FIELDS)
            except (HTTPException, MultiPartException) as e:
                # No boundary, not multipart at all, a file, too many fields: Starlette's words.
                why = e.detail if isinstance(e, HTTPException) else e.message
                problems.append(InvalidInput("body", f"The multipart form cannot be read: {why}"))
            else:
                pairs += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    values: dict[str, str] = {}
    twice: list[str] = []
    for key, value in pairs:
        if key in values and values[key] != value:
            twice.append(key)
            continue
        values[key] = value
    return Params(values, problems, frozenset(twice))


def api_user(value: str) -> int:
    """An ``api_user`` number: ASCII digits only."""
    value = value.strip()
    if not _DIGITS.match(value) or len(value) > 9 or int(value) == 0:
        raise InvalidInput("api_user", "Parameter api_user must be a positive integer")
    return int(value)


def required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise InvalidInput(name, f"Missing parameter: {name}")
    if value.strip() == "":
        raise InvalidInput(name, f"Empty parameter: {name}")
    return value


def positive_int(params: dict[str, str], name: str) -> int:
    value = required(params, name).strip()
    if not _DIGITS.match(value) or int(value) == 0:
        raise InvalidInput(name, f"Parameter {name} must be a positive integer, got {value[:40]!r}")
    return int(value)


def _whole_number(params: dict[str, str], name: str) -> int | None:
    """A non-negative integer of any size, or None when it is not written as one."""
    value = required(params, name).strip()
    if not is_digits(value):
        return None
    digits = value.lstrip("0")
    return 0 if not digits else (int(digits) if len(digits) <= 19 else 10**19)


def optional_since_id(params: dict[str, str]) -> int | None:
    """``since_id``: 0 or more; a number beyond every possible id just finds nothing."""
    if "since_id" not in params:
        return None
    number = _whole_number(params, "since_id")
    if number is None:
        raise InvalidInput(
            "since_id",
            f"Parameter since_id must be a non-negative integer, got {params['since_id'][:40]!r}",
        )
    return min(number, MAX_ID)


def optional_limit(params: dict[str, str]) -> int:
    """``limit``: 1 or more; larger than 1000 counts as 1000."""
    if "limit" not in params:
        return MAX_LIMIT
    number = _whole_number(params, "limit")
    if not number:
        raise InvalidInput(
            "limit",
            f"Parameter limit must be a positive integer, got {params['limit'][:40]!r}",
        )
    return min(number, MAX_LIMIT)


def parse_date(params: dict[str, str], name: str = "date") -> date:
    value = required(params, name).strip()
    try:
        if not _DATE.match(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            name, f"Parameter {name} must be a date YYYY-MM-DD, got {value[:40]!r}"
        ) from None


def status(params: dict[str, str]) -> OrderStatus:
    value = required(params, "status").strip()
    try:
        return OrderStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in OrderStatus)
        raise InvalidInput("status", f"Unknown status {value[:40]!r}; one of {allowed}") from None


def message_type(params: dict[str, str]) -> MessageType:
    value = required(params, "type").strip()
    try:
        return MessageType(value)
    except ValueError:
        allowed = ", ".join(t.value for t in MessageType)
        raise InvalidInput("type", f"Unknown type {value[:40]!r}; one of {allowed}") from None


def message_text(params: dict[str, str], max_length: int) -> str:
    value = required(params, "message").strip()
    if len(value) > max_length:
        raise InvalidInput("message", f"Parameter message is longer than {max_length} characters")
    if has_control_chars(value):
        raise InvalidInput("message", "Parameter message contains control characters")
    return value
