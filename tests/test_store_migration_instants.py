"""Seat instants as integer epoch milliseconds (issue 13, ``engine`` 3): the column format's one
encode/decode pair keeps exactly the millisecond the text form kept, and a workspace whose seats
still hold text instants converts losslessly, indexes and all."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from saas_license._store import SqliteStore
from saas_license._store._schema import MIGRATIONS, SEAT_INSTANTS
from saas_license._store._sqlite import _split_sql
from saas_license._time import (
    ceil_epoch_ms,
    day_start,
    day_start_ms,
    epoch_ms,
    format_instant,
    from_epoch_ms,
    parse_instant,
)

UTC = dt.timezone.utc

instants = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: dt.timezone(dt.timedelta(minutes=m))
)


@given(instant=instants, offset=offsets)
def test_epoch_ms_keeps_the_millisecond_the_text_form_keeps(
    instant: dt.datetime, offset: dt.timezone
) -> None:
    value = instant.astimezone(offset)
    stored = epoch_ms(value)
    assert from_epoch_ms(stored) == parse_instant(format_instant(value))
    assert from_epoch_ms(stored).utcoffset() == dt.timedelta(0)
    # ordering of stored integers is the ordering of instants (to the millisecond)
    assert from_epoch_ms(stored) <= value < from_epoch_ms(stored + 1)
    ceil = ceil_epoch_ms(value)
    assert from_epoch_ms(ceil - 1) < value <= from_epoch_ms(ceil)


@given(
    day=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)),
    back=st.integers(min_value=0, max_value=400),
    tz=st.sampled_from(
        ["UTC", "Europe/Berlin", "America/Santiago", "Asia/Kolkata", "Pacific/Apia"]
    ),
)
def test_day_start_ms_is_the_stored_bound_of_the_local_day(
    day: dt.date, back: int, tz: str
) -> None:
    bound = day_start_ms(day, back, tz)
    start = day_start(day - dt.timedelta(days=back), tz)
    assert bound == ceil_epoch_ms(start)


def test_day_start_ms_outside_the_calendar_is_an_open_bound() -> None:
    assert day_start_ms(dt.date(1, 1, 5), 10, "UTC") == -(2**63)
    assert day_start_ms(dt.date(9999, 12, 30), -5, "UTC") == 2**63 - 1


def _at_engine_2(path: Path) -> sqlite3.Connection:
    """A database migrated to every step but ``engine`` 3 (seat instants as text)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.execute(
        "CREATE TABLE schema_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    for namespace, steps in MIGRATIONS.items():
        kept = steps[:2] if namespace == "engine" else steps
        for step in kept:
            if callable(step):
                step(db)
            else:
                for statement in _split_sql(step):
                    db.execute(statement)
        db.execute("INSERT INTO schema_versions VALUES (?, ?)", (namespace, len(kept)))
    return db


def test_text_instants_become_the_same_milliseconds(tmp_path: Path) -> None:
    path = tmp_path / "text.db"
    db = _at_engine_2(path)
    assert MIGRATIONS["engine"][2].__name__ == "_integer_instants"  # type: ignore[union-attr]
    db.execute("INSERT INTO seat_attrs (id, attributes, unknown) VALUES (1, '{}', '[]')")
    texts = [
        "2026-03-01T09:30:15.123Z",  # the stored form
        "1969-12-31T23:59:59.999Z",  # before the epoch
        "0001-01-01T00:00:00.000Z",  # the calendar's ends
        "9999-12-31T23:59:59.999Z",
        "2026-03-01T10:30:15.123+01:00",  # any ISO-8601 instant with a zone reads the same
        "2026-03-01T09:30:15Z",
    ]
    for i, text in enumerate(texts, 1):
        db.execute(
            "INSERT INTO subscriptions (id, profile, external_user_id, identifier, "
            "user_principal_name, last_activity, activity_checked_at, external_created, "
            "assigned_at, first_seen_at, last_seen_at, active, attrs) "
            "VALUES (?, 'p', ?, 'x', 'u@x.test', ?, ?, ?, ?, ?, ?, 1, 1)",
            (i, f"u{i}", text, None if i % 2 else text, text, text, text, text),
        )
    db.execute("COMMIT")
    indexes_before = {
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'subscriptions'"
        )
    }
    db.close()

    store = SqliteStore(path)  # migrates
    try:
        assert store.schema_versions()["engine"] == len(MIGRATIONS["engine"])
        indexes_after = {
            r[0]
            for r in store._q(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'subscriptions'"
            )
        }
        # every index made again (``engine`` 4 then drops the identifier's own)
        assert indexes_after == indexes_before - {"subscriptions_identifier"}
        assert "finance_active_seats" in indexes_after
        columns = ", ".join(SEAT_INSTANTS)
        for i, text in enumerate(texts, 1):
            row = store._q(
                f"SELECT {columns}, typeof(last_activity) FROM subscriptions WHERE id = ?", (i,)
            ).fetchone()
            want = epoch_ms(parse_instant(text))
            assert row[-1] == "integer"
            assert list(row[:-1]) == [want, None if i % 2 else want, want, want, want, want]
            seat = store.get_subscription(i)
            assert seat is not None and seat.last_activity == parse_instant(text)
        # the converted table keeps taking downloads and answering inactivity queries
        cutoff = parse_instant("2000-01-01T00:00:00Z")
        old = sorted(s.id for s in store.query_subscriptions("p", inactive_before=cutoff))
        assert old == [2, 3]
    finally:
        store.close()
