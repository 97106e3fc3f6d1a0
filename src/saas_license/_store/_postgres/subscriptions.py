"""The :class:`~saas_license._store._protocol.SubscriptionStore` part of the PostgreSQL store:
the SQLite part's SQL (``_store/_sqlite/subscriptions.py``) on the PostgreSQL base, through
:mod:`.dialect`, with one difference: SQLite's upsert applies a batch's rows one after the
other, so a seat listed twice in one batch is updated twice, in order; PostgreSQL refuses to
update one row twice in one statement, so such a batch is merged in consecutive windows that
each hold a seat once (the same result, in the same order)."""

from __future__ import annotations

import datetime as dt
import functools

from .._sqlite.subscriptions import SqliteSubscriptionStore
from .base import PostgresBaseStore

__all__ = ["PostgresSubscriptionStore"]


class PostgresSubscriptionStore(PostgresBaseStore, SqliteSubscriptionStore):
    """The :class:`~saas_license._store._protocol.SubscriptionStore` part of :class:`~.PostgresStore`."""

    _merged_since_analyze = 0

    def _fresh_statistics(self, rows: int) -> None:
        """Refresh the seats' planner statistics whenever this store has merged more seats since
        its last refresh than the statistics count (so O(log n) times while a table fills):
        planned with an empty table's statistics, merging a stage runs seat by seat against
        every seat of the profile, quadratic in the download's size."""
        self._merged_since_analyze += rows
        row = self._q(
            "SELECT reltuples FROM pg_class WHERE oid = 'subscriptions'::regclass"
        ).fetchone()
        known = max(0.0, float(row[0])) if row is not None else 0.0
        if self._merged_since_analyze > max(1000.0, known):
            self._q("SELECT saas_license_analyze_seats()")
            self._merged_since_analyze = 0

    def _merge_staged(
        self,
        profile: str,
        table: str,
        lo: int,
        hi: int,
        *,
        run_id: str,
        now: dt.datetime,
        pairs: int,
        stamp: bool = False,
        held: bool = False,
        fresh: bool = False,
        latest: int | None = None,
    ) -> None:
        merge = functools.partial(
            super()._merge_staged,
            profile,
            table,
            run_id=run_id,
            now=now,
            pairs=pairs,
            stamp=stamp,
            held=held,
            fresh=fresh,
            latest=latest,
        )
        self._fresh_statistics(hi - lo)
        window = "seq > ? AND seq <= ?"
        repeated = self._q(
            f"SELECT 1 FROM {table} WHERE {window} GROUP BY uid, ident HAVING COUNT(*) > 1 LIMIT 1",
            (lo, hi),
        ).fetchone()
        if repeated is None:
            merge(lo, hi)
            return
        start, seen = lo, set[tuple[str, str]]()
        for seq, uid, ident in self._q(
            f"SELECT seq, uid, ident FROM {table} WHERE {window} ORDER BY seq", (lo, hi)
        ).fetchall():
            if (uid, ident) in seen:  # a seat again: merge what came before it first
                merge(start, seq - 1)
                start, seen = seq - 1, set[tuple[str, str]]()
            seen.add((uid, ident))
        merge(start, hi)
