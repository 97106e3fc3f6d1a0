"""Seats, software models, identifier mappings, activity and staged downloads on SQLite.

Implements :class:`~saas_license._store._protocol.SubscriptionStore`.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import json
import re
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..._attributes_text import known_text
from ..._errors import ConfigError, StoreError
from ..._faultpoints import kill_point
from ..._models import SoftwareModel
from ..._subscriptions import ActivityRecord, Subscription, SubscriptionRecord
from ..._time import epoch_ms, from_epoch_ms
from .base import (
    SqliteBaseStore,
    _batched,
    _dt,
    _dumps,
    _from_ms,
    _is_busy,
    _ms,
    _ts,
    insert_rows,
)
from .seen import CHECKED, LAST_SEEN, MATERIALIZE, SEEN_JOIN, checked_of

__all__ = [
    "BATCH_SIZE",
    "MERGE_BATCH_MAX",
    "STAGE_BATCH",
    "DownloadStage",
    "SqliteSubscriptionStore",
    "merge_window",
]

BATCH_SIZE = 500
#: Seats merged (or closed) per write transaction when a staged download is swapped in: small
#: enough that no transaction holds the database's write lock for long, even at 1M seats.
STAGE_BATCH = 2000
#: The most seats one merge (or activity stamp) transaction takes: a large download merges in
#: windows of ~1/32 of its size between :data:`STAGE_BATCH` and this, so a million seats take
#: 50 commits, not 500 (each commit writes every index leaf the window dirtied to the WAL
#: again: with random index keys, ~2.4x the merge time at 300,000 seats) and no transaction
#: holds the write lock for more than a fraction of a second.
MERGE_BATCH_MAX = 20_000


def merge_window(seats: int) -> int:
    """Seats per write transaction when merging or stamping ``seats`` seats."""
    return min(MERGE_BATCH_MAX, max(STAGE_BATCH, seats // 32))


_SUB_COLUMNS = (
    "s.id, s.profile, s.external_user_id, s.identifier, s.user_principal_name, s.display_name, "
    f"s.software_model, s.last_activity, {CHECKED} AS activity_checked_at, s.external_created, "
    f"s.assigned_at, s.first_seen_at, {LAST_SEEN} AS last_seen_at, s.active, a.attributes, "
    "a.unknown"
)
#: Seats with their shared attribute rows (``seat_attrs``, issue 13's lean store) and their
#: runs (what complete downloads carried: :mod:`.seen`).
_SUB_FROM = f"subscriptions s CROSS JOIN seat_attrs a ON a.id = s.attrs {SEEN_JOIN}"

#: The columns a download stages per record, in order (the merge reads them back by name).
#: ``akey`` points at the stage's distinct (attributes, unknown) pair (:class:`_StageAttrs`),
#: so a staged row is ~80 bytes, not ~300, and the merge compares integers, not JSON.
_STAGE_COLUMNS = (
    "seq INTEGER PRIMARY KEY, uid TEXT NOT NULL, ident TEXT NOT NULL, upn TEXT NOT NULL, "
    "display TEXT NOT NULL, la BIGINT, ec BIGINT, aa BIGINT, akey INTEGER NOT NULL"
)
#: A staged row as inserted.
_STAGE_ROW = f"({', '.join('?' * 9)})"
#: The staged rows whose seat the merge found unchanged (appended, never updated in place), one
#: per seat: the seat, and ``d`` 1 if the download carries it unwritten, 2 if it only marks it
#: seen.
_STAGE_SAME_COLUMNS = "seq INTEGER PRIMARY KEY, sid INTEGER NOT NULL UNIQUE, d INTEGER NOT NULL"
#: The most identifier mappings the merge compares inline (``CASE``) instead of looking each
#: staged row's identifier up in ``identifier_map``.
_INLINE_MAPPINGS = 32
#: Staged rows a statement on SQLite (9 parameters each: within SQLite's oldest limit of 999).
_STAGE_ROWS = 100
#: A stage's distinct attribute pairs; ``attrs`` is their ``seat_attrs`` id once merged.
_STAGE_ATTRS_COLUMNS = (
    "akey INTEGER PRIMARY KEY, attributes TEXT NOT NULL, unknown TEXT NOT NULL, attrs INTEGER"
)


_EPOCH = from_epoch_ms(0)
_MS_TICK = dt.timedelta(milliseconds=1)


class _StageAttrs:
    """The distinct (attributes, unknown) pairs of one stage, numbered as they first appear;
    :meth:`take_new` hands over the pairs not yet written to the stage's attribute table."""

    __slots__ = ("_keys", "_new")

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], int] = {}
        self._new: list[tuple[int, str, str]] = []

    def key(self, attributes: str, unknown: str) -> int:
        """The pair's number in this stage."""
        pair = (attributes, unknown)
        found = self._keys.get(pair)
        if found is None:
            found = self._keys[pair] = len(self._keys) + 1
            self._new.append((found, attributes, unknown))
        return found

    def __len__(self) -> int:
        return len(self._keys)

    def take_new(self) -> list[tuple[int, str, str]]:
        """(akey, attributes, unknown) of the pairs numbered since the last call."""
        new, self._new = self._new, []
        return new


def _stage_rows(
    batch: list[SubscriptionRecord], start: int, pairs: _StageAttrs
) -> list[tuple[Any, ...]]:
    """Records as the column tuples they are staged with (``seq`` numbered from ``start + 1``),
    their attribute pairs numbered by ``pairs``.

    A spoke often shares one attributes dict between a user's seats: it is encoded (and its
    pair looked up) once per batch.
    """
    epoch, ms = _EPOCH, _MS_TICK
    keyed: dict[tuple[int, frozenset[str]], int] = {}
    unknowns: dict[frozenset[str], str] = {}
    rows = []
    for n, r in enumerate(batch, start + 1):
        akey = keyed.get((id(r.attributes), r.unknown))
        if akey is None:
            unknown = unknowns.get(r.unknown)
            if unknown is None:
                unknown = unknowns[r.unknown] = _dumps(sorted(r.unknown))
            text = known_text(r.attributes) or _dumps(r.attributes)
            akey = keyed[(id(r.attributes), r.unknown)] = pairs.key(text, unknown)
        la, ec, aa = r.last_activity, r.external_created, r.assigned_at
        rows.append(
            (
                n,
                r.external_user_id,
                r.identifier,
                r.user_principal_name,
                r.display_name,
                None if la is None else (la - epoch) // ms,  # epoch_ms, inlined
                None if ec is None else (ec - epoch) // ms,
                None if aa is None else (aa - epoch) // ms,
                akey,
            )
        )
    return rows


@functools.lru_cache(maxsize=4096)
def _decoded(text: str) -> dict[str, Any]:
    return json.loads(text)  # type: ignore[no-any-return]


def _attributes(text: str) -> dict[str, Any]:
    """A seat's attributes from their shared row's text: decoded once, each seat gets its
    own copy (copied one level deep, so no seat can change another's)."""
    return {
        k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
        for k, v in _decoded(text).items()
    }


@functools.lru_cache(maxsize=1024)
def _unknown(text: str) -> frozenset[str]:
    return frozenset(json.loads(text))


class SqliteSubscriptionStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.SubscriptionStore` part of
    :class:`~saas_license._store.SqliteStore`."""

    #: Staged rows written per statement on SQLite (see :func:`.base.insert_rows`).
    _stage_per = _STAGE_ROWS

    if TYPE_CHECKING:  # the run lock's fence, from the jobs part

        def _check_fence(self, profile: str, fence: str | None) -> None: ...

    def ensure_software_model(self, model: SoftwareModel) -> bool:
        """Create ``model`` unless one with its name exists; True if it was created."""
        with self.transaction():
            cur = self._q(
                "INSERT INTO software_models (name, publisher, paid, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO NOTHING",
                (model.name, model.publisher, int(model.paid), _ts(model.created_at)),
            )
            return cur.rowcount == 1

    def list_software_models(self) -> list[SoftwareModel]:
        """All software models, by name."""
        rows = self._q("SELECT * FROM software_models ORDER BY name")
        return [
            SoftwareModel(
                name=r["name"],
                publisher=r["publisher"],
                paid=bool(r["paid"]),
                created_at=_dt(r["created_at"]),
            )
            for r in rows
        ]

    def map_identifier(self, identifier: str, software_model: str) -> int:
        """Map ``identifier`` to a model and re-point every subscription carrying it; returns that count."""
        with self.transaction():
            if not self._q(
                "SELECT 1 FROM software_models WHERE name = ?", (software_model,)
            ).fetchone():
                raise ConfigError(
                    f"no software model named {software_model!r}",
                    field="software_model",
                    hint="create the model first, or pick an existing one (CLI `models`, Python `ws.subscriptions.models()`)",
                )
            self._q(
                "INSERT INTO identifier_map (identifier, software_model) VALUES (?, ?) "
                "ON CONFLICT(identifier) DO UPDATE SET software_model = excluded.software_model",
                (identifier, software_model),
            )
            cur = self._q(
                "UPDATE subscriptions SET software_model = ? WHERE identifier = ?",
                (software_model, identifier),
            )
            return cur.rowcount

    def identifier_map(self) -> dict[str, str]:
        """identifier → software model name."""
        return {
            r[0]: r[1] for r in self._q("SELECT identifier, software_model FROM identifier_map")
        }

    def unmapped_identifiers(self, profile: str | None = None) -> dict[str, int]:
        """Identifiers on active subscriptions that map to no model, with their subscription counts."""
        sql = "SELECT identifier, COUNT(*) FROM subscriptions WHERE active = 1 AND software_model IS NULL"
        params: tuple[Any, ...] = ()
        if profile is not None:
            sql += " AND profile = ?"
            params = (profile,)
        return {
            r[0]: r[1] for r in self._q(sql + " GROUP BY identifier ORDER BY identifier", params)
        }

    def unrecognized_identifiers(self) -> dict[str, dict[str, int]]:
        """identifier → {profile: active subscriptions} for identifiers mapped to no model."""
        out: dict[str, dict[str, int]] = {}
        for r in self._q(
            "SELECT identifier, profile, COUNT(*) FROM subscriptions "
            "WHERE active = 1 AND software_model IS NULL "
            "GROUP BY identifier, profile ORDER BY identifier, profile"
        ):
            out.setdefault(r[0], {})[r[1]] = r[2]
        return out

    def upsert_subscriptions(
        self, profile: str, records: Iterable[SubscriptionRecord], *, run_id: str, now: dt.datetime
    ) -> int:
        """Insert or update seats in batches; a seat is (profile, user, identifier). Returns rows seen.

        Last activity only moves forward; a seat that had vanished and is back is active again.
        All in one transaction (joined into the caller's, if any), through a temporary stage.
        """
        table = f"temp.upsert_{uuid.uuid4().hex}"
        pairs = _StageAttrs()
        with self.transaction():
            self._create_stage(table)
            try:
                staged = 0
                for batch in _batched(records, BATCH_SIZE):
                    rows = _stage_rows(batch, staged, pairs)
                    staged += len(rows)
                    self._stage_insert(table, rows, pairs)
                self._merge_staged(
                    profile, table, 0, staged, run_id=run_id, now=now, pairs=len(pairs)
                )
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                    raise self._busy() from None
                raise StoreError(f"could not store subscriptions: {exc}") from exc
            finally:
                self._drop_stage(table)
        return staged

    def _create_stage(self, table: str) -> None:
        """The temporary tables of one stage: its rows, and its distinct attribute pairs."""
        self._q(f"CREATE TABLE IF NOT EXISTS {table} ({_STAGE_COLUMNS})")
        self._q(f"CREATE TABLE IF NOT EXISTS {table}_attrs ({_STAGE_ATTRS_COLUMNS})")
        self._q(f"CREATE TABLE IF NOT EXISTS {table}_same ({_STAGE_SAME_COLUMNS})")

    def _drop_stage(self, table: str) -> None:
        self._q(f"DROP TABLE IF EXISTS {table}")
        self._q(f"DROP TABLE IF EXISTS {table}_attrs")
        self._q(f"DROP TABLE IF EXISTS {table}_held")
        self._q(f"DROP TABLE IF EXISTS {table}_same")

    def _stage_held(self, table: str, keys: list[tuple[str, str]]) -> None:
        """The (user, identifier) keys a download's quarantined records named: their seats'
        activity is never counted as checked by that download (issue 8, item 2)."""
        self._q(
            f"CREATE TABLE IF NOT EXISTS {table}_held "
            "(uid TEXT NOT NULL, ident TEXT NOT NULL, PRIMARY KEY (uid, ident))"
        )
        self._db.executemany(f"INSERT OR IGNORE INTO {table}_held (uid, ident) VALUES (?, ?)", keys)

    def _stage_insert(self, table: str, rows: list[tuple[Any, ...]], pairs: _StageAttrs) -> None:
        """Write staged rows, and the attribute pairs first seen in them."""
        new = pairs.take_new()
        if new:
            self._db.executemany(
                f"INSERT INTO {table}_attrs (akey, attributes, unknown) VALUES (?, ?, ?)", new
            )
        # many rows a statement: the page threads parsing meanwhile want the lock back
        insert_rows(self._db, f"INSERT INTO {table} VALUES", _STAGE_ROW, rows, per=self._stage_per)

    def _run_number(self, run_id: str, *, create: bool) -> int:
        """The small integer a run id is stored as (-1: a run that stored nothing)."""
        if create:
            self._q("INSERT OR IGNORE INTO download_runs (run_id) VALUES (?)", (run_id,))
        row = self._q("SELECT id FROM download_runs WHERE run_id = ?", (run_id,)).fetchone()
        return -1 if row is None else int(row[0])

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
        """Merge staged rows ``lo < seq <= hi`` set-based; call inside a write transaction.

        ``pairs``: the stage's attribute pairs numbered up to ``hi`` (at least): those not
        resolved to ``seat_attrs`` yet are, first (a few look-ups, not one per seat).

        Seats whose stored row already says what the record says (the common case of a daily
        re-run) only get marked seen; the rest are upserted in staging order. With ``stamp``
        the same write counts each seat's activity as checked at ``now`` (what
        :meth:`stamp_activity_checked` did in a second write of every seat), except a seat whose
        record left its last activity unknown or, with ``held``, one a quarantined record of
        this download named (the stage's ``_held`` table). ``fresh``: the profile had no seats
        when the merge began, so no staged row can be an unchanged seat and the fast path's
        look-ups are skipped (the upsert alone is always right; the fast path only saves writes).

        ``latest``: the profile's last complete download (:mod:`.seen`). An unchanged seat whose
        run it carried is not written at all (``d = 1`` in the stage's ``_same`` rows: the
        download carries it when it completes, :meth:`DownloadStage.close_unseen`), unless this
        download would treat it differently from the seat's last write (its record leaves last
        activity unknown, a quarantined record named it, or only a quarantined record did last
        time); other unchanged seats are only marked seen (``d = 2``).
        """
        run = self._run_number(run_id, create=True)
        now_s = epoch_ms(now)
        # the instant a staged row's seat gets as activity_checked_at (NULL: left as it was)
        checked = (
            "CASE WHEN sa.unknown NOT LIKE '%\"last_activity\"%'"
            + (
                f" AND NOT EXISTS (SELECT 1 FROM {table}_held h "
                "WHERE h.uid = st.uid AND h.ident = st.ident)"
                if held
                else ""
            )
            + " THEN :now END"
        )
        window = "st.seq > :lo AND st.seq <= :hi"
        args = {"lo": lo, "hi": hi, "p": profile, "run": run, "now": now_s, "top": pairs}
        # the attribute pairs numbered so far and not resolved yet: stored once each (few for
        # many seats), with no pass over the window (pairs are numbered as they first appear)
        pending = "attrs IS NULL AND akey <= :top"
        self._qn(
            f"INSERT OR IGNORE INTO seat_attrs (attributes, unknown) "
            f"SELECT attributes, unknown FROM {table}_attrs WHERE {pending} ORDER BY akey",
            args,
        )
        self._qn(
            f"UPDATE {table}_attrs AS sa SET attrs = (SELECT a.id FROM seat_attrs a "
            f"WHERE a.attributes = sa.attributes AND a.unknown = sa.unknown) WHERE {pending}",
            args,
        )
        # the unchanged-seat fast path: each staged row looks its seat up once (the unique key)
        # and is compared column by column in SQL; the rows found unchanged are kept aside, one
        # per seat (a seat's later rows take the full path, in order, after its first)
        same = 0
        if not fresh:
            args["latest"] = latest
            carried = (
                "s.seen_run IN (SELECT id FROM download_runs WHERE profile = :p "
                "AND carried_to = :latest) "
                "AND (s.quarantined_run IS NULL OR s.quarantined_run <> s.seen_run)"
                + (" AND sa.unknown NOT LIKE '%\"last_activity\"%'" if stamp else "")
                + (
                    f" AND NOT EXISTS (SELECT 1 FROM {table}_held h "
                    "WHERE h.uid = st.uid AND h.ident = st.ident)"
                    if held
                    else ""
                )
            )
            done = "2" if latest is None else f"CASE WHEN {carried} THEN 1 ELSE 2 END"
            same = self._qn(  # staged rows drive the join (CROSS JOIN keeps that order)
                f"INSERT OR IGNORE INTO {table}_same (seq, sid, d) SELECT st.seq, s.id, {done} "
                f"FROM {table} st CROSS JOIN {table}_attrs sa ON sa.akey = st.akey "
                "CROSS JOIN subscriptions s ON s.profile = :p "
                "AND s.external_user_id = st.uid AND s.identifier = st.ident "
                f"WHERE {window} AND s.active = 1 AND s.attrs = sa.attrs "
                "AND s.user_principal_name = st.upn AND s.display_name = st.display "
                "AND (st.la IS NULL OR st.la <= s.last_activity) "
                "AND (st.ec IS NULL OR st.ec = s.external_created) "
                "AND (st.aa IS NULL OR st.aa = s.assigned_at) "
                f"AND COALESCE({self._mapped(args)}, s.software_model) IS s.software_model "
                "ORDER BY st.seq",
                args,
            ).rowcount
        # every row of the window unchanged (a daily re-run): nothing to check or upsert
        rest = hi - lo - max(same, 0)
        # a seat staged twice in the window, changed by its earlier row and found unchanged by a
        # later one (compared with the seat before the window): in order, the later row would
        # undo the change, so the whole window takes the full path, in order
        if (
            not fresh
            and rest
            and self._qn(
                f"SELECT 1 FROM {table} st CROSS JOIN subscriptions s ON s.profile = :p "
                "AND s.external_user_id = st.uid AND s.identifier = st.ident "
                f"CROSS JOIN {table}_same m ON m.sid = s.id AND m.seq > st.seq "
                f"WHERE {window} AND NOT EXISTS (SELECT 1 FROM {table}_same u "
                "WHERE u.seq = st.seq) LIMIT 1",
                args,
            ).fetchone()
            is not None
        ):
            self._qn(f"DELETE FROM {table}_same WHERE seq > :lo AND seq <= :hi", args)
        elif not fresh:
            if stamp:  # seen and checked in one write per seat (no column of an index)
                self._qn(
                    "UPDATE subscriptions AS s SET seen_run = :run, last_seen_at = :now, "
                    f"activity_checked_at = COALESCE(x.chk, {checked_of('s')}) "
                    f"FROM (SELECT u.sid, {checked} AS chk FROM {table}_same u "
                    f"CROSS JOIN {table} st ON st.seq = u.seq "
                    f"CROSS JOIN {table}_attrs sa ON sa.akey = st.akey "
                    "WHERE u.seq > :lo AND u.seq <= :hi AND u.d = 2) AS x WHERE s.id = x.sid",
                    args,
                )
            else:
                self._qn(
                    "UPDATE subscriptions SET seen_run = :run, last_seen_at = :now, "
                    f"activity_checked_at = {checked_of('subscriptions')} WHERE id IN ("
                    f"SELECT sid FROM {table}_same WHERE seq > :lo AND seq <= :hi AND d = 2)",
                    args,
                )
        if fresh or rest:  # the rows not found unchanged, in staging order
            self._qn(
                "INSERT INTO subscriptions (profile, external_user_id, identifier, "
                "user_principal_name, display_name, software_model, last_activity, external_created, "
                "assigned_at, first_seen_at, last_seen_at, created_run, seen_run, active, attrs"
                + (", activity_checked_at) " if stamp else ") ")
                + "SELECT :p, st.uid, st.ident, st.upn, st.display, "
                "(SELECT m.software_model FROM identifier_map m WHERE m.identifier = st.ident), "
                "st.la, st.ec, st.aa, :now, :now, :run, :run, 1, sa.attrs"
                + (f", {checked} " if stamp else " ")
                + f"FROM {table} st CROSS JOIN {table}_attrs sa ON sa.akey = st.akey "
                f"WHERE {window} AND NOT EXISTS (SELECT 1 FROM {table}_same u WHERE u.seq = st.seq) "
                "ORDER BY st.seq "
                "ON CONFLICT(profile, external_user_id, identifier) DO UPDATE SET "
                "user_principal_name = excluded.user_principal_name, "
                "display_name = excluded.display_name, "
                "software_model = COALESCE(excluded.software_model, subscriptions.software_model), "
                "last_activity = CASE WHEN excluded.last_activity IS NOT NULL AND "
                "(subscriptions.last_activity IS NULL OR excluded.last_activity > subscriptions.last_activity) "
                "THEN excluded.last_activity ELSE subscriptions.last_activity END, "
                "external_created = COALESCE(excluded.external_created, subscriptions.external_created), "
                "assigned_at = COALESCE(excluded.assigned_at, subscriptions.assigned_at), "
                "last_seen_at = excluded.last_seen_at, seen_run = excluded.seen_run, active = 1, "
                "attrs = excluded.attrs"
                + (
                    ", activity_checked_at = COALESCE(excluded.activity_checked_at, "
                    f"{checked_of('subscriptions')})"
                    if stamp
                    else f", activity_checked_at = {checked_of('subscriptions')}"
                ),
                args,
            )

    def _latest_run(self, profile: str) -> int | None:
        """The profile's last complete download that carried its seats (:mod:`.seen`), if any."""
        row = self._q(
            "SELECT MAX(id) FROM download_runs WHERE profile = ? AND carried_to = id", (profile,)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _carry(
        self, profile: str, run_id: str, seen_at: int, checked_at: int | None, *, fence: str | None
    ) -> None:
        """The complete download ``run_id`` (its vanished seats closed) carries the runs the
        profile's last one carried: their active seats read as seen at ``seen_at`` and, with
        ``checked_at``, checked then. Its own row carries nothing (its seats say it already)."""
        with self.transaction():
            self._check_fence(profile, fence)
            run = self._run_number(run_id, create=True)
            latest = self._latest_run(profile)
            if latest is not None and latest != run:
                self._q(
                    "UPDATE download_runs SET carried_to = ?, carried_seen_at = ?, "
                    "carried_checked_at = COALESCE(?, carried_checked_at) "
                    "WHERE profile = ? AND carried_to = ?",
                    (run, seen_at, checked_at, profile, latest),
                )
            self._q(
                "UPDATE download_runs SET profile = ?, carried_to = id, carried_seen_at = ?, "
                "carried_checked_at = NULL WHERE id = ?",
                (profile, seen_at, run),
            )
        kill_point("download.carried")

    def _mapped(self, args: dict[str, Any]) -> str:
        """SQL for the software model a staged row's identifier maps to now (NULL: none): the
        few mappings inline, read inside the merge's transaction; else a look-up per row."""
        rows = self._q(
            f"SELECT identifier, software_model FROM identifier_map LIMIT {_INLINE_MAPPINGS + 1}"
        ).fetchall()
        if len(rows) > _INLINE_MAPPINGS:
            return "(SELECT m.software_model FROM identifier_map m WHERE m.identifier = st.ident)"
        if not rows:
            return "NULL"
        whens = []
        for i, (ident, model) in enumerate(rows):
            args[f"mi{i}"], args[f"mm{i}"] = ident, model
            whens.append(f"WHEN :mi{i} THEN :mm{i}")
        return f"(CASE st.ident {' '.join(whens)} END)"

    def count_created(self, profile: str, run_id: str) -> int:
        """Subscriptions first created by ``run_id``."""
        row = self._q(
            "SELECT COUNT(*) FROM subscriptions WHERE profile = ? AND created_run = ?",
            (profile, self._run_number(run_id, create=False)),
        ).fetchone()
        return int(row[0])

    def close_unseen(self, profile: str, *, run_id: str, fence: str | None = None) -> list[int]:
        """Mark active seats not seen by the *completed* download ``run_id`` inactive; their ids.

        Closes in batches of :data:`STAGE_BATCH`, each its own short transaction (unless called
        inside an outer one); with ``fence`` (a run lock owner) each batch first checks that
        the run still holds the profile's lock. A closed seat keeps the instants it had as last
        seen and checked (:data:`MATERIALIZE`).
        """
        return self._close_unseen(profile, run_id=run_id, fence=fence, matched=None)

    def _close_unseen(
        self, profile: str, *, run_id: str, fence: str | None, matched: str | None
    ) -> list[int]:
        """:meth:`close_unseen`; ``matched``: the download's stage, whose rows
        it found unchanged with ``d = 1`` name seats it saw without writing them (:mod:`.seen`).
        """
        unseen = "profile = ? AND active = 1 AND (seen_run IS NULL OR seen_run != ?)"
        run = self._run_number(run_id, create=False)
        kept = f" AND id NOT IN (SELECT sid FROM {matched}_same WHERE d = 1)" if matched else ""
        ids = [
            r[0]
            for r in self._q(f"SELECT id FROM subscriptions WHERE {unseen}{kept}", (profile, run))
        ]
        closed: list[int] = []
        for batch in _batched(ids, STAGE_BATCH):
            with self.transaction():
                self._check_fence(profile, fence)
                marks = ", ".join("?" * len(batch))
                still = [
                    r[0]
                    for r in self._q(
                        f"SELECT id FROM subscriptions WHERE id IN ({marks}) AND {unseen}",
                        (*batch, profile, run),
                    )
                ]
                if still:
                    self._q(
                        f"UPDATE subscriptions SET {MATERIALIZE}, active = 0 "
                        f"WHERE id IN ({', '.join('?' * len(still))})",
                        still,
                    )
                closed.extend(still)
            kill_point("download.closed")
        return closed

    def deactivate_subscription(self, subscription_id: int) -> None:
        """Mark one seat inactive (after a successful reclaim)."""
        with self.transaction():
            self._q(
                f"UPDATE subscriptions SET {MATERIALIZE}, active = 0 WHERE id = ?",
                (subscription_id,),
            )

    def reactivate_subscription(self, subscription_id: int) -> None:
        """Mark one seat active again (after an undo), with only its own instants: no download
        carried it while it was closed (:mod:`.seen`)."""
        with self.transaction():
            self._q(
                "UPDATE subscriptions SET active = 1, seen_run = NULL WHERE id = ? AND active = 0",
                (subscription_id,),
            )

    def stamp_activity_checked(self, profile: str, *, run_id: str, now: dt.datetime) -> int:
        """Count the activity the download ``run_id`` carried as checked at ``now``; rows stamped.

        Stamps by windows of ids (:func:`merge_window`), one short transaction each (issue 8). A
        seat whose last activity the vendor did not report, or whose record was quarantined this
        run, is not checked (issue 8, item 2).
        """
        # NOT INDEXED: walk the id window (a rowid range), never a whole profile's index entries
        # the seats the download wrote, and the active ones it carried unchanged (:mod:`.seen`)
        which = (
            "WHERE profile = ? AND (seen_run = ? OR (active = 1 AND seen_run IN ("
            "SELECT id FROM download_runs WHERE profile = ? AND carried_to = ? AND id <> ?))) "
            "AND attrs NOT IN (SELECT id FROM seat_attrs WHERE unknown LIKE '%\"last_activity\"%') "
            "AND (quarantined_run IS NULL OR quarantined_run != seen_run)"
        )
        sql = "UPDATE subscriptions NOT INDEXED SET activity_checked_at = ? " + which
        found = self._q(
            "SELECT id, activity_checked_at FROM download_runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        run = -1 if found is None else int(found[0])
        if found is not None and found[1] is not None:
            # the merge stamped them already, in the same write that marked them seen
            # (:meth:`DownloadStage.merge` with ``activity_checked``), or the download carried
            # them with its instant: count, write nothing
            row = self._q(
                "SELECT COUNT(*) FROM subscriptions NOT INDEXED " + which,
                (profile, run, profile, run, run),
            ).fetchone()
            return int(row[0])
        lo, hi = self._q(
            "SELECT MIN(id), MAX(id) FROM subscriptions WHERE profile = ?", (profile,)
        ).fetchone()
        stamped = 0
        window = merge_window(0 if lo is None else hi - lo + 1)
        for start in range(0 if lo is None else lo - 1, 0 if hi is None else hi, window):
            with self.transaction():
                cur = self._q(
                    sql + " AND id > ? AND id <= ?",
                    (epoch_ms(now), profile, run, profile, run, run, start, start + window),
                )
            stamped += max(cur.rowcount, 0)
        return stamped

    def apply_activity(
        self, profile: str, records: Iterable[ActivityRecord], *, now: dt.datetime
    ) -> tuple[int, int]:
        """Move each user's last activity forward and stamp when it was checked.

        Returns (records read, subscription rows touched).
        """
        now_s = epoch_ms(now)
        sql = (
            "UPDATE subscriptions SET activity_checked_at = ?, last_activity = CASE "
            "WHEN ? IS NOT NULL AND (last_activity IS NULL OR ? > last_activity) THEN ? "
            "ELSE last_activity END WHERE profile = ? AND external_user_id = ?"
        )
        read = touched = 0
        # one short transaction per batch (joined into the caller's, if any): the vendor's
        # activity stream is never read while holding the database's write lock
        for batch in _batched(records, BATCH_SIZE):
            rows = []
            for r in batch:
                ts = _ms(r.last_activity)
                rows.append((now_s, ts, ts, ts, profile, r.external_user_id))
            with self.transaction():
                cur = self._db.executemany(sql, rows)
            read += len(rows)
            touched += max(cur.rowcount, 0)
        return read, touched

    def _row_to_subscription(self, r: sqlite3.Row) -> Subscription:
        return Subscription(
            id=r["id"],
            profile=r["profile"],
            external_user_id=r["external_user_id"],
            user_principal_name=r["user_principal_name"],
            identifier=r["identifier"],
            software_model=r["software_model"],
            display_name=r["display_name"],
            last_activity=_from_ms(r["last_activity"]),
            activity_checked_at=_from_ms(r["activity_checked_at"]),
            external_created=_from_ms(r["external_created"]),
            assigned_at=_from_ms(r["assigned_at"]),
            first_seen_at=_from_ms(r["first_seen_at"]),
            last_seen_at=_from_ms(r["last_seen_at"]),
            active=bool(r["active"]),
            attributes=_attributes(r["attributes"]),
            unknown=_unknown(r["unknown"]),
        )

    def iter_subscriptions(
        self, profile: str | None = None, *, active_only: bool = True
    ) -> Iterator[Subscription]:
        """Stream subscriptions (ordered by id) without loading them all at once."""
        where, params = [], []
        if profile is not None:
            where.append("s.profile = ?")
            params.append(profile)
        if active_only:
            where.append("s.active = 1")
        sql = f"SELECT {_SUB_COLUMNS} FROM {_SUB_FROM}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        last_id = 0
        while True:
            clause = (" AND " if where else " WHERE ") + "s.id > ?"
            rows = self._q(
                sql + clause + " ORDER BY s.id LIMIT ?", (*params, last_id, BATCH_SIZE)
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield self._row_to_subscription(r)
            last_id = rows[-1]["id"]

    def iter_seat_keys(self, profile: str) -> Iterator[tuple[int, str, str]]:
        """(id, user, identifier) of a profile's active seats, by id, page by page: what a
        plan needs to know of the seats it does not act on, without building each one."""
        last_id = 0
        while True:
            rows = self._q(
                "SELECT id, external_user_id, identifier FROM subscriptions "
                "WHERE profile = ? AND active = 1 AND id > ? ORDER BY id LIMIT ?",
                (profile, last_id, STAGE_BATCH),
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield r[0], r[1], r[2]
            last_id = rows[-1][0]

    def query_subscriptions(
        self,
        profile: str | None = None,
        *,
        software_model: str | None = None,
        inactive_before: dt.datetime | None = None,
        active_only: bool = True,
    ) -> Iterator[Subscription]:
        """Stream subscriptions (by id, page by page) of a profile and/or software model;
        ``inactive_before`` keeps seats last active before it or never active."""
        where: list[str] = ["id > ?"]
        params: list[object] = []
        if profile is not None:
            where.append("profile = ?")
            params.append(profile)
        if software_model is not None:
            where.append("software_model = ?")
            params.append(software_model)
        if inactive_before is not None:
            where.append("(last_activity IS NULL OR last_activity < ?)")
            params.append(_ms(inactive_before))
        if active_only:
            where.append("active = 1")
        # a page of seats first, then their shared attribute rows
        sql = (
            f"SELECT {_SUB_COLUMNS} FROM (SELECT * FROM subscriptions WHERE "
            f"{' AND '.join(where)} ORDER BY id LIMIT ?) s "
            f"CROSS JOIN seat_attrs a ON a.id = s.attrs {SEEN_JOIN} ORDER BY s.id"
        )
        last_id = 0
        while True:
            rows = self._q(sql, (last_id, *params, BATCH_SIZE)).fetchall()
            if not rows:
                return
            for r in rows:
                yield self._row_to_subscription(r)
            last_id = rows[-1]["id"]

    def get_subscription(self, subscription_id: int) -> Subscription | None:
        """One subscription by id, active or not."""
        row = self._q(
            f"SELECT {_SUB_COLUMNS} FROM {_SUB_FROM} WHERE s.id = ?", (subscription_id,)
        ).fetchone()
        return None if row is None else self._row_to_subscription(row)

    def subscriptions_by_id(self, ids: Iterable[int]) -> dict[int, Subscription]:
        """Subscriptions by id, active or not (missing ids are left out), read in batches."""
        out: dict[int, Subscription] = {}
        for batch in _batched(ids, BATCH_SIZE):
            for r in self._q(
                f"SELECT {_SUB_COLUMNS} FROM {_SUB_FROM} WHERE s.id IN (SELECT value FROM json_each(?))",
                (json.dumps(batch),),
            ):
                out[r["id"]] = self._row_to_subscription(r)
        return out

    def user_subscriptions(self, profile: str, external_user_id: str) -> list[Subscription]:
        """The active seats one user holds in one profile (what a per-user reclaim frees)."""
        rows = self._q(
            f"SELECT {_SUB_COLUMNS} FROM {_SUB_FROM} "
            "WHERE s.profile = ? AND s.external_user_id = ? AND s.active = 1 ORDER BY s.id",
            (profile, external_user_id),
        )
        return [self._row_to_subscription(r) for r in rows]

    def count_subscriptions(
        self, profile: str | None = None, *, by: str | None = None
    ) -> dict[str, int]:
        """Active subscription counts, in total (``{"total": n}``) or grouped by a column."""
        allowed = {None, "software_model", "identifier", "profile"}
        if by not in allowed:
            raise ConfigError(
                f"cannot group by {by!r}",
                field="by",
                hint=f"use one of {sorted(filter(None, allowed))}",
            )
        params: tuple[Any, ...] = (profile,) if profile else ()
        where = "WHERE active = 1" + (" AND profile = ?" if profile else "")
        if by is None:
            return {
                "total": int(
                    self._q(f"SELECT COUNT(*) FROM subscriptions {where}", params).fetchone()[0]
                )
            }
        rows = self._q(
            f"SELECT COALESCE({by}, '(unrecognized)'), COUNT(*) FROM subscriptions {where} "
            f"GROUP BY 1 ORDER BY 1",
            params,
        )
        return {r[0]: r[1] for r in rows}

    def stage_download(
        self, profile: str, *, run_id: str, fence: str | None = None
    ) -> contextlib.AbstractContextManager[DownloadStage]:
        """A staging area for one download (see :class:`DownloadStage`); dropped on exit."""
        return DownloadStage(self, profile, run_id=run_id, fence=fence)

    def mark_seen(self, profile: str, keys: Iterable[tuple[str, str]], *, run_id: str) -> None:
        """Count existing seats (user, identifier) as seen by ``run_id`` without changing them:
        a quarantined record never closes or changes the seat it refers to."""
        with self.transaction():
            run = self._run_number(run_id, create=True)
            self._db.executemany(
                f"UPDATE subscriptions SET {MATERIALIZE}, seen_run = ?, quarantined_run = ? "
                "WHERE profile = ? AND external_user_id = ? AND identifier = ?",
                [(run, run, profile, user, ident) for user, ident in keys],
            )


class DownloadStage:
    """One download staged outside the database's write lock, then swapped in short transactions.

    :meth:`add` streams the spoke's records into a temporary table of this connection (writing
    it takes no lock on the workspace), so reads, rule edits and ``jobs`` work all through a
    long download. :meth:`merge` then upserts them in windows of :func:`merge_window` seats, one
    short transaction each, and :meth:`close_unseen` closes vanished seats the same way. Only a
    download that was staged completely is merged, so only a complete download closes seats; a
    failed one leaves the store as it was. With ``fence`` each batch checks the run still holds
    the profile's lock. A crash mid-merge leaves some seats refreshed (each with true vendor
    data) and none closed; the next complete run finishes the job. Seats the download found
    unchanged are not written: only a complete download carries them (:mod:`.seen`), so a crash
    leaves them as the last complete download saw them.
    """

    def __init__(
        self, store: SqliteSubscriptionStore, profile: str, *, run_id: str, fence: str | None = None
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_]+", run_id):
            raise StoreError(f"a download's run id must be a plain token, not {run_id!r}")
        self._store, self.profile, self.run_id, self.fence = store, profile, run_id, fence
        self._table = f"temp.stage_{run_id}"
        self._pairs = _StageAttrs()
        #: (rows staged, pairs numbered) after each staged batch: a merge window's pairs
        self._marks: list[tuple[int, int]] = []
        self.identifiers: set[str] = set()
        self.staged = 0
        #: the instants a complete merge saw the seats and checked their activity (:mod:`.seen`)
        self._merged: tuple[int, int | None] | None = None

    def __enter__(self) -> DownloadStage:
        self._store._create_stage(self._table)
        return self

    def __exit__(self, *exc: object) -> None:
        self._store._drop_stage(self._table)

    def add(self, records: Iterable[SubscriptionRecord]) -> int:
        """Stage records as the spoke yields them (no workspace lock held); returns how many."""
        for batch in _batched(records, STAGE_BATCH):
            rows = _stage_rows(batch, self.staged, self._pairs)
            self.staged += len(rows)
            self._marks.append((self.staged, len(self._pairs)))
            self.identifiers.update(r.identifier for r in batch)
            try:
                with self._store._lock:  # never inside another thread's transaction
                    self._store._stage_insert(self._table, rows, self._pairs)
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"could not stage the download: {exc}") from exc
            kill_point("download.staged")
        return self.staged

    def merge(
        self,
        *,
        now: dt.datetime,
        activity_checked: bool = False,
        quarantined: Iterable[tuple[str, str]] = (),
    ) -> int:
        """Merge the staged records into the workspace set-based, one short transaction per
        window of :func:`merge_window` seats.

        With ``activity_checked`` (a spoke whose download carries last activity) each merged
        seat's activity counts as checked at ``now`` in the same write that marks it seen, so
        the download's activity needs no second write of every seat: a later
        :meth:`~SqliteSubscriptionStore.stamp_activity_checked` of this run only counts them.
        A seat whose record left last activity unknown, or one named by a ``quarantined``
        record (user, identifier) of this download, is not counted as checked.
        """
        # staged either way: a seat a quarantined record named is written, never carried
        held = sorted(set(quarantined))
        if held:
            try:
                with self._store._lock:
                    self._store._stage_held(self._table, held)
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"could not stage the download: {exc}") from exc
        merged, window = 0, merge_window(self.staged)
        self._merged = None
        # a profile's first download: every staged row is a new seat (no look-ups of stored ones)
        fresh = (
            self._store._q(
                "SELECT 1 FROM subscriptions WHERE profile = ? LIMIT 1", (self.profile,)
            ).fetchone()
            is None
        )
        latest = self._store._latest_run(self.profile)
        for lo in range(0, self.staged, window):
            hi = min(lo + window, self.staged)
            with self._store.transaction():
                self._store._check_fence(self.profile, self.fence)
                try:
                    self._store._merge_staged(
                        self.profile,
                        self._table,
                        lo,
                        hi,
                        run_id=self.run_id,
                        now=now,
                        pairs=self._marks[bisect.bisect_left(self._marks, (hi, 0))][1],
                        stamp=activity_checked,
                        held=bool(held),
                        fresh=fresh,
                        latest=latest,
                    )
                    if activity_checked and hi == self.staged:  # with the last window
                        self._store._q(
                            "UPDATE download_runs SET activity_checked_at = ? WHERE run_id = ?",
                            (epoch_ms(now), self.run_id),
                        )
                except StoreError:
                    raise
                except sqlite3.DatabaseError as exc:  # pragma: no cover - _q maps these
                    raise StoreError(f"could not store subscriptions: {exc}") from exc
            merged += hi - lo
            kill_point("download.merged")
        self._merged = (epoch_ms(now), epoch_ms(now) if activity_checked else None)
        return merged

    def close_unseen(self) -> list[int]:
        """Close the seats this (complete) download did not see; their ids. Then the download
        carries the seats it saw unchanged (:mod:`.seen`): they read as seen by it."""
        closed = self._store._close_unseen(
            self.profile, run_id=self.run_id, fence=self.fence, matched=self._table
        )
        if self._merged is not None:
            self._store._carry(self.profile, self.run_id, *self._merged, fence=self.fence)
        return closed
