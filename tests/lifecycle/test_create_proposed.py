"""How a run stores the candidates its rules propose (``SetEvaluation.proposed_seats`` into
``CandidateWorkflow.create_proposed``: one draft per kind of seat, rows and audit entries
written in bulk) leaves the store exactly as one ``create`` per proposal would, and as
``create_many``: the same candidate rows, the same audit rows and hashes, chains that verify;
and a batch killed half-written stores nothing of it."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saas_license import ReclamationRule, SoftwareModel
from saas_license._candidates.notices import NoticeContext
from saas_license._candidates.workflow import CandidateWorkflow
from saas_license._directory import Person
from saas_license._evaluation import EvaluationPolicy
from saas_license._evaluation_sql import evaluate_profile
from saas_license._finance.pricing import UnitPrice
from saas_license._store import SqliteStore
from saas_license._store._sqlite.candidates import SELECT
from saas_license._subscriptions import SubscriptionRecord
from saas_license._time import days_between

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
MODELS = ("Roadmaps", "Develop", "Teamwork")


class _Prices:
    """One priced model (the others unknown): each candidate's savings as create() has them."""

    def unit_price(self, software_model: str, *, at: dt.datetime) -> UnitPrice | None:
        return (
            UnitPrice(amount=Decimal("149.50"), currency="EUR")
            if software_model == "Roadmaps"
            else None
        )


seat = st.fixed_dictionaries(
    {
        "upn": st.sampled_from(["", "no-address", "user@example.com", "Ünï@Example.COM"]),
        "model": st.sampled_from(MODELS),
        # vendor manager attributes: none, an address, a non-address, a list (unhashable)
        "manager": st.sampled_from([None, "boss@example.com", "boss", ["a@x.com"]]),
        "idle_days": st.integers(min_value=0, max_value=900),
        "never_active": st.booleans(),
        # the seat's person in the directory: none, or one with a manager, or a leaver
        "person": st.sampled_from([None, "with_manager", "leaver", "plain"]),
    }
)
rule = st.fixed_dictionaries(
    {
        "notify_user": st.booleans(),
        "keep_requires_approval": st.booleans(),
        "approver": st.sampled_from([None, "approver@example.com"]),
        "approver_group": st.sampled_from([None, "Owners", "Empty"]),
        "inactivity_days": st.sampled_from([1, 30, 90]),
    }
)


def _build(rows: list[dict[str, Any]], rules: list[dict[str, Any]]) -> SqliteStore:
    store = SqliteStore(":memory:")
    for model, found in zip(MODELS, rules, strict=True):
        store.ensure_software_model(SoftwareModel(name=model, publisher="P", paid=True))
        store.map_identifier(model.lower(), model)
        store.save_reclamation_rule(ReclamationRule(software_model=model, **found))
    people = []
    records = []
    for i, r in enumerate(rows):
        upn = r["upn"] if r["upn"] in ("", "no-address") else f"{i}.{r['upn']}"
        if r["person"] is not None and "@" in upn:
            people.append(
                Person(
                    email=upn,
                    manager_email="head@example.com" if r["person"] == "with_manager" else None,
                    employment_status="leaver" if r["person"] == "leaver" else "active",
                )
            )
        last = NOW - dt.timedelta(days=r["idle_days"], hours=i % 24)
        records.append(
            SubscriptionRecord(
                external_user_id=f"u{i}",
                user_principal_name=upn,
                identifier=r["model"].lower(),
                last_activity=None if r["never_active"] else last,
                external_created=last - dt.timedelta(days=3),
                attributes={} if r["manager"] is None else {"manager": r["manager"]},
            )
        )
    if people:
        store.replace_directory(people, source="generated", loaded_at="2026-06-15T12:00:00Z")
    store.upsert_subscriptions("p", records, run_id="r", now=NOW)
    store._q("UPDATE subscriptions SET activity_checked_at = ?", (int(NOW.timestamp() * 1000),))
    return store


def _workflow(store: SqliteStore) -> CandidateWorkflow:
    groups = {"Owners": ("owner@example.com",), "Empty": ()}
    return CandidateWorkflow(
        store, prices=_Prices(), clock=lambda: NOW, notices=NoticeContext(groups=groups)
    )


