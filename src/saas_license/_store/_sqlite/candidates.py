"""Removal candidates and their cooldowns on SQLite.

Implements :class:`~saas_license._store._protocol.CandidateStore`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from ..._candidates.records import CandidateState, RemovalCandidate
from ..._convert import converter
from ..._errors import StoreError
from ..._time import format_instant, parse_instant
from .base import SqliteBaseStore, _dumps, _ts

__all__ = ["SqliteCandidateStore"]


def _defaults() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in attrs.fields(RemovalCandidate):
        if field.default is not attrs.NOTHING and not isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            out[field.name] = converter.unstructure(field.default)
    return out


_DEFAULTS = _defaults()


def pack_candidate(candidate: RemovalCandidate) -> str:
    """A candidate's stored text: its fields without those at their default (issue 13's
    compact candidates; reading fills them back in)."""
    data = converter.unstructure(candidate)
    return _dumps({k: v for k, v in data.items() if k not in _DEFAULTS or v != _DEFAULTS[k]})


class SqliteCandidateStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.CandidateStore` part of
    :class:`~saas_license._store.SqliteStore`."""

    def add_candidate(self, candidate: RemovalCandidate) -> RemovalCandidate:
        """Store a new candidate (its ``id`` is assigned here); one open candidate per seat."""
        data = converter.unstructure(candidate)
        with self.transaction():
            try:
                cur = self._db.execute(
                    "INSERT INTO candidates (subscription_id, profile, state, opened_at, closed_at, "
                    "keep_until, data) VALUES (?, ?, ?, ?, ?, ?, '{}')",
                    (
                        candidate.subscription_id,
                        candidate.profile,
                        candidate.state.value,
                        _ts(candidate.opened_at),
                        _ts(candidate.closed_at),
                        _ts(candidate.keep_until),
                    ),
                )
            except sqlite3.IntegrityError:
                raise StoreError(
                    f"subscription {candidate.subscription_id} already has an open removal candidate"
                ) from None
            stored = attrs.evolve(candidate, id=cur.lastrowid)
            self._q(
                "UPDATE candidates SET data = ? WHERE id = ?",
                (pack_candidate(stored), cur.lastrowid),
            )
        return converter.structure(data | {"id": cur.lastrowid}, RemovalCandidate)

    def add_candidates(self, candidates: list[RemovalCandidate]) -> list[RemovalCandidate]:
        """Store new candidates in one statement (ids assigned here, in order); one open
        candidate per seat, or none of them is stored."""
        with self.transaction():
            first = int(
                self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM candidates").fetchone()[0]
            )
            stored = [attrs.evolve(c, id=first + n) for n, c in enumerate(candidates)]
            try:
                self._db.executemany(
                    "INSERT INTO candidates (id, subscription_id, profile, state, opened_at, "
                    "closed_at, keep_until, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            c.id,
                            c.subscription_id,
                            c.profile,
                            c.state.value,
                            _ts(c.opened_at),
                            _ts(c.closed_at),
                            _ts(c.keep_until),
                            pack_candidate(c),
                        )
                        for c in stored
                    ],
                )
            except sqlite3.IntegrityError:
                raise StoreError(
                    "a seat among these already has an open removal candidate"
                ) from None
        return stored

    def update_candidate(self, candidate: RemovalCandidate) -> None:
        """Replace a stored candidate with a new version of itself."""
        with self.transaction():
            cur = self._q(
                "UPDATE candidates SET state = ?, closed_at = ?, keep_until = ?, data = ? "
                "WHERE id = ?",
                (
                    candidate.state.value,
                    _ts(candidate.closed_at),
                    _ts(candidate.keep_until),
                    pack_candidate(candidate),
                    candidate.id,
                ),
            )
            if cur.rowcount != 1:
                raise StoreError(f"no removal candidate with id {candidate.id}")

    def get_candidate(self, candidate_id: int) -> RemovalCandidate | None:
        """One candidate by id."""
        row = self._q("SELECT data FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
        return None if row is None else converter.structure(json.loads(row[0]), RemovalCandidate)

    def list_candidates(
        self,
        profile: str | None = None,
        *,
        states: Iterable[CandidateState] | None = None,
        ids: Iterable[int] | None = None,
        subscription_ids: Iterable[int] | None = None,
        limit: int | None = None,
        after: int | None = None,
    ) -> list[RemovalCandidate]:
        """Candidates, oldest first, optionally for one profile, some states, ids or seats.

        ``limit`` and ``after`` (a candidate id: the last one of the previous page) read one
        page at a time, so a caller never needs every candidate in memory at once.
        """
        where, params_ = self._candidate_filter(profile, states, ids, subscription_ids)
        if after is not None:
            where.append("id > ?")
            params_.append(int(after))
        sql = "SELECT data FROM candidates"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params_.append(int(limit))
        rows = self._q(sql, params_)
        return [converter.structure(json.loads(r[0]), RemovalCandidate) for r in rows]

    def iter_candidates(
        self,
        profile: str | None = None,
        *,
        states: Iterable[CandidateState] | None = None,
        page_size: int = 1000,
        after: int | None = None,
    ) -> Iterator[RemovalCandidate]:
        """Every matching candidate (after the id ``after``), oldest first, ``page_size`` at a time."""
        wanted = None if states is None else list(states)
        while True:
            page = self.list_candidates(profile, states=wanted, limit=page_size, after=after)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].id

    def count_candidates(
        self,
        profile: str | None = None,
        *,
        states: Iterable[CandidateState] | None = None,
        after: int | None = None,
    ) -> int:
        """How many candidates match (after the id ``after``), without reading them."""
        where, params_ = self._candidate_filter(profile, states, None, None)
        if after is not None:
            where.append("id > ?")
            params_.append(int(after))
        sql = "SELECT count(*) FROM candidates" + (" WHERE " + " AND ".join(where) if where else "")
        return int(self._q(sql, params_).fetchone()[0])

    @staticmethod
    def _candidate_filter(
        profile: str | None,
        states: Iterable[CandidateState] | None,
        ids: Iterable[int] | None,
        subscription_ids: Iterable[int] | None,
    ) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params_: list[Any] = []
        if profile is not None:
            where.append("profile = ?")
            params_.append(profile)
        values: list[Any] | None
        for column, values in (
            ("state", None if states is None else [s.value for s in states]),
            ("id", None if ids is None else [int(i) for i in ids]),
            ("subscription_id", None if subscription_ids is None else list(subscription_ids)),
        ):
            if values is not None:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params_.extend(values)
        return where, params_

    def cooldowns(self, profile: str, *, now: dt.datetime) -> dict[int, dt.datetime]:
        """subscription id → end of its cooldown, for seats that must not be proposed yet."""
        rows = self._q(
            "SELECT subscription_id, MAX(keep_until) FROM candidates "
            "WHERE profile = ? AND keep_until > ? GROUP BY subscription_id",
            (profile, format_instant(now)),
        )
        return {r[0]: parse_instant(r[1]) for r in rows}
