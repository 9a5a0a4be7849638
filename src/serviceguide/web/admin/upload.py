"""Reading a market-database upload (``multipart/form-data`` with ``csrf_token``, ``format`` and
``file``) straight from the request stream to a file on disk, never holding the file in memory.

The form's fields come in the order of the form: the CSRF token first. The token must have
arrived, and be valid, before the file's first byte does; otherwise the upload is refused (403)
without writing anything. The body is counted as it arrives: past ``limit`` bytes reading stops
and the partial file is deleted (:class:`TooLarge`), whatever Content-Length said.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

#: Longest value of a field that is not the file (the token, the format).
FIELD_MAX = 1000


class TooLarge(Exception):
    """The body is larger than the upload's limit."""


class BadForm(Exception):
    """Not a multipart form with a file, or the CSRF token did not come first and valid."""

    def __init__(self, csrf: bool = False) -> None:
        super().__init__("csrf" if csrf else "form")
        self.csrf = csrf


@dataclass
class _Part:
    """The part being read."""

    name: str = ""
    is_file: bool = False
    value: bytes = b""
    header: bytes = b""
    headers: dict[bytes, bytes] = field(default_factory=dict)


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str = ""
    size: int = 0  # bytes of the file


async def receive_upload(
    request: Request, path: Path, *, limit: int, token_ok: Callable[[str], bool]
) -> Received:
    """Stream the form to ``path`` (the file part) and ``fields``; the file is deleted on any
    failure."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise BadForm()
    got = Received()
    part = _Part()
    out = path.open("wb")
    failure: Exception | None = None

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part.header += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        key = part.header.lower()
        part.headers[key] = part.headers.get(key, b"") + data[start:end]

    def on_header_end() -> None:
        part.header = b""

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = disposition.get(b"name", b"").decode("latin-1")
        filename = disposition.get(b"filename")
        part.is_file = filename is not None
        part.value = b""
        part.headers.clear()
        if filename is not None:
            token = got.fields.get("csrf_token")
            if token is None or not token_ok(token):
                raise BadForm(csrf=True)
            got.filename = Path(filename.decode("utf-8", "replace").replace("\\", "/")).name

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if part.is_file:
            got.size += end - start
            if got.size > limit:
                raise TooLarge()
            out.write(data[start:end])
            return
        part.value += data[start:end]
        if len(part.value) > FIELD_MAX:
            raise BadForm()

    def on_part_end() -> None:
        if not part.is_file:
            got.fields[part.name] = part.value.decode("utf-8", "replace")

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit + 16 * 1024:  # the file plus the form's few small fields
                raise TooLarge()
            parser.write(chunk)
        parser.finalize()
    except (TooLarge, BadForm) as e:
        failure = e
    except Exception:
        failure = BadForm()
    finally:
        out.close()
    if failure is not None:
        with contextlib.suppress(OSError):
            path.unlink()
        raise failure
    if not got.filename and "file" not in got.fields:
        with contextlib.suppress(OSError):
            path.unlink()
        raise BadForm()
    return got
