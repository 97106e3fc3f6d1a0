"""Issue 16: reconciliation at three tiers, allocations, remediation statuses and actions, and
each seat's reconciled/unlicensed flags (as of the last saved reconciliation)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from saas_license import ConfigError, Workspace
from saas_license._candidates.records import OPEN_STATES, Justification
from saas_license._finance.reconciliation import Remediation, RemediationStatus
from saas_license._subscriptions import SubscriptionRecord
from saas_license.cli import main

from ._data import NOW

IDENT = "id.roadmaps"


def _seats(
    ws: Workspace,
    profile: str,
    n: int,
    *,
    prefix: str = "u",
    domain: str = "corp.com",
    idle_days: int = 10,
    attributes: dict[str, object] | None = None,
    checked: bool = True,
) -> None:
    """``n`` Roadmaps seats in ``profile``, the k-th last active ``idle_days + k`` days ago."""
    ws.store.map_identifier(IDENT, "Roadmaps")
    records = [
        SubscriptionRecord(
            external_user_id=f"{profile}-{prefix}{k}",
            user_principal_name=f"{prefix}{k}@{domain}",
            identifier=IDENT,
            last_activity=NOW - dt.timedelta(days=idle_days + k),
            attributes=dict(attributes or {}),
        )
        for k in range(n)
    ]
    run = f"{profile}-{prefix}"
    ws.store.upsert_subscriptions(profile, records, run_id=run, now=NOW)
    if checked:
        ws.store.stamp_activity_checked(profile, run_id=run, now=NOW)


def _pool(ws: Workspace, rights: int) -> int:
    ent = ws.finance.add_entitlement(
        "Roadmaps", purchased_rights=rights, unit_cost="100", currency="USD", start="2026-01-01"
    )
    assert ent.id is not None
    return ent.id


def test_worked_example_allocated_rights_count_first(fin_ws: Workspace) -> None:
    """The documented example (docs/reconciliation.md, "Allocations"): 100 company-wide
    rights, 30 allocated to profile A which uses 40, profile B uses 20."""
    ent = _pool(fin_ws, 100)
    fin_ws.finance.allocate(ent, 30, profile="aha-eu")
    _seats(fin_ws, "aha-eu", 40)
    _seats(fin_ws, "aha-us", 20)
    result = fin_ws.finance.reconcile()
    a = next(r for r in result.profiles if r.profile == "aha-eu")
    b = next(r for r in result.profiles if r.profile == "aha-us")
    # A draws 30 allocated + 10 company-wide; B 20 company-wide
    assert (a.rights_used, a.allocated_in_use, a.not_allocated_in_use, a.rights_needed) == (
        40,
        30,
        10,
        0,
    )
    assert (b.allocated_in_use, b.not_allocated_in_use, b.rights_needed) == (0, 20, 0)
    (metric,) = result.metrics
    assert metric.metric.value == "user_subscription"
    assert {
        k: getattr(metric, k)
        for k in (
            "rights_owned",
            "rights_used",
            "rights_available",
            "allocated",
            "allocated_in_use",
            "allocated_not_in_use",
            "not_allocated_in_use",
            "not_allocated",
            "allocations_needed",
            "rights_needed",
        )
    } == {
        "rights_owned": 100,
        "rights_used": 60,
        "rights_available": 40,
        "allocated": 30,
        "allocated_in_use": 30,
        "allocated_not_in_use": 0,
        "not_allocated_in_use": 30,
        "not_allocated": 40,
        "allocations_needed": 10,
        "rights_needed": 0,
    }
    assert metric.over_licensed_amount == Decimal("4000.00")
    (product,) = result.products
    assert (product.product, product.software_models, product.compliant) == (
        "Aha! Labs",
        ("Roadmaps",),
        True,
    )
    html = fin_ws.finance.report_html(result)
    assert "Reconciliation per product" in html and "and license metric" in html


def test_allocated_rights_not_in_use_are_reserved(fin_ws: Workspace) -> None:
    """Rights allocated to A but unused are not lent to B: B is short although the model
    owns more rights than it uses."""
    ent = _pool(fin_ws, 10)
    fin_ws.finance.allocate(ent, 6, profile="aha-eu")
    _seats(fin_ws, "aha-eu", 2)
    _seats(fin_ws, "aha-us", 6)
    result = fin_ws.finance.reconcile()
    b = next(r for r in result.profiles if r.profile == "aha-us")
    assert (b.rights_owned, b.rights_needed) == (4, 2)
    (model,) = result.models
    assert (model.rights_owned, model.rights_used, model.rights_available) == (10, 8, 4)
    assert model.rights_needed == 2 and not model.compliant
    (metric,) = result.metrics
    assert (metric.allocated_not_in_use, metric.not_allocated) == (4, 0)


def test_a_group_of_users_draws_its_allocation_across_profiles(fin_ws: Workspace) -> None:
    ent = _pool(fin_ws, 5)
    fin_ws.finance.allocate(ent, 3, users=["*@design.corp.com", "boss@corp.com"])
    _seats(fin_ws, "aha-eu", 2, prefix="d", domain="design.corp.com")
    _seats(fin_ws, "aha-us", 2, prefix="d", domain="Design.Corp.com")  # case-insensitive
    _seats(fin_ws, "aha-us", 3)
    result = fin_ws.finance.reconcile()
    eu = next(r for r in result.profiles if r.profile == "aha-eu")
    us = next(r for r in result.profiles if r.profile == "aha-us")
    # the group's 3 rights go profile by profile (by name): 2 in aha-eu, 1 in aha-us
    assert (eu.allocated_in_use, us.allocated_in_use) == (2, 1)
    (metric,) = result.metrics
    assert metric.allocations_needed == 1  # one group member beyond the allocation
    # 2 unallocated rights for aha-us's 1 leftover group seat and 3 others: 2 lack a right
    assert us.rights_needed == 2
    # the unlicensed seats are found outside the group first
    assert {u.user_principal_name for u in result.unlicensed} <= {
        f"u{k}@corp.com" for k in range(3)
    }


def test_allocations_are_checked(fin_ws: Workspace) -> None:
    ent = _pool(fin_ws, 10)
    scoped = fin_ws.finance.add_entitlement(
        "Roadmaps",
        purchased_rights=5,
        unit_cost="1",
        currency="USD",
        start="2026-01-01",
        profile="aha-eu",
    )
    with pytest.raises(ConfigError, match="exactly one target"):
        fin_ws.finance.allocate(ent, 1)
    with pytest.raises(ConfigError, match="exactly one target"):
        fin_ws.finance.allocate(ent, 1, profile="aha-eu", users=["a@b"])
    with pytest.raises(ConfigError, match="already scoped"):
        fin_ws.finance.allocate(scoped.id or 0, 1, profile="aha-eu")
    with pytest.raises(ConfigError, match="needs a user directory"):
        fin_ws.finance.allocate(ent, 1, department="Design")
    with pytest.raises(ConfigError, match="no profile named"):
        fin_ws.finance.allocate(ent, 1, profile="nope")
    fin_ws.finance.allocate(ent, 7, profile="aha-eu")
    with pytest.raises(ConfigError, match="has 3 rights left to allocate, not 4"):
        fin_ws.finance.allocate(ent, 4, profile="aha-us")
    assert [a.rights for a in fin_ws.finance.allocations()] == [7]
    fin_ws.finance.remove_allocation(fin_ws.finance.allocations()[0].id or 0)
    assert fin_ws.finance.allocations() == []
    actions = [e.action for e in fin_ws.audit.query(entity="allocation")]
    assert actions == ["allocation.created", "allocation.removed"]


def test_products_group_models(fin_ws: Workspace) -> None:
    _pool(fin_ws, 1)
    fin_ws.finance.add_entitlement(
        "Develop", purchased_rights=1, unit_cost="5", currency="EUR", start="2026-01-01"
    )
    fin_ws.finance.set_product("Develop", "Develop Suite")
    result = fin_ws.finance.reconcile()
    assert [(p.product, p.software_models) for p in result.products] == [
        ("Aha! Labs", ("Roadmaps",)),
        ("Develop Suite", ("Develop",)),
    ]
    fin_ws.finance.set_product("Develop", None)
    (both,) = fin_ws.finance.reconcile().products
    assert both.currency is None and both.true_up_cost is None  # USD and EUR: not summed
    with pytest.raises(ConfigError, match="no software model"):
        fin_ws.finance.set_product("Nope", "x")


def test_seats_know_whether_they_are_reconciled_and_unlicensed(fin_ws: Workspace) -> None:
    _pool(fin_ws, 3)
    _seats(fin_ws, "aha-eu", 5)
    assert not any(r.reconciled for r in fin_ws.subscriptions.rows())  # nothing saved yet
    fin_ws.finance.reconcile()  # not saved: flags untouched
    assert not any(r.reconciled for r in fin_ws.subscriptions.rows())
    result = fin_ws.finance.reconcile(save=True)
    rows = list(fin_ws.subscriptions.rows())
    assert all(r.reconciled for r in rows)
    unlicensed = {r.subscription.id for r in rows if r.unlicensed}
    assert unlicensed == {u.subscription_id for u in result.unlicensed} and len(unlicensed) == 2
    fin_ws.finance.add_entitlement(
        "Roadmaps", purchased_rights=2, unit_cost="100", currency="USD", start="2026-01-01"
    )
    fin_ws.finance.reconcile(save=True)
    assert not any(r.unlicensed for r in fin_ws.subscriptions.rows())


def test_remediation_statuses_persist_and_void(fin_ws: Workspace) -> None:
    _pool(fin_ws, 3)
    _seats(fin_ws, "aha-eu", 5)
    fin_ws.finance.reconcile(save=True)
    keys = {o.key: o for o in fin_ws.finance.remediation.options()}
    buy = "purchase_rights:Roadmaps:aha-eu"
    assert keys[buy].status is RemediationStatus.NEW and keys[buy].rights == 2
    fin_ws.finance.remediation.set_status(buy, "in_progress", note="PO 42 sent")
    again = fin_ws.finance.reconcile(save=True)
    assert next(o for o in again.remediation if o.key == buy).status is (
        RemediationStatus.IN_PROGRESS
    )
    assert fin_ws.finance.reconcile().remediation == again.remediation  # shown unsaved too
    with pytest.raises(ConfigError, match="not a remediation status"):
        fin_ws.finance.remediation.set_status(buy, "done")
    # the shortfall goes away: the option is no longer needed, so void
    fin_ws.finance.add_entitlement(
        "Roadmaps", purchased_rights=2, unit_cost="100", currency="USD", start="2026-01-01"
    )
    fin_ws.finance.reconcile(save=True)
    assert buy not in {o.key for o in fin_ws.finance.remediation.options()}
    assert fin_ws.finance.remediation.get(buy).status is RemediationStatus.VOID
    audit = fin_ws.audit.query(entity="remediation")
    assert [(e.entity_id, e.after) for e in audit] == [(buy, {"status": "in_progress"})]


def test_record_a_purchase_adds_an_entitlement_draft(fin_ws: Workspace) -> None:
    _pool(fin_ws, 3)
    _seats(fin_ws, "aha-eu", 5)
    fin_ws.finance.reconcile(save=True)
    done = fin_ws.finance.remediation.record_purchase("purchase_rights:Roadmaps:aha-eu")
    assert done.status is RemediationStatus.COMPLETE
    # still needed (the draft starts tomorrow): the next reconciliation keeps it complete
    fin_ws.finance.reconcile(save=True)
    assert fin_ws.finance.remediation.get("purchase_rights:Roadmaps:aha-eu").status is (
        RemediationStatus.COMPLETE
    )
    ent = fin_ws.finance.entitlement(done.entitlement_id or 0)
    assert (ent.purchased_rights, ent.unit_cost, ent.currency, ent.profile) == (
        2,
        Decimal("100.00"),
        "USD",
        "aha-eu",
    )
    assert ent.state_at(NOW).value == "draft"  # starts tomorrow: a draft to review
    # once the rights are in force the option is no longer needed: void, even though complete
    fin_ws.clock = lambda: NOW + dt.timedelta(days=2)
    result = fin_ws.finance.reconcile(save=True)
    assert result.compliant
    assert fin_ws.finance.remediation.get("purchase_rights:Roadmaps:aha-eu").status is (
        RemediationStatus.VOID
    )
    with pytest.raises(ConfigError, match="is void"):
        fin_ws.finance.remediation.record_purchase("purchase_rights:Roadmaps:aha-eu")
    with pytest.raises(ConfigError, match="is a remove_unlicensed option"):
        fin_ws.finance.remediation.record_purchase("remove_unlicensed:Roadmaps:aha-eu")
    entries = fin_ws.audit.query(entity="remediation")
    assert entries[-1].after == {"status": "complete"} and "record purchase" in entries[-1].detail
    assert fin_ws.audit.query(entity="entitlement")[-1].entity_id == str(ent.id)


def test_create_candidates_proposes_the_least_active_unprotected_seats(
    fin_ws: Workspace,
) -> None:
    """5 seats, 1 right: 4 must go. The idlest is an administrator and the next has no
    activity data: neither is proposed; the next least-active are, as candidates only."""
    _pool(fin_ws, 1)
    _seats(fin_ws, "aha-eu", 2, prefix="fresh", idle_days=1)
    _seats(fin_ws, "aha-eu", 1, prefix="admin", idle_days=300, attributes={"administrator": True})
    _seats(fin_ws, "aha-eu", 1, prefix="unchecked", idle_days=200, checked=False)
    _seats(fin_ws, "aha-eu", 3, prefix="idle", idle_days=100)
    fin_ws.finance.reconcile(save=True)
    key = "remove_unlicensed:Roadmaps:aha-eu"
    option = fin_ws.finance.remediation.get(key)
    assert option.action is Remediation.REMOVE_UNLICENSED and option.rights == 6
    done = fin_ws.finance.remediation.create_candidates(key)
    cands = [fin_ws.candidates.get(c) for c in done.candidates]
    assert {c.user_principal_name for c in cands} == {
        "idle0@corp.com",
        "idle1@corp.com",
        "idle2@corp.com",
        "fresh0@corp.com",
        "fresh1@corp.com",
    }
    assert all(c.justification is Justification.UNLICENSED for c in cands)
    assert all(c.state in OPEN_STATES for c in cands)  # proposed, never reclaimed
    assert done.status is RemediationStatus.COMPLETED_WITH_ERRORS and done.skipped == 2
    assert all(s.active for s in fin_ws.subscriptions.query("aha-eu"))
    # a second act still lacks one seat, and still never proposes the protected two
    again = fin_ws.finance.remediation.create_candidates(key)
    assert again.candidates == () and again.skipped == 2
    assert again.status is RemediationStatus.COMPLETED_WITH_ERRORS
    assert "0 of 1 candidates created" in again.note


def test_justifications_as_the_reference_lists_them(fin_ws: Workspace) -> None:
    assert {j.value for j in Justification} == {
        "low_usage",
        "unallocated",
        "unlicensed",
        "restricted_software",
        "manual",
    }
    _seats(fin_ws, "aha-eu", 1)
    (sub,) = fin_ws.subscriptions.query("aha-eu")
    cand = fin_ws.candidates.propose(sub.id, justification="restricted_software")
    assert cand.justification is Justification.RESTRICTED_SOFTWARE
    with pytest.raises(ConfigError, match="not a justification"):
        fin_ws.candidates.propose(sub.id, justification="boredom")


def _cli(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> tuple[int, str]:
    code = 0
    try:
        main(["--workspace", str(db), *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.parametrize("fin_store", ["sqlite"])  # the CLI is pointed at the workspace file
def test_cli_tiers_allocations_and_remediation(
    fin_ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ent = _pool(fin_ws, 3)
    _seats(fin_ws, "aha-eu", 5)
    db = tmp_path / "fin.db"
    code, out = _cli(capsys, db, "entitlements", "allocate", str(ent), "2", "--profile", "aha-eu")
    assert code == 0 and "allocation 1: 2 rights" in out
    code, out = _cli(capsys, db, "entitlements", "allocations", "--json")
    assert '"profile": "aha-eu"' in out
    code, out = _cli(capsys, db, "reconcile", "--save")
    assert code == 0
    assert "Reconciliation per product" in out and "license metric" in out
    code, out = _cli(capsys, db, "reconcile", "--table", "metrics", "--csv")
    assert out.splitlines()[1].startswith("Roadmaps,user_subscription,3,5,0,2,2,2,0,1,")
    code, out = _cli(capsys, db, "remediation")
    assert "purchase_rights:Roadmaps:aha-eu" in out and "new" in out
    code, out = _cli(
        capsys, db, "remediation", "status", "purchase_rights:Roadmaps:aha-eu", "in_progress"
    )
    assert code == 0 and "in_progress" in out
    code, out = _cli(capsys, db, "remediation", "create-candidates", "nope:x:y")
    assert code != 0 and "no remediation option" in out
    code, out = _cli(capsys, db, "subscriptions", "--json")
    assert out.count('"reconciled": true') == 5 and out.count('"unlicensed": true') == 2
    code, out = _cli(capsys, db, "models", "product", "Roadmaps", "Roadmaps Suite")
    assert code == 0
    code, out = _cli(capsys, db, "reconcile", "--json")
    assert '"product": "Roadmaps Suite"' in out
