"""Reclaim plans and reclaim actions on SQLite.

Implements :class:`~saas_license._store._protocol.PlanStore`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any, NamedTuple

import attrs

from ..._candidates.records import CandidateState, RemovalCandidate
from ..._convert import converter
from ..._errors import StoreError
from ..._reclaim.records import (
    HeldItem,
    PlanAction,
    PlanBasis,
    PlanItem,
    ReclaimAction,
    ReclaimPlan,
)
from ..._reclaim.stored import StoredPlan, head_data, stored_plan, summary_of
from ..._subscriptions import Subscription
from ..._time import format_instant
from .base import SqliteBaseStore, _batched, _dt, _dumps
from .candidates import from_ms, to_ms

__all__ = ["SqlitePlanStore"]

#: Plan items written per ``executemany``.
_PLAN_BATCH = 500

#: One row of a plan being built, staged before it is sorted: ``held`` 0 (acted on), 1 (held by
#: its own decision) or 2 (held: its unit has seats the plan does not cover); ``kind`` 0
#: (notify) or 1 (reclaim); ``unit`` what one vendor reclaim frees (``user:…``/``seat:…``); the
#: rest is what the stored item keeps (:data:`_REF_COLUMNS`): ids, price, the decision's basis.
_STAGE_COLUMNS = (
    "pos INTEGER PRIMARY KEY, held INTEGER NOT NULL, kind INTEGER NOT NULL, "
    "priority INTEGER NOT NULL, unit TEXT NOT NULL, cand INTEGER NOT NULL, "
    "seat INTEGER NOT NULL, usr TEXT NOT NULL, currency TEXT, savings TEXT, state TEXT, "
    "ident TEXT, last_activity INTEGER, checked_at INTEGER, reason TEXT"
)
#: A stored plan item by reference (``plans`` 2): what :meth:`SqlitePlanStore.plan_items` reads.
_REF_COLUMNS = (
    "candidate_id, seat_id, kind, state, user_id, identifier, last_activity, checked_at, "
    "savings, currency, reason"
)
#: What ``action`` says of a notice (the spoke's reclaim effect is kept in the plan's head).
NOTIFY_ACTION = "notify user"
#: The plan's order (as :func:`~saas_license._reclaim.planning.build_plan` sorts): notices
#: first, leavers' seats first, then by unit and candidate.
_PLAN_ORDER = "kind, priority, unit, cand"

#: A staged plan row: the item (or held item), its reclaim priority and its reclaim unit.
PlanRow = tuple["PlanItem | HeldItem", int, str]


class StagedBlock(NamedTuple):
    """Plan rows decided and staged by SQL (see :mod:`saas_license._reclaim.plan_sql`):
    ``write(stage)`` inserts them into the stage table (their ``pos`` their candidate id) and
    says what each kind of item it staged does (``{kind: action}``)."""

    write: Callable[[str], dict[int, str]]


class SqlitePlanStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.PlanStore` part of
    :class:`~saas_license._store.SqliteStore`."""

    @contextlib.contextmanager
    def scratch(self) -> Iterator[None]:
        """Writes to this connection's temporary tables as one transaction (outside one, SQLite
        commits every row of an ``executemany`` on its own: ~10 us a row). Takes no workspace
        write lock: only the connection's own temporary tables change."""
        with self._lock:
            began = not self._depth and not self._db.in_transaction
            if began:
                self._q("BEGIN")
            try:
                yield
            except BaseException:
                if began:
                    self._q("ROLLBACK")
                raise
            if began:
                self._q("COMMIT")

    def save_plan(self, plan: ReclaimPlan, *, scope: str = "") -> None:
        """Store a reclaim plan under its id (which must be set, with ``expires_at``).

        The items go in one row each, a batch at a time, by reference (their candidate and
        seat ids, price and :class:`PlanBasis`); an item whose candidate has no id, or whose
        action is not the plan's, keeps its JSON. ``scope`` is the spoke's reclaim scope the
        plan was made with (when known, apply reads the plan a page at a time).
        """
        if plan.id is None or plan.expires_at is None:
            raise StoreError("a stored reclaim plan needs an id and an expiry")
        units = [
            f"seat:{i.subscription.id}"
            if scope == "seat"
            else f"user:{i.subscription.external_user_id}"
            for i in plan.items
        ]
        action = next((i.action for i in plan.reclaims), "")
        head = {
            **head_data(plan),
            "summary": {**summary_of(plan, scope=scope, units=units), "action": action},
        }
        if not scope:
            head["summary"]["units_contiguous"] = False
        with self.transaction():
            self._q(
                "INSERT INTO reclaim_plans (id, profile, created_at, expires_at, data) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    plan.id,
                    plan.profile,
                    format_instant(plan.created_at),
                    format_instant(plan.expires_at),
                    _dumps(head),
                ),
            )
            for part, items in (("items", plan.items), ("held", plan.held)):
                for batch in _batched(enumerate(items), _PLAN_BATCH):
                    self._db.executemany(
                        "INSERT INTO reclaim_plan_items (plan_id, part, seq, data, "
                        f"{_REF_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(plan.id, part, i, *_item_row(it, action)) for i, it in batch],
                    )

    def save_plan_streamed(
        self, head: ReclaimPlan, rows: Iterable[PlanRow | StagedBlock], *, scope: str
    ) -> StoredPlan:
        """Store a plan whose items arrive one by one, in candidate order, never all in memory.

        ``head`` is the plan without items (its ``id`` and ``expires_at`` set). Each row is one
        stored candidate's item or held item, ids ascending; a :class:`StagedBlock` stages the
        rows SQL decided itself, as it arrives (before the rows after it). The rows are
        staged in a temporary table of this connection (no workspace lock held); then the
        per-unit hold (a reclaim frees every seat of its unit: act only when the plan covers all
        of them) and the plan's order are computed in SQL, and the plan is written in one short
        transaction, each item by reference (``plans`` 2: ids, price and the decision's basis,
        never a copy of the candidate and seat). The result equals
        :func:`~saas_license._reclaim.planning.build_plan`'s plan saved with :meth:`save_plan`.
        Unapplied plans of the profile that have expired lose their items (they can never be
        applied; their head and counts stay).
        """
        if head.id is None or head.expires_at is None:
            raise StoreError("a stored reclaim plan needs an id and an expiry")
        if not re.fullmatch(r"[A-Za-z0-9_]+", head.id):
            raise StoreError(f"a streamed plan's id must be a plain token, not {head.id!r}")
        per_seat = scope == "seat"
        stage, held, planned, users = (
            f"temp.plan_{head.id}{suffix}" for suffix in ("", "_held", "_seats", "_users")
        )
        self._drop_plan_stage(head.id)
        self._q(f"CREATE TABLE {stage} ({_STAGE_COLUMNS})")
        self._q(f"CREATE TABLE {held} (unit TEXT PRIMARY KEY, reason TEXT NOT NULL)")
        self._q(f"CREATE TABLE {planned} (seat INTEGER PRIMARY KEY)")
        self._q(f"CREATE TABLE {users} (usr TEXT PRIMARY KEY)")
        actions: dict[int, str] = {}
        insert = f"INSERT INTO {stage} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        try:
            # a row's position is its candidate's id: the rows come in candidate order. A block
            # is written as it arrives: the rows after it depend on what it staged.
            last = 0
            staged: list[tuple[Any, ...]] = []
            for row in rows:
                if isinstance(row, StagedBlock):
                    with self.scratch():
                        self._db.executemany(insert, staged)
                        staged = []
                        for kind, action in row.write(stage).items():
                            if actions.setdefault(kind, action) != action:
                                raise StoreError("a plan's items of one kind must share one action")
                    continue
                item, priority, unit = row
                cand = item.candidate.id
                if cand is None or cand <= last:
                    raise StoreError(
                        "a streamed plan's rows come one per stored candidate, in candidate "
                        f"order (candidate {cand} after {last})"
                    )
                last = cand
                staged.append(_stage_row(cand, item, priority, unit, actions))
                if len(staged) >= _PLAN_BATCH:
                    with self.scratch():
                        self._db.executemany(insert, staged)
                    staged = []
            with self.scratch():
                self._db.executemany(insert, staged)
            self._hold_uncovered(head.profile, stage, held, planned, users, per_seat=per_seat)
            summary = {**self._stage_summary(stage, scope), "action": actions.get(1, "")}
            data = {
                **head_data(head),
                "summary": summary,
            }
            # the plan is new (its head insert fails on a duplicate id) and its positions are
            # distinct: OR IGNORE only keeps an empty part from counting as a duplicate on PostgreSQL
            with self.transaction():
                self._q(
                    "DELETE FROM reclaim_plan_items WHERE plan_id IN (SELECT id FROM reclaim_plans "
                    "WHERE profile = ? AND applied_at IS NULL AND expires_at <= ?)",
                    (head.profile, format_instant(head.created_at)),
                )
                self._q(
                    "INSERT INTO reclaim_plans (id, profile, created_at, expires_at, data) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        head.id,
                        head.profile,
                        format_instant(head.created_at),
                        format_instant(head.expires_at),
                        _dumps(data),
                    ),
                )
                self._q(
                    "INSERT OR IGNORE INTO reclaim_plan_items (plan_id, part, seq, data, "
                    "candidate_id, seat_id, kind, state, user_id, identifier, last_activity, "
                    "checked_at, savings, currency) "
                    f"SELECT ?, 'items', row_number() OVER (ORDER BY {_PLAN_ORDER}) - 1, '', "
                    "cand, seat, kind, state, usr, ident, last_activity, checked_at, savings, "
                    f"currency FROM {stage} WHERE held = 0",
                    (head.id,),
                )
                # held by their own decision first, then those of units the plan cannot cover
                self._q(
                    "INSERT OR IGNORE INTO reclaim_plan_items (plan_id, part, seq, data, "
                    "candidate_id, reason) SELECT ?, 'held', row_number() OVER "
                    "(ORDER BY p.held, p.pos) - 1, '', p.cand, COALESCE(p.reason, h.reason) "
                    f"FROM {stage} p LEFT JOIN {held} h ON p.held = 2 AND h.unit = p.unit "
                    "WHERE p.held > 0",
                    (head.id,),
                )
        finally:
            self._drop_plan_stage(head.id)
        return stored_plan(data, summary, store=self, plan_id=head.id)

    def _drop_plan_stage(self, plan_id: str) -> None:
        for suffix in ("", "_held", "_late", "_seats", "_users"):  # "_late": older builds
            self._q(f"DROP TABLE IF EXISTS temp.plan_{plan_id}{suffix}")

    def _hold_uncovered(
        self, profile: str, stage: str, held: str, planned: str, users: str, *, per_seat: bool
    ) -> None:
        """The units whose reclaim would free a seat the plan does not act on (or whose planned
        seats are not the unit's active seats any more), with why, into ``held``."""
        reclaim = "held = 0 AND kind = 1"
        self._q(f"INSERT OR IGNORE INTO {planned} SELECT seat FROM {stage} WHERE {reclaim}")
        others: dict[str, list[str]] = {}
        # a planned seat that is not (or no longer) one of its unit's active seats
        same_user = "" if per_seat else " AND s.external_user_id = p.usr"
        for (unit,) in self._q(
            f"SELECT DISTINCT p.unit FROM {stage} p WHERE p.{reclaim} AND NOT EXISTS "
            "(SELECT 1 FROM subscriptions s WHERE s.id = p.seat AND s.profile = ? "
            f"AND s.active = 1{same_user})",
            (profile,),
        ).fetchall():
            others.setdefault(unit, [])
        if not per_seat:  # a user's other active seats the plan does not reclaim
            self._q(f"INSERT OR IGNORE INTO {users} SELECT usr FROM {stage} WHERE {reclaim}")
            for usr, identifier in self._q(
                f"SELECT u.usr, s.identifier FROM {users} u JOIN subscriptions s "
                "ON s.profile = ? AND s.external_user_id = u.usr AND s.active = 1 "
                f"WHERE s.id NOT IN (SELECT seat FROM {planned})",
                (profile,),
            ).fetchall():
                others.setdefault(f"user:{usr}", []).append(identifier)
        for batch in _batched(others.items(), _PLAN_BATCH):
            with self.scratch():
                self._db.executemany(
                    f"INSERT INTO {held} VALUES (?, ?)",
                    [
                        (
                            unit,
                            "the user also holds "
                            + ", ".join(sorted(idents))
                            + ", which a reclaim would take too and the plan does not cover",
                        )
                        for unit, idents in batch
                    ],
                )
        self._q(
            f"UPDATE {stage} SET held = 2 WHERE {reclaim} AND unit IN (SELECT unit FROM {held})"
        )

    def _stage_summary(self, stage: str, scope: str) -> dict[str, Any]:
        """Counts, savings per currency and whether each unit's reclaims are next to each other."""
        counts = {
            (h, k): n
            for h, k, n in self._q(
                f"SELECT held, kind, count(*) FROM {stage} GROUP BY held, kind"
            ).fetchall()
        }
        savings: dict[str, Decimal] = {}
        for currency, amount, n in self._q(
            f"SELECT currency, savings, count(*) FROM {stage} "
            "WHERE held = 0 AND kind = 1 AND savings IS NOT NULL GROUP BY currency, savings"
        ).fetchall():
            key = currency or ""
            savings[key] = savings.get(key, Decimal(0)) + Decimal(amount) * n
        runs = self._q(
            f"SELECT count(*) FROM (SELECT unit, lag(unit) OVER (ORDER BY {_PLAN_ORDER}) AS prev "
            f"FROM {stage} WHERE held = 0 AND kind = 1) r WHERE prev IS NULL OR prev <> unit"
        ).fetchone()[0]
        units = self._q(
            f"SELECT count(DISTINCT unit) FROM {stage} WHERE held = 0 AND kind = 1"
        ).fetchone()[0]
        return {
            "notice_count": counts.get((0, 0), 0),
            "reclaim_count": counts.get((0, 1), 0),
            "held_count": sum(n for (h, _), n in counts.items() if h),
            "savings_by_currency": converter.unstructure(savings),
            "scope": scope,
            "units_contiguous": runs == units,
        }

    def plan_head(self, plan_id: str) -> tuple[StoredPlan, dt.datetime | None] | None:
        """A stored plan's head and counts (its items stay in the store) and when it was applied."""
        row = self._q(
            "SELECT data, applied_at FROM reclaim_plans WHERE id = ?", (plan_id,)
        ).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        summary = data.pop("summary", None)
        if summary is None:  # stored before summaries: counted once, a page at a time
            whole = converter.structure(data, ReclaimPlan)
            if whole.items or whole.held:  # older plans kept their items inline
                summary = summary_of(whole, scope="", units=["" for _ in whole.items])
                summary["units_contiguous"] = False
            else:
                summary = self._count_stored(plan_id)
        applied = _dt(row[1])
        stored = stored_plan(data, summary, store=self, plan_id=plan_id)
        return attrs.evolve(stored, applied_at=applied), applied

    def _count_stored(self, plan_id: str) -> dict[str, Any]:
        notices = reclaims = 0
        savings: dict[str, Decimal] = {}
        for item in self.iter_plan_items(plan_id):
            if item.kind is PlanAction.NOTIFY:
                notices += 1
                continue
            reclaims += 1
            if item.potential_savings is not None:
                key = item.currency or ""
                savings[key] = savings.get(key, Decimal(0)) + item.potential_savings
        held = self._q(
            "SELECT count(*) FROM reclaim_plan_items WHERE plan_id = ? AND part = 'held'",
            (plan_id,),
        ).fetchone()[0]
        return {
            "notice_count": notices,
            "reclaim_count": reclaims,
            "held_count": held,
            "savings_by_currency": converter.unstructure(savings),
            "scope": "",
            "units_contiguous": False,
        }

    def get_plan(self, plan_id: str) -> tuple[ReclaimPlan, dt.datetime | None] | None:
        """A stored plan and when it was applied (None = not yet)."""
        row = self._q(
            "SELECT data, applied_at FROM reclaim_plans WHERE id = ?", (plan_id,)
        ).fetchone()
        if row is None:
            return None
        plan = converter.structure(json.loads(row[0]), ReclaimPlan)
        if not plan.items and not plan.held:  # stored item by item (older plans: inline)
            plan = attrs.evolve(
                plan,
                items=tuple(self.iter_plan_items(plan_id)),
                held=tuple(self.iter_plan_items(plan_id, held=True)),
            )
        return plan, _dt(row[1])

    def plan_exists(self, plan_id: str) -> bool:
        """Whether a plan with this id is stored."""
        return (
            self._q("SELECT 1 FROM reclaim_plans WHERE id = ?", (plan_id,)).fetchone() is not None
        )

    def plan_items(
        self, plan_id: str, *, held: bool = False, limit: int = 500, after: int = -1
    ) -> list[tuple[int, PlanItem | HeldItem]]:
        """One page of a stored plan's items (``held``: the candidates it holds back), as
        (position, item) after position ``after``: review a plan without loading it whole.

        An item stored by reference reads its candidate and seat as they are now (joined by
        id, a page at a time), with what the plan saw in :attr:`PlanItem.basis`; an item
        stored before (``plans`` 1) reads its JSON copy."""
        rows = self._q(
            f"SELECT seq, data, {_REF_COLUMNS} FROM reclaim_plan_items "
            "WHERE plan_id = ? AND part = ? AND seq > ? ORDER BY seq LIMIT ?",
            (plan_id, "held" if held else "items", after, limit),
        ).fetchall()
        refs = [r for r in rows if not r[1]]
        store: Any = self  # a whole store: its candidates and seats are read by id
        candidates: dict[int, RemovalCandidate] = {}
        seats: dict[int, Subscription] = {}
        action = ""
        if refs:
            candidates = {
                c.id or 0: c for c in store.list_candidates(ids=sorted({r[2] for r in refs}))
            }
            if not held:
                seats = store.subscriptions_by_id(sorted({r[3] for r in refs}))
                head = self._q("SELECT data FROM reclaim_plans WHERE id = ?", (plan_id,)).fetchone()
                action = (
                    str(json.loads(head[0]).get("summary", {}).get("action", "")) if head else ""
                )
        cls: type[PlanItem | HeldItem] = HeldItem if held else PlanItem
        out: list[tuple[int, PlanItem | HeldItem]] = []
        for r in rows:
            if r[1]:
                out.append((r[0], converter.structure(json.loads(r[1]), cls)))
                continue
            candidate = candidates.get(r[2])
            if candidate is None:
                raise StoreError(
                    f"plan {plan_id} names candidate {r[2]}, which the store no longer holds"
                )
            if held:
                out.append((r[0], HeldItem(candidate=candidate, reason=r[12] or "")))
                continue
            out.append((r[0], _ref_item(r, candidate, seats.get(r[3]), action)))
        return out

    def iter_plan_items(self, plan_id: str, *, held: bool = False) -> Iterator[Any]:
        """Every item of a stored plan (or every held one), read a page at a time."""
        after = -1
        while page := self.plan_items(plan_id, held=held, after=after):
            for _, item in page:
                yield item
            after = page[-1][0]

    def mark_plan_applied(self, plan_id: str, at: dt.datetime) -> bool:
        """Mark a plan applied; False if it already was (a plan is applied at most once)."""
        with self.transaction():
            cur = self._q(
                "UPDATE reclaim_plans SET applied_at = ? WHERE id = ? AND applied_at IS NULL",
                (format_instant(at), plan_id),
            )
            return cur.rowcount == 1

    def add_reclaim_action(self, action: ReclaimAction) -> ReclaimAction:
        """Record one vendor reclaim call; returns it with its id."""
        data = converter.unstructure(action)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "INSERT INTO reclaim_actions (profile, external_user_id, at, status, data) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    action.profile,
                    action.external_user_id,
                    format_instant(action.at),
                    action.status,
                    _dumps(data),
                ),
            )
        return converter.structure({**data, "id": cur.lastrowid}, ReclaimAction)

    def update_reclaim_action(self, action: ReclaimAction) -> None:
        """Replace a stored reclaim action (after an undo)."""
        data = converter.unstructure(action)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "UPDATE reclaim_actions SET status = ?, data = ? WHERE id = ?",
                (action.status, _dumps(data), action.id),
            )
            if cur.rowcount != 1:
                raise StoreError(f"no reclaim action with id {action.id}")

    def get_reclaim_action(self, action_id: int) -> ReclaimAction | None:
        """One reclaim action by id."""
        row = self._q("SELECT id, data FROM reclaim_actions WHERE id = ?", (action_id,)).fetchone()
        if row is None:
            return None
        return converter.structure({**json.loads(row["data"]), "id": row["id"]}, ReclaimAction)

    def list_reclaim_actions(
        self, profile: str | None = None, *, limit: int = 1000
    ) -> list[ReclaimAction]:
        """Reclaim actions, oldest first."""
        sql, params = "SELECT id, data FROM reclaim_actions", []
        if profile is not None:
            sql += " WHERE profile = ?"
            params.append(profile)
        rows = self._q(sql + " ORDER BY id LIMIT ?", (*params, limit))
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, ReclaimAction)
            for r in rows
        ]

    def unresolved_reclaim_actions(self, profile: str) -> list[ReclaimAction]:
        """Reclaims whose outcome was never seen (``requested``: the process died; ``unknown``)."""
        rows = self._q(
            "SELECT id, data FROM reclaim_actions WHERE profile = ? "
            "AND status IN ('requested', 'unknown') ORDER BY id",
            (profile,),
        )
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, ReclaimAction)
            for r in rows
        ]

    def reclaims_to_verify(self, profile: str) -> list[ReclaimAction]:
        """Confirmed reclaims (seats free) not yet verified by a download, nor undone, nor
        reappeared: what the next complete download checks."""
        rows = self._q(
            "SELECT id, data FROM reclaim_actions WHERE profile = ? "
            "AND status IN ('success', 'already_done') "
            "AND json_extract(data, '$.verified_at') IS NULL "
            "AND json_extract(data, '$.reappeared_at') IS NULL "
            "AND json_extract(data, '$.undone_at') IS NULL ORDER BY id",
            (profile,),
        )
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, ReclaimAction)
            for r in rows
        ]


