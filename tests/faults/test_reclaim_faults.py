"""Reclaim faults (issue 8, items 1-5): real ``saas-license`` processes against the real-HTTP
Aha! sandbox, SIGKILLed at kill points, with lost answers, failing reads, changes between plan
and apply. After each: zero protected users disabled *at the vendor*, no seat lost or
duplicated, workspace and vendor agree after one recovery step, no job left running.

The seed (``FAULT_SEED=…`` to replay) picks which reclaim a kill interrupts and which users a
fault hits; every test prints it.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from saas_license import CandidateState, ReclaimStatus
from saas_license_aha._payloads import parse_user
from saas_license_aha.mapping import subscription_records

from ._procs import PROFILE, Estate, make_estate

#: Where ``reclaim --apply`` is killed, and the planned users (in plan order) it reaches.
APPLY_POINTS = (
    "apply.before_vendor_call",
    "apply.after_vendor_call",
    "apply.after_confirm",
    "apply.after_record",
)
RUN_POINTS = ("run.after_download", "run.after_activity", "run.in_evaluate", "run.after_evaluate")
PLANNED = ["2001", "2002", "2003", "2004", "2005", "2006"]


@pytest.fixture
def seed() -> int:
    value = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(1, 1_000_000))
    print(f"FAULT_SEED={value}  (set it to replay this run)")
    return value


@pytest.fixture
def estate(tmp_path: Path, seed: int) -> Iterator[Estate]:
    yield from make_estate(tmp_path, seed)


def _planned_users(estate: Estate, plan_id: str) -> list[str]:
    ws = estate.open()
    try:
        found = ws.store.get_plan(plan_id)
        assert found is not None
        users: list[str] = []
        for item in found[0].reclaims:
            if item.subscription.external_user_id not in users:
                users.append(item.subscription.external_user_id)
        return users
    finally:
        ws.close()


def _run_and_plan(estate: Estate) -> tuple[str, list[str]]:
    estate.cli("run", PROFILE, check=True)
    plan_id = estate.plan_id()
    users = _planned_users(estate, plan_id)
    assert sorted(users) == PLANNED
    return plan_id, users


def _undo_one(estate: Estate) -> None:
    """``undo`` works on whatever recovery decided was reclaimed."""
    ws = estate.open()
    try:
        done = [c for c in ws.candidates(PROFILE) if c.reclaimed]
    finally:
        ws.close()
    if not done:
        return
    victim = estate.rng.choice(done)
    estate.cli("undo", str(victim.id), "--yes", check=True)
    assert victim.external_user_id not in estate.disabled()


@pytest.mark.parametrize("point", APPLY_POINTS)
def test_sigkill_of_apply_then_one_recovery_step(estate: Estate, point: str) -> None:
    plan_id, users = _run_and_plan(estate)
    nth = estate.rng.randint(1, len(users))
    kill_at = f"{point}:{nth}"
    print(f"kill `reclaim --apply` at {kill_at} (user {users[nth - 1]})")
    killed = estate.cli("reclaim", PROFILE, "--apply", plan_id, "--yes", kill_at=kill_at)
    assert killed.returncode == -9, killed.stderr
    victim = users[nth - 1]
    reached_vendor = point != "apply.before_vendor_call"
    assert (victim in estate.disabled()) is reached_vendor
    recovered = estate.cli("reclaim", PROFILE, "--reconcile", "--json", check=True)
    report = json.loads(recovered.stdout)
    if point == "apply.after_record":
        assert report["resolved"] == [] and report["abandoned_jobs"] == 1
    else:
        (resolved,) = report["resolved"]
        assert resolved["external_user_id"] == victim
        assert resolved["status"] == ("success" if reached_vendor else "failed")
    estate.check_invariants()
    # the rest of the work goes on from a new plan, and undo works on the result
    estate.cli("reclaim", PROFILE, "--apply", estate.plan_id(), "--yes")
    estate.check_invariants()
    _undo_one(estate)


@pytest.mark.parametrize("point", RUN_POINTS)
def test_sigkill_of_run_then_the_next_run_recovers(estate: Estate, point: str) -> None:
    print(f"kill `run` at {point}")
    killed = estate.cli("run", PROFILE, kill_at=point)
    assert killed.returncode == -9, killed.stderr
    assert estate.disabled() == set()  # a run never changes the vendor
    estate.cli("run", PROFILE, check=True)
    ws = estate.open()
    try:
        statuses = {j.status.value for j in ws.jobs(PROFILE, limit=100)}
    finally:
        ws.close()
    assert "running" not in statuses
    assert ("abandoned" in statuses) is (point == "run.in_evaluate")  # the job it was inside
    estate.cli("reclaim", PROFILE, "--apply", estate.plan_id(), "--yes", check=True)
    assert estate.disabled() == set(PLANNED)
    estate.check_invariants()


def test_lost_put_answer_with_a_failing_confirming_read_is_unknown_then_resolved(
    estate: Estate,
) -> None:
    plan_id, users = _run_and_plan(estate)
    victim = estate.rng.choice(users)
    print(f"lose the PUT answer of user {victim}; its confirming reads answer 401")
    estate.faults.lose_put_answer.add(victim)
    estate.faults.fail_reads_after_put.add(victim)
    done = estate.cli("reclaim", PROFILE, "--apply", plan_id, "--yes", "--json")
    assert done.returncode == 1, done.stderr
    outcomes = {o["user_principal_name"]: o["outcome"] for o in json.loads(done.stdout)["outcomes"]}
    email = estate.app.user(victim)["email"]
    assert outcomes[email] == "unknown"
    assert victim in estate.disabled()  # the vendor did act: recorded as unknown, not failed
    ws = estate.open()
    try:
        (action,) = [a for a in ws.reclaim_actions(PROFILE) if a.external_user_id == victim]
        assert action.status == ReclaimStatus.UNKNOWN.value
        cands = [c for c in ws.candidates(PROFILE) if c.external_user_id == victim]
        assert {c.state for c in cands} == {CandidateState.AWAITING_REVOCATION}
    finally:
        ws.close()
    # still unreadable: the reconcile says so and changes nothing
    still = estate.cli("reclaim", PROFILE, "--reconcile", "--json")
    assert still.returncode == 1 and json.loads(still.stdout)["resolved"][0]["status"] == "unknown"
    estate.faults.clear()
    estate.cli("reclaim", PROFILE, "--reconcile", check=True)
    estate.check_invariants()
    estate.cli("undo", str(cands[0].id), "--yes", check=True)
    assert victim not in estate.disabled()


def test_activity_and_admin_changes_between_plan_and_apply(estate: Estate) -> None:
    plan_id, users = _run_and_plan(estate)
    active, promoted = estate.rng.sample(users, 2)
    print(f"after the plan, with no run: {active} signs in, {promoted} becomes an administrator")
    estate.touch(active)
    roles = {"administer_account": True, "administer_billing": True}
    estate.set_vendor(promoted, administrator=True, administrator_roles=roles)
    done = estate.cli("reclaim", PROFILE, "--apply", plan_id, "--yes", "--json", check=True)
    outcomes = {o["user_principal_name"]: o["outcome"] for o in json.loads(done.stdout)["outcomes"]}
    assert outcomes[estate.app.user(active)["email"]] == "canceled"
    assert outcomes[estate.app.user(promoted)["email"]] == "skipped"
    assert estate.disabled() == set(users) - {active, promoted}
    estate.check_invariants(protected={active: "active since the plan", promoted: "new admin"})


def _mapping_marks_unknown() -> bool:
    """True once the Aha! mapping reports dropped fields as unknown (h1-aha's part of issue 8)."""
    raw = {"id": "1", "email": "a@b.test", "name": "a", "enabled": True, "paid_seat": True}
    try:
        records = subscription_records(parse_user(raw, where="probe"))
    except Exception:
        return False
    return bool(records) and "administrator" in records[0].unknown


@pytest.mark.skipif(
    not _mapping_marks_unknown(),
    reason="awaits h1-aha: the Aha! mapping does not yet mark dropped fields as unknown",
)
@pytest.mark.parametrize("null", [False, True], ids=["dropped", "null"])
def test_dropped_and_null_protective_fields_protect(estate: Estate, null: bool) -> None:
    estate.cli("run", PROFILE, check=True)
    estate.drop("2007", "administrator", null=null)  # an idle admin (roles still all true)
    estate.drop("2003", "enabled", null=null)
    if not null:
        estate.drop("2001", "accessed_at")  # absent = unknown (null means never accessed)
    estate.cli("run", PROFILE, check=True)
    estate.cli("reclaim", PROFILE, "--apply", estate.plan_id(), "--yes")
    guard = {"2007": "administrator", "2003": "unknown enabled"}
    if not null:
        guard["2001"] = "unknown activity"
    wrongful = {u: why for u, why in guard.items() if u in estate.disabled()}
    assert not wrongful, f"seed {estate.seed}: {wrongful}"
