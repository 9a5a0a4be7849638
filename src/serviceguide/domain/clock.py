"""Time: stored in UTC, shown in Europe/Stockholm."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local(dt: datetime) -> datetime:
    """``dt`` (aware, or naive meaning UTC) in Stockholm time."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(STOCKHOLM)


def local_day_start_utc(day: date) -> datetime:
    """00:00 Stockholm time on ``day``, as a UTC instant (the earliest instant there is, for a
    day so early that the conversion would leave the calendar)."""
    try:
        return datetime.combine(day, time(0, 0), tzinfo=STOCKHOLM).astimezone(UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def today_local() -> date:
    return utcnow().astimezone(STOCKHOLM).date()


def fmt_seconds(dt: datetime) -> str:
    return local(dt).strftime("%Y-%m-%d %H:%M:%S")


def fmt_minutes(dt: datetime) -> str:
    return local(dt).strftime("%Y-%m-%d %H:%M")


def fmt_zoned(dt: datetime, *, timespec: str = "seconds") -> str:
    """Stockholm time with its offset from UTC, ``2026-01-04 11:48:00+01:00``: for people
    reading the command line and the logs, who may be elsewhere, or on the other side of a
    change to or from summer time."""
    return local(dt).isoformat(sep=" ", timespec=timespec)


def fmt_log_time(created: float) -> str:
    """A log record's time (seconds since the epoch) as :func:`fmt_zoned` writes it, to the
    millisecond: ``2026-01-04 11:48:00.123+01:00``."""
    return fmt_zoned(datetime.fromtimestamp(created, UTC), timespec="milliseconds")