def _evaluate(store: SqliteStore) -> Any:
    return evaluate_profile(
        store,
        "p",
        now=NOW + dt.timedelta(hours=1),
        profile_type="t",
        exclusions=[],
        rules=store.list_reclamation_rules(),
        integration_user_id=None,
    )


def _stored(store: SqliteStore) -> tuple[list[Any], list[Any], list[Any]]:
    assert store.verify_audit().ok
    # each row as stored, its interned texts joined (one create() each interns them in
    # another order than a batch does)
    rows = [tuple(r) for r in store._q(SELECT + " ORDER BY c.id")]
    audit = [tuple(r) for r in store._q("SELECT * FROM audit_log ORDER BY id")]
    return store.list_candidates(), rows, audit


class _WithoutBulk:
    """A store without the bulk writes (as a third party's may be): create_proposed then
    stores each seat through create_many's path."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name in ("add_candidate_rows", "append_audit_similar"):
            raise AttributeError(name)
        return getattr(self._store, name)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(seat, min_size=1, max_size=25),
    rules=st.lists(rule, min_size=3, max_size=3),
    batch=st.integers(min_value=1, max_value=9),
)
def test_create_proposed_stores_what_one_create_each_would(
    rows: list[dict[str, Any]], rules: list[dict[str, Any]], batch: int
) -> None:
    one, many, fast, plain = (_build(rows, rules) for _ in range(4))
    # one create() per proposal, in the evaluation's order
    workflow = _workflow(one)
    for page in _evaluate(one).proposals(7):
        for sub, assessment in page:
            workflow.create(sub, assessment)
    # create_many per page of whole seats
    workflow = _workflow(many)
    for page in _evaluate(many).proposals(batch):
        workflow.create_many(page)
    # the run's path: lean seats, one draft per kind of seat, rows written in bulk
    workflow = _workflow(fast)
    ev = _evaluate(fast)
    created = sum(workflow.create_proposed(seats) for seats in ev.proposed_seats(batch))
    assert created == ev.proposed
    # the same seats into a store without the bulk writes
    workflow = _workflow(_WithoutBulk(plain))  # type: ignore[arg-type]
    ev = _evaluate(plain)
    assert sum(workflow.create_proposed(seats) for seats in ev.proposed_seats(batch)) == created
    expected = _stored(one)
    assert _stored(many) == expected
    assert _stored(fast) == expected
    assert _stored(plain) == expected
    for store in (one, many, fast, plain):
        store.close()


def test_proposed_seats_are_the_proposals(tmp_path: Path) -> None:
    """The lean seats are the proposals' seats, in the same order, with the same idle days,
    rules and manager facts."""
    rows = [
        {
            "upn": "user@example.com",
            "model": MODELS[i % 3],
            "manager": "boss@example.com" if i % 2 else None,
            "idle_days": 100 + i,
            "never_active": i % 5 == 0,
            "person": "with_manager" if i % 3 == 0 else None,
        }
        for i in range(40)
    ]
    rules = [{"inactivity_days": 30}] * 3
    store = _build(rows, rules)
    ev = _evaluate(store)
    whole = [pair for page in ev.proposals(6) for pair in page]
    lean = [s for page in ev.proposed_seats(4) for s in page]
    assert len(whole) == len(lean) == ev.proposed > 30
    for (sub, assessment), s in zip(whole, lean, strict=True):
        assert (s.id, s.profile, s.external_user_id, s.user_principal_name) == (
            sub.id,
            sub.profile,
            sub.external_user_id,
            sub.user_principal_name,
        )
        assert (s.identifier, s.software_model, s.last_activity) == (
            sub.identifier,
            sub.software_model,
            sub.last_activity,
        )
        assert (s.inactive_days, s.rule) == (assessment.inactive_days, assessment.rule)
        assert dict(s.attributes) == sub.attributes
    store.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(
        ["UTC", "Etc/UTC", "Europe/Berlin", "America/Sao_Paulo", "Pacific/Chatham"]
    ),
    idle=st.lists(
        st.tuples(
            st.builds(
                lambda days, edge: days * 86_400_000 + edge,
                # recent, or before 1970 (56 years and more before 2026)
                st.integers(min_value=0, max_value=400) | st.integers(20_500, 25_000),
                # on a day's edge (UTC), an hour or a half from it, or anywhere in the day
                st.sampled_from([0, -1, 1, 3_600_000, -3_600_001, 1_800_000, 45 * 60_000])
                | st.integers(min_value=0, max_value=86_399_999),
            ),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_proposed_seats_count_idle_days_as_the_evaluation(
    zone: str, idle: list[tuple[int, bool]]
) -> None:
    """Idle days on the wall calendar of the policy's zone (in UTC worked out from the stored
    milliseconds alone): the proposals' days and :func:`days_between`'s, for instants on and
    around midnight, before 1970, and seats never active (counted from their grant)."""
    store = SqliteStore(":memory:")
    store.ensure_software_model(SoftwareModel(name="Roadmaps", publisher="P", paid=True))
    store.map_identifier("roadmaps", "Roadmaps")
    store.save_reclamation_rule(
        ReclamationRule(software_model="Roadmaps", inactivity_days=1, new_account_grace_days=0)
    )
    now = NOW + dt.timedelta(hours=1)
    records = []
    for i, (back_ms, never) in enumerate(idle):
        # back from a midnight (UTC), so many instants fall on or next to a day's edge
        last = dt.datetime(2026, 6, 13, tzinfo=dt.timezone.utc) - dt.timedelta(milliseconds=back_ms)
        records.append(
            SubscriptionRecord(
                external_user_id=f"u{i}",
                user_principal_name=f"{i}@example.com",
                identifier="roadmaps",
                last_activity=None if never else last,
                external_created=last,
            )
        )
    store.upsert_subscriptions("p", records, run_id="r", now=NOW)
    store._q("UPDATE subscriptions SET activity_checked_at = ?", (int(NOW.timestamp() * 1000),))
    ev = evaluate_profile(
        store,
        "p",
        now=now,
        profile_type="t",
        exclusions=[],
        rules=store.list_reclamation_rules(),
        integration_user_id=None,
        policy=EvaluationPolicy(timezone=zone),
    )
    whole = [pair for page in ev.proposals(5) for pair in page]
    lean = [s for page in ev.proposed_seats(3) for s in page]
    assert len(whole) == len(lean) == len(idle)
    for (sub, assessment), s in zip(whole, lean, strict=True):
        reference = sub.last_activity or sub.external_created
        assert reference is not None
        assert s.inactive_days == assessment.inactive_days == days_between(reference, now, zone)
    store.close()


_KILLED = """
import datetime as dt
from saas_license._candidates.workflow import CandidateWorkflow
from saas_license._evaluation_sql import evaluate_profile
from saas_license._store import SqliteStore
now = dt.datetime.fromisoformat({now!r})
store = SqliteStore({path!r})
ev = evaluate_profile(
    store, "p", now=now + dt.timedelta(hours=1), profile_type="t", exclusions=[],
    rules=store.list_reclamation_rules(), integration_user_id=None,
)
workflow = CandidateWorkflow(store, clock=lambda: now)
for seats in ev.proposed_seats(4):
    workflow.create_proposed(seats)
"""


def test_a_batch_killed_between_its_rows_and_their_entries_stores_neither(
    tmp_path: Path,
) -> None:
    """SIGKILLed after a batch's candidate rows are written and before their audit entries
    are: the batches before it stay whole (each candidate with its entry), nothing of it is
    stored, the chain verifies."""
    rows = [
        {
            "upn": "user@example.com",
            "model": "Roadmaps",
            "manager": None,
            "idle_days": 200,
            "never_active": False,
            "person": None,
        }
        for _ in range(10)
    ]
    path = tmp_path / "ws.db"
    memory = _build(rows, [{"inactivity_days": 30}] * 3)
    with sqlite3.connect(path) as disk:
        memory._db.backup(disk)
    memory.close()
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _KILLED.format(now=NOW.isoformat(), path=str(path))],
        env={**os.environ, "SAAS_LICENSE_KILL_AT": "candidates.before_audit:2"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -9, done.stderr
    store = SqliteStore(path)
    try:
        candidates = store.list_candidates()
        created = store.list_audit(action="candidate.created")
        assert len(candidates) == 4  # the first batch of 4; the second rolled back whole
        assert [e.entity_id for e in created] == [str(c.id) for c in candidates]
        assert store.verify_audit().ok
    finally:
        store.close()
