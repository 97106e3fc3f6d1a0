"""Removal candidates and their cooldowns on SQLite.

Implements :class:`~saas_license._store._protocol.CandidateStore`.

A candidate is stored in columns, with only what cannot be derived (issue 13's compact
candidates, migration ``compact`` 1): the seat's own key (``external_user_id``, ``identifier``)
is read from the seat unless it differs, instants are integer milliseconds, repeated texts
(software model, approver, its source, currency) point at ``candidate_texts``, the rules'
standard message is kept as the rule's day count, and every other field not at its default
goes to the compact JSON column ``more``. :func:`candidate_params` and :data:`SELECT` are the
two halves of that encoding; the round trip is exact (``tests/test_candidates_compact.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs

from ..._candidates.records import CandidateState, RemovalCandidate
from ..._convert import converter
from ..._errors import StoreError
from ..._time import format_instant, parse_instant
from .base import SqliteBaseStore, _dumps, _ts, insert_rows

__all__ = [
    "INSERT",
    "SELECT",
    "SqliteCandidateStore",
    "candidate_params",
    "from_ms",
    "pack_candidate",
    "page_end",
    "read_candidate",
    "to_ms",
]


def _defaults() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in attrs.fields(RemovalCandidate):
        if field.default is not attrs.NOTHING and not isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            out[field.name] = converter.unstructure(field.default)
    return out


_DEFAULTS = _defaults()


def pack_candidate(candidate: RemovalCandidate) -> str:
    """A candidate as JSON without the fields at their default: the stored text of migration
    ``engine`` 2 (kept for that migration; ``compact`` 1 moved candidates into columns)."""
    data = converter.unstructure(candidate)
    return _dumps({k: v for k, v in data.items() if k not in _DEFAULTS or v != _DEFAULTS[k]})


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MS = dt.timedelta(milliseconds=1)


def to_ms(value: dt.datetime | None) -> int | None:
    """An instant as integer milliseconds since 1970 (truncated to the millisecond, as the
    stored text always was)."""
    return None if value is None else (value - _EPOCH) // _MS


def from_ms(value: int | None) -> dt.datetime | None:
    """The instant of :func:`to_ms`."""
    return None if value is None else _EPOCH + dt.timedelta(milliseconds=value)


#: Fields with a column of their own (or the row id, or derived from the seat).
_COLUMNS = frozenset(
    {
        "id",
        "subscription_id",
        "profile",
        "state",
        "opened_at",
        "closed_at",
        "keep_until",
        "external_user_id",
        "identifier",
        "user_principal_name",
        "software_model",
        "inactive_days",
        "last_activity",
        "rule_id",
        "message",
        "approver",
        "approver_source",
        "potential_savings",
        "currency",
    }
)
#: Fields whose usual value is another field's: omitted from ``more`` when they equal it.
_IMPLIED = {"updated_at": "opened_at", "recipient": "user_principal_name"}
#: Fields that go to ``more`` when not at their default.
_MORE = tuple(
    f.name
    for f in attrs.fields(RemovalCandidate)
    if f.name not in _COLUMNS and f.name not in _IMPLIED
)
#: Interned text columns: field → column.
_TEXTS = {
    "software_model": "model",
    "approver": "approver",
    "approver_source": "approver_source",
    "currency": "currency",
}

#: The rules' standard message (``CandidateWorkflow._draft``), stored as ``\x1f`` + rule days.
_RULE_MESSAGE = "no activity for {days} days (rule: {rule} days)"
_MARK = "\x1f"


def _pack_message(message: str, inactive_days: int) -> str | None:
    """The stored message: None for "", the rule's days for the standard one, else the text
    (None with the text in ``more`` if it starts with the mark)."""
    if not message or message.startswith(_MARK):
        return None
    head = f"no activity for {inactive_days} days (rule: "
    if message.startswith(head) and message.endswith(" days)"):
        rule = message[len(head) : -len(" days)")]
        if rule.isascii() and rule.isdigit() and str(int(rule)) == rule:
            return _MARK + rule
    return message


class _Packed(dict[tuple[str, int], "str | None"]):
    """:func:`_pack_message` of ``(message, inactive_days)``, each worked out once; a message
    starting with the mark is refused (it needs :meth:`~SqliteCandidateStore.add_candidates`,
    which keeps it in ``more``)."""

    def __missing__(self, key: tuple[str, int]) -> str | None:
        message, days = key
        if message.startswith(_MARK):
            raise ValueError("a message starting with \\x1f needs add_candidates")
        found = self[key] = _pack_message(message, days)
        return found


def _unpack_message(stored: str | None, inactive_days: int) -> str:
    if stored is None:
        return ""
    if stored.startswith(_MARK):
        return _RULE_MESSAGE.format(days=inactive_days, rule=stored[1:])
    return stored


#: Each ``more`` field with its default as Python holds it (``NOTHING``: no default).
_MORE_DEFAULTS = tuple(
    (f.name, f.default if not isinstance(f.default, attrs.Factory) else attrs.NOTHING)  # type: ignore[arg-type]
    for f in attrs.fields(RemovalCandidate)
    if f.name in _MORE
)
_STATE_VALUES = {s: s.value for s in CandidateState}


def _more(candidate: RemovalCandidate) -> str | None:
    out: dict[str, Any] | None = None
    for name, default in _MORE_DEFAULTS:
        value = getattr(candidate, name)
        if value is default:
            continue  # None, False and the enum members are singletons: the common case
        plain = converter.unstructure(value)
        if name not in _DEFAULTS or plain != _DEFAULTS[name]:
            if out is None:
                out = {}
            out[name] = plain
    for name, source in _IMPLIED.items():
        value = getattr(candidate, name)
        if value is not getattr(candidate, source) and value != getattr(candidate, source):
            if out is None:
                out = {}
            out[name] = converter.unstructure(value)
    if candidate.message.startswith(_MARK):
        if out is None:
            out = {}
        out["message"] = candidate.message
    return None if out is None else _dumps(out)


#: One candidate row; ``user_id`` and ``identifier`` are NULL when they are the seat's.
INSERT = (
    "INSERT INTO candidates (id, subscription_id, profile, state, opened_at, closed_at, "
    "keep_until, user_id, identifier, upn, model, inactive_days, last_activity, rule_id, "
    "message, approver, approver_source, savings, currency, more) VALUES (:id, :sid, :profile, "
    ":state, :opened, :closed, :keep, "
    "CASE WHEN :uid = (SELECT external_user_id FROM subscriptions WHERE id = :sid) "
    "THEN NULL ELSE :uid END, "
    "CASE WHEN :ident = (SELECT identifier FROM subscriptions WHERE id = :sid) "
    "THEN NULL ELSE :ident END, "
    ":upn, :model, :days, :last, :rule, :message, :approver, :source, :savings, :currency, :more)"
)

#: :data:`INSERT` for a seat's own key (``user_id`` and ``identifier`` NULL), positional and
#: plain (PostgreSQL takes many rows of it by ``COPY``).
_INSERT_ROWS = (
    "INSERT INTO candidates (id, subscription_id, profile, state, opened_at, closed_at, "
    "keep_until, user_id, identifier, upn, model, inactive_days, last_activity, rule_id, "
    "message, approver, approver_source, savings, currency, more) VALUES"
)
_INSERT_ROW = "(?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

_UPDATE = (
    "UPDATE candidates SET subscription_id = :sid, profile = :profile, state = :state, "
    "opened_at = :opened, closed_at = :closed, keep_until = :keep, "
    "user_id = CASE WHEN :uid = (SELECT external_user_id FROM subscriptions WHERE id = :sid) "
    "THEN NULL ELSE :uid END, "
    "identifier = CASE WHEN :ident = (SELECT identifier FROM subscriptions WHERE id = :sid) "
    "THEN NULL ELSE :ident END, "
    "upn = :upn, model = :model, inactive_days = :days, last_activity = :last, rule_id = :rule, "
    "message = :message, approver = :approver, approver_source = :source, savings = :savings, "
    "currency = :currency, more = :more WHERE id = :id"
)

#: Every candidate column decoded (seat key and texts joined); filter on ``c.`` columns.
SELECT = (
    "SELECT c.id, c.subscription_id, c.profile, c.state, c.opened_at, c.closed_at, "
    "c.keep_until, COALESCE(c.user_id, s.external_user_id), "
    "COALESCE(c.identifier, s.identifier), c.upn, m.value, c.inactive_days, c.last_activity, "
    "c.rule_id, c.message, a.value, src.value, c.savings, cur.value, c.more "
    "FROM candidates c LEFT JOIN subscriptions s ON s.id = c.subscription_id "
    "LEFT JOIN candidate_texts m ON m.id = c.model "
    "LEFT JOIN candidate_texts a ON a.id = c.approver "
    "LEFT JOIN candidate_texts src ON src.id = c.approver_source "
    "LEFT JOIN candidate_texts cur ON cur.id = c.currency"
)


def page_end(
    query: Any, profile: str, states: Sequence[str], after: int | None, limit: int
) -> int | None:
    """The last candidate id of the page of ``limit`` after ``after`` over several states.

    ``state IN (…) ORDER BY id`` makes SQLite sort every remaining candidate for each page
    (quadratic when paging through 469k open ones); one index seek per state finds where the
    page ends, so the page's own query sorts at most ``limit`` rows. None: fewer remain.
    """
    ids: list[int] = []
    for state in states:
        ids.extend(
            int(r[0])
            for r in query(
                "SELECT id FROM candidates WHERE profile = ? AND state = ? AND id > ? "
                "ORDER BY id LIMIT ?",
                (profile, state, -1 if after is None else int(after), int(limit)),
            )
        )
    if len(ids) < limit:
        return None
    return sorted(ids)[limit - 1]


def text_ids(db: Any, texts: Iterable[str | None]) -> dict[str, int]:
    """The ``candidate_texts`` id of each text (added when new); call inside a transaction."""
    wanted = sorted({t for t in texts if t is not None})
    if not wanted:
        return {}
    out: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        marks = ", ".join("?" * len(part))
        found = {
            str(r[1]): int(r[0])
            for r in db.execute(
                f"SELECT id, value FROM candidate_texts WHERE value IN ({marks})", part
            )
        }
        missing = [t for t in part if t not in found]
        if missing:
            db.executemany(
                "INSERT OR IGNORE INTO candidate_texts (value) VALUES (?)", [(t,) for t in missing]
            )
            found.update(
                (str(r[1]), int(r[0]))
                for r in db.execute(
                    f"SELECT id, value FROM candidate_texts WHERE value IN ({marks})", part
                )
            )
        out.update(found)
    return out


def candidate_params(db: Any, candidates: Sequence[RemovalCandidate]) -> list[dict[str, Any]]:
    """The named parameters of :data:`INSERT` (and the update) for each candidate."""
    ids = text_ids(db, (getattr(c, field) for c in candidates for field in _TEXTS))
    out = []
    for c in candidates:
        out.append(
            {
                "id": c.id,
                "sid": c.subscription_id,
                "profile": c.profile,
                "state": _STATE_VALUES[c.state],
                "opened": to_ms(c.opened_at),
                "closed": _ts(c.closed_at),
                "keep": _ts(c.keep_until),
                "uid": c.external_user_id,
                "ident": c.identifier,
                "upn": c.user_principal_name,
                "model": None if c.software_model is None else ids[c.software_model],
                "days": c.inactive_days,
                "last": to_ms(c.last_activity),
                "rule": c.rule_id,
                "message": _pack_message(c.message, c.inactive_days),
                "approver": None if c.approver is None else ids[c.approver],
                "source": None if c.approver_source is None else ids[c.approver_source],
                "savings": None if c.potential_savings is None else str(c.potential_savings),
                "currency": None if c.currency is None else ids[c.currency],
                "more": _more(c),
            }
        )
    return out


def read_candidate(row: Sequence[Any]) -> RemovalCandidate:
    """A candidate from one row of :data:`SELECT`."""
    (cid, sid, profile, state, opened, closed, keep, uid, ident, upn, model, days, last, rule,
     message, approver, source, savings, currency, more) = row  # fmt: skip
    data: dict[str, Any] = {
        "id": cid,
        "subscription_id": sid,
        "profile": profile,
        "state": state,
        "opened_at": from_ms(opened),
        "closed_at": closed,
        "keep_until": keep,
        "external_user_id": uid,
        "identifier": ident,
        "user_principal_name": upn,
        "software_model": model,
        "inactive_days": days,
        "last_activity": from_ms(last),
        "rule_id": rule,
        "message": _unpack_message(message, days),
        "approver": approver,
        "approver_source": source,
        "potential_savings": savings,
        "currency": currency,
    }
    data["updated_at"] = data["opened_at"]
    data["recipient"] = upn
    if more is not None:
        data.update(json.loads(more))
    return converter.structure(data, RemovalCandidate)


class SqliteCandidateStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.CandidateStore` part of
    :class:`~saas_license._store.SqliteStore`."""

    def add_candidate(self, candidate: RemovalCandidate) -> RemovalCandidate:
        """Store a new candidate (its ``id`` is assigned here); one open candidate per seat."""
        return self.add_candidates([candidate])[0]

    def next_candidate_id(self) -> int:
        """The id the next stored candidate gets (read inside the transaction that stores it)."""
        return int(self._q("SELECT COALESCE(MAX(id), 0) + 1 FROM candidates").fetchone()[0])

    def add_candidates(self, candidates: list[RemovalCandidate]) -> list[RemovalCandidate]:
        """Store new candidates in one statement (ids assigned here, in order); one open
        candidate per seat, or none of them is stored.

        A candidate that already carries the id it is given here (numbered by the caller from
        :meth:`next_candidate_id` in the same transaction) is stored as it is, not copied.
        """
        if not candidates:
            return []
        with self.transaction():
            first = self.next_candidate_id()
            stored = [
                c if c.id == first + n else attrs.evolve(c, id=first + n)
                for n, c in enumerate(candidates)
            ]
            try:
                self._db.executemany(INSERT, candidate_params(self._db, stored))
            except sqlite3.IntegrityError:
                if len(candidates) == 1:
                    raise StoreError(
                        f"subscription {candidates[0].subscription_id} already has an open "
                        "removal candidate"
                    ) from None
                raise StoreError(
                    "a seat among these already has an open removal candidate"
                ) from None
        return stored

    def add_candidate_rows(
        self,
        groups: Sequence[
            tuple[RemovalCandidate, Sequence[tuple[int, int, str, int, int | None, str]]]
        ],
    ) -> None:
        """Store new candidates, each group's ``template`` but for each of its rows' ``(id,
        subscription_id, user_principal_name, inactive_days, last_activity as epoch
        milliseconds, message)``, in one statement and in id order: how a day's run stores the
        many candidates its rules propose, without a :class:`RemovalCandidate` each.

        Each row's ``external_user_id`` and ``identifier`` are its seat's (stored as "the
        seat's"), its ``recipient`` its own user principal name when the template's is the
        template's (else the template's), ``updated_at`` the template's ``opened_at``. Ids are
        the caller's, numbered from :meth:`next_candidate_id` in the same transaction. One open
        candidate per seat, or none of them is stored.
        """
        if not any(rows for _, rows in groups):
            return
        with self.transaction():
            values: list[tuple[Any, ...]] = []
            packed = _Packed()  # (message, days) -> stored message: rows share a few
            for template, rows in groups:
                if template.updated_at != template.opened_at:
                    raise ValueError("a template's updated_at must be its opened_at")
                (p,) = candidate_params(self._db, [template])
                profile, state, opened, closed, keep = (
                    p["profile"],
                    p["state"],
                    p["opened"],
                    p["closed"],
                    p["keep"],
                )
                model, rule = p["model"], p["rule"]
                approver, source, savings, currency, more = (
                    p["approver"],
                    p["source"],
                    p["savings"],
                    p["currency"],
                    p["more"],
                )
                values.extend(
                    (
                        cid,
                        sid,
                        profile,
                        state,
                        opened,
                        closed,
                        keep,
                        upn,
                        model,
                        days,
                        last,
                        rule,
                        packed[message, days],
                        approver,
                        source,
                        savings,
                        currency,
                        more,
                    )
                    for cid, sid, upn, days, last, message in rows
                )
            values.sort(key=lambda v: v[0])  # in id order: the table's pages fill up whole
            try:
                insert_rows(self._db, _INSERT_ROWS, _INSERT_ROW, values)
            except sqlite3.IntegrityError:
                raise StoreError(
                    "a seat among these already has an open removal candidate"
                ) from None

    def update_candidate(self, candidate: RemovalCandidate) -> None:
        """Replace a stored candidate with a new version of itself."""
        with self.transaction():
            cur = self._db.execute(_UPDATE, candidate_params(self._db, [candidate])[0])
            if cur.rowcount != 1:
                raise StoreError(f"no removal candidate with id {candidate.id}")

    def update_candidates(self, candidates: Sequence[RemovalCandidate]) -> None:
        """:meth:`update_candidate` for many at once (one statement run over every row)."""
        if not candidates:
            return
        with self.transaction():
            cur = self._db.executemany(_UPDATE, candidate_params(self._db, candidates))
            if cur.rowcount != len(candidates):
                raise StoreError("a removal candidate to update is not stored")

    def get_candidate(self, candidate_id: int) -> RemovalCandidate | None:
        """One candidate by id."""
        row = self._q(SELECT + " WHERE c.id = ?", (candidate_id,)).fetchone()
        return None if row is None else read_candidate(row)

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
        wanted = None if states is None else sorted({s.value for s in states})
        where, params_ = self._candidate_filter(profile, states, ids, subscription_ids)
        if after is not None:
            where.append("c.id > ?")
            params_.append(int(after))
        if (
            limit is not None
            and profile is not None
            and wanted is not None
            and len(wanted) > 1
            and ids is None
            and subscription_ids is None
        ):
            end = page_end(self._q, profile, wanted, after, limit)
            if end is not None:
                where.append("c.id <= ?")
                params_.append(end)
        sql = SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY c.id"
        if limit is not None:
            sql += " LIMIT ?"
            params_.append(int(limit))
        return [read_candidate(r) for r in self._q(sql, params_)]

    def candidate_page_end(
        self, profile: str, states: Sequence[str], after: int | None, limit: int
    ) -> int | None:
        """:func:`page_end` on this store: where a page of ``limit`` candidates ends."""
        return page_end(self._q, profile, states, after, limit)

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
            where.append("c.id > ?")
            params_.append(int(after))
        sql = "SELECT count(*) FROM candidates c" + (
            " WHERE " + " AND ".join(where) if where else ""
        )
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
            where.append("c.profile = ?")
            params_.append(profile)
        values: list[Any] | None
        for column, values in (
            ("state", None if states is None else [s.value for s in states]),
            ("id", None if ids is None else [int(i) for i in ids]),
            ("subscription_id", None if subscription_ids is None else list(subscription_ids)),
        ):
            if values is not None:
                where.append(f"c.{column} IN ({', '.join('?' * len(values))})")
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
