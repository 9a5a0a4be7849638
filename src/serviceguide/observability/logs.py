"""Log formats: ``text`` (one line per record, the default) or ``json`` (one JSON object per
line), chosen by ``SERVICEGUIDE_LOG_FORMAT`` and applied to every logger — the server's, the
relay's, uvicorn's and any library's — in every worker process.

JSON records have ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; a record
written while a request is handled has that request's ``request_id``; request lines add
``method``, ``path`` (the route template, no query values), ``status``, ``duration_ms`` and
``client``; the relay's lines about a delivery add ``outbox_id``, ``order_id`` and the
``request_id`` of the request that wrote the outbox row. An exception's type and message are
in ``error``, its traceback in ``traceback``. Both formats mask secrets and personnummer
(observability.redact) in the message and the traceback.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from serviceguide.domain.clock import fmt_log_time
from serviceguide.observability import request_id
from serviceguide.observability.redact import redact_text

LogFormat = Literal["text", "json"]

#: Attributes of a record that are passed through to a JSON line when a caller sets them
#: (``extra=``): the request line's fields and the relay's.
FIELDS = (
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "client",
    "outbox_id",
    "order_id",
    "kind",
)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record that does not carry one already."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.current()
        return True


class TextFormatter(logging.Formatter):
    """``time level logger message``, masked, the time with its offset from UTC; ``one_line``:
    an exception's type and message on the line itself instead of a traceback (for libraries
    that log an outage they are already retrying, e.g. asyncpg's pool)."""

    def __init__(self, fmt: str | None = None, *, one_line: bool = False) -> None:
        super().__init__(fmt or "%(asctime)s %(levelname)s %(name)s %(message)s")
        self.one_line = one_line

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """Stockholm time with its offset from UTC: a reader elsewhere, or reading across a
        change to summer time, knows which time it is."""
        return fmt_log_time(record.created)

    def formatException(self, ei: Any) -> str:
        if self.one_line:
            return f"({ei[0].__name__}: {ei[1]})" if ei and ei[0] else ""
        return super().formatException(ei)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if self.one_line:
            text = text.replace("\n(", " (", 1)
        if getattr(record, "redacted", False) and not record.exc_info:
            return text  # built from masked parts already (the request lines)
        return redact_text(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        message = getattr(record, "json_message", None) or record.getMessage()
        if not getattr(record, "redacted", False):
            message = redact_text(message)
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                doc[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            doc["error"] = redact_text(f"{record.exc_info[0].__name__}: {record.exc_info[1]}")
            doc["traceback"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False, default=str)


def log_config(fmt: LogFormat = "text", level: str = "INFO") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for the commands that run for long (``serve``, in
    every worker; ``relay``; the simulators)."""
    if fmt == "json":
        plain: dict[str, Any] = {"()": JsonFormatter}
        one_line: dict[str, Any] = {"()": JsonFormatter}
    else:
        plain = {"()": TextFormatter}
        one_line = {"()": TextFormatter, "one_line": True}

    def handler(formatter: str) -> dict[str, Any]:
        return {
            "class": "logging.StreamHandler",
            "formatter": formatter,
            "stream": "ext://sys.stderr",
            "filters": ["request_id"],
        }

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"plain": plain, "one_line": one_line},
        "handlers": {"stderr": handler("plain"), "stderr_one_line": handler("one_line")},
        "loggers": {
            "serviceguide": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"level": level},
            "asyncpg": {"handlers": ["stderr_one_line"], "level": "WARNING", "propagate": False},
        },
        # Anything else (a library's warning) goes through the same format.
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }
