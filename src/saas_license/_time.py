"""UTC instants in, UTC instants out: parsing, formatting and day arithmetic in one place."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = [
    "MAX_MS",
    "MIN_MS",
    "ceil_epoch_ms",
    "day_start",
    "day_start_ms",
    "days_between",
    "epoch_ms",
    "format_instant",
    "from_epoch_ms",
    "parse_instant",
    "utcnow",
]

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


# The store keeps a seat's instants as integer milliseconds since 1970-01-01T00:00:00Z (UTC):
# the one encode/decode pair of that column format is :func:`epoch_ms` / :func:`from_epoch_ms`.
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MS = dt.timedelta(milliseconds=1)
#: Bounds below and above every stored instant (SQLite's and PostgreSQL's 64-bit integers).
MIN_MS, MAX_MS = -(2**63), 2**63 - 1


def epoch_ms(value: dt.datetime) -> int:
    """An aware instant as whole milliseconds since the Unix epoch (UTC), rounded down: the
    same millisecond :func:`format_instant` keeps."""
    if value.tzinfo is None:
        raise ValueError("refusing to store a naive datetime; attach a time zone")
    return (value - _EPOCH) // _MS


def from_epoch_ms(value: int) -> dt.datetime:
    """The aware UTC instant :func:`epoch_ms` stored."""
    return _EPOCH + dt.timedelta(milliseconds=value)


def ceil_epoch_ms(value: dt.datetime) -> int:
    """The first stored millisecond not before ``value`` (``stored >= ceil_epoch_ms(v)`` ⇔
    ``instant >= v`` for any stored instant)."""
    return -((_EPOCH - value) // _MS)


def day_start(day: dt.date, timezone: str) -> dt.datetime:
    """The first instant (UTC) whose wall-calendar date in ``timezone`` is ``day`` or later.

    ``x >= day_start(today - k + 1)`` ⇔ ``days_between(x, now) < k``: the boundaries that let
    SQL bucket seats by days of inactivity with plain comparisons of stored instants.
    """
    zone = ZoneInfo(timezone)
    guess = dt.datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(dt.timezone.utc)
    tick = dt.timedelta(microseconds=1)
    if guess.astimezone(zone).date() >= day and (guess - tick).astimezone(zone).date() < day:
        return guess
    # A wall-clock gap or fold at midnight: search the instants around the guess.
    low, high = guess - dt.timedelta(days=2), guess + dt.timedelta(days=2)
    while high - low > tick:
        mid = low + (high - low) / 2
        if mid.astimezone(zone).date() >= day:
            high = mid
        else:
            low = mid
    return high


def day_start_ms(today: dt.date, days_back: int, timezone: str) -> int:
    """The stored bound of "fewer than ``days_back + 1`` days before ``today``": a stored instant
    ``x`` has ``days_between(x, now, timezone) <= days_back`` exactly when ``x >=`` this
    (:data:`MIN_MS` / :data:`MAX_MS` when the day falls outside the calendar)."""
    try:
        day = today - dt.timedelta(days=days_back)
    except OverflowError:
        return MIN_MS if days_back > 0 else MAX_MS
    try:
        return ceil_epoch_ms(day_start(day, timezone))
    except OverflowError:  # the first instant of that day lies outside datetime's range
        return MIN_MS if day.year < 5000 else MAX_MS
