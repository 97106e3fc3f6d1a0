"""UTC instants in, UTC instants out: parsing, formatting and day arithmetic in one place."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = ["days_between", "format_instant", "parse_instant", "utcnow"]

UTC = dt.timezone.utc


def utcnow() -> dt.datetime:
    """The current instant, timezone-aware, in UTC."""
    return dt.datetime.now(UTC)


def parse_instant(value: str) -> dt.datetime:
    """Parse an ISO-8601 timestamp (``Z`` or offset) into an aware UTC datetime.

    Naive timestamps are refused: a time with no zone cannot be placed on the timeline.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone; send UTC ('Z') or an offset")
    return parsed.astimezone(UTC)


def format_instant(value: dt.datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC with milliseconds, as vendors commonly do."""
    if value.tzinfo is None:
        raise ValueError("refusing to format a naive datetime; attach a time zone")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def days_between(earlier: dt.datetime, later: dt.datetime, tz: str = "UTC") -> int:
    """Whole calendar days from ``earlier`` to ``later`` as counted on the wall calendar of ``tz``.

    Both instants are converted to the organisation's zone first, so a login at 23:30 local time
    and a check at 00:30 the next local day counts as one day, whatever UTC says.
    """
    zone = ZoneInfo(tz)
    return (later.astimezone(zone).date() - earlier.astimezone(zone).date()).days