def _stage_row(
    pos: int, item: PlanItem | HeldItem, priority: int, unit: str, actions: dict[int, str]
) -> tuple[Any, ...]:
    """One staged row of a plan being built (see :data:`_STAGE_COLUMNS`); ``actions`` collects
    what each kind's items say (one per kind: it is kept once, in the plan's head)."""
    cand = item.candidate.id or 0
    if isinstance(item, HeldItem):
        return (pos, 1, 0, 0, "", cand, 0, "", None, None, None, None, None, None, item.reason)
    kind = 0 if item.kind is PlanAction.NOTIFY else 1
    if actions.setdefault(kind, item.action) != item.action:
        raise StoreError(f"a plan's {item.kind.value} items must share one action")
    basis = item.planned()
    return (
        pos,
        0,
        kind,
        priority,
        unit,
        cand,
        item.subscription.id,
        basis.external_user_id,
        item.currency,
        None if item.potential_savings is None else str(item.potential_savings),
        basis.state.value,
        basis.identifier,
        to_ms(basis.last_activity),
        to_ms(basis.activity_checked_at),
        None,
    )


def _item_row(item: PlanItem | HeldItem, action: str) -> tuple[Any, ...]:
    """``data`` and :data:`_REF_COLUMNS` of one item saved whole (:meth:`save_plan`): by
    reference when its candidate is stored and its action is what the plan's head says."""
    cand = item.candidate.id
    if isinstance(item, HeldItem):
        if cand is None:
            return (_dumps(converter.unstructure(item)), *(None,) * 11)
        return ("", cand, *(None,) * 9, item.reason)
    expected = NOTIFY_ACTION if item.kind is PlanAction.NOTIFY else action
    if cand is None or item.action != expected:
        return (_dumps(converter.unstructure(item)), *(None,) * 11)
    basis = item.planned()
    return (
        "",
        cand,
        item.subscription.id,
        0 if item.kind is PlanAction.NOTIFY else 1,
        basis.state.value,
        basis.external_user_id,
        basis.identifier,
        to_ms(basis.last_activity),
        to_ms(basis.activity_checked_at),
        None if item.potential_savings is None else str(item.potential_savings),
        item.currency,
        None,
    )


def _ref_item(
    row: Any, candidate: RemovalCandidate, seat: Subscription | None, action: str
) -> PlanItem:
    """A plan item stored by reference: its candidate and seat as they are now (a seat no longer
    stored, e.g. its profile was deleted, is shown from the candidate, inactive), what the plan
    saw as its basis."""
    (_, _, _, seat_id, kind, state, user, ident, last, checked, savings, currency, _) = row
    if seat is None:
        seat = Subscription(
            id=seat_id,
            profile=candidate.profile,
            external_user_id=candidate.external_user_id,
            user_principal_name=candidate.user_principal_name,
            identifier=candidate.identifier,
            software_model=candidate.software_model,
            active=False,
        )
    notify = kind == 0
    return PlanItem(
        candidate=candidate,
        subscription=seat,
        action=NOTIFY_ACTION if notify else action,
        potential_savings=None if savings is None else Decimal(savings),
        kind=PlanAction.NOTIFY if notify else PlanAction.RECLAIM,
        currency=currency,
        basis=PlanBasis(
            state=CandidateState(state),
            external_user_id=user,
            identifier=ident,
            last_activity=from_ms(last),
            activity_checked_at=from_ms(checked),
        ),
    )
