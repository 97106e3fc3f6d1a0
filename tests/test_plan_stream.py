"""A plan built as a stream into the store (issue 13) is exactly the plan built whole in memory:
same items in the same order, same held items with the same reasons, same counts and savings;
its views page through the stored rows; a daily run's report carries it without its items."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from saas_license import Workspace
from saas_license._candidates.records import CandidateState
from saas_license._finance.pricing import UnitPrice
from saas_license._reclaim.planning import build_plan, stream_plan
from saas_license._reclaim.records import PlanAction
from saas_license._reclaim.stored import StoredPlan
from saas_license.cli import main
from saas_license.cli._output import to_jsonable

from .postgres.fixtures import STORES

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)


def _demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, users: int = 300) -> Path:
    monkeypatch.setenv("SAAS_LICENSE_NOW", "2026-06-01T12:00:00Z")
    path = tmp_path / "demo.db"
    code = 0
    try:
        main(["--workspace", str(path), "demo", "--users", str(users), "--json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 0
    capsys.readouterr()
    return path


def _vary(ws: Workspace, profile: str) -> None:
    """Candidates in every plannable and held shape: a seat closed, a user's extra seat left out,
    candidates waiting for a person, one model asking its users first."""
    store = ws.store
    candidates = store.list_candidates(profile)
    assert len(candidates) > 30
    store.deactivate_subscription(candidates[0].subscription_id)
    for cand, state in zip(
        candidates[1:4],
        (
            CandidateState.AWAITING_APPROVAL,
            CandidateState.ATTENTION_REQUIRED,
            CandidateState.AWAITING_USER,
        ),
        strict=True,
    ):
        store.update_candidate(cand.__class__(**{**_fields(cand), "state": state}))
    # a user with two seats of which only one is a candidate: its reclaim would take both
    by_user: dict[str, list[int]] = {}
    for cand in candidates[4:]:
        by_user.setdefault(cand.external_user_id, []).append(cand.id or 0)
    multi = [ids for ids in by_user.values() if len(ids) > 1]
    assert multi, "the demo account should have users with more than one candidate"
    gone = store.get_candidate(multi[0][0])
    assert gone is not None
    store.update_candidate(
        gone.__class__(**{**_fields(gone), "state": CandidateState.AWAITING_APPROVAL})
    )
    # notices first: the first model's rule asks its users
    rule = store.list_reclamation_rules()[0]
    ws.rules.set_reclamation(rule.software_model, notify_user=True, allow_big_change=True)


def _fields(obj: Any) -> dict[str, Any]:
    return {a.alias or a.name: getattr(obj, a.name) for a in attrs.fields(type(obj))}


@pytest.mark.parametrize("scope", ["user", "seat"])
def test_streamed_plan_equals_the_plan_built_whole(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scope: str,
) -> None:
    path = _demo(tmp_path, monkeypatch, capsys)
    with Workspace.open(path, clock=lambda: NOW) as ws:
        (profile,) = ws.store.list_profiles()
        _vary(ws, profile.name)
        whole = build_plan(ws.store, profile, now=NOW, scope=scope, prices=ws.prices)
        stored = stream_plan(
            ws.store,
            profile,
            now=NOW,
            plan_id="abc123",
            expires_at=NOW + dt.timedelta(hours=24),
            scope=scope,
            prices=ws.prices,
        )
        assert isinstance(stored, StoredPlan)
        # what the old code would have stored, and what the stream stored, row for row
        assert list(stored.items) == list(whole.items)
        assert list(stored.held) == list(whole.held)
        assert stored.load() == attrs.evolve(whole, id="abc123", expires_at=stored.expires_at)
        assert ws.plans.get("abc123") == stored
        assert len(stored) == len(whole)
        assert (stored.notice_count, stored.reclaim_count, stored.held_count) == (
            len(whole.notices),
            len(whole.reclaims),
            len(whole.held),
        )
        assert stored.savings_by_currency == whole.savings_by_currency
        assert stored.total_potential_savings == whole.total_potential_savings
        assert list(stored.notices) == list(whole.notices)
        assert list(stored.reclaims) == list(whole.reclaims)
        assert stored.units_contiguous
    reasons = [h.reason for h in whole.held]
    assert whole.notices and whole.reclaims
    assert any("the seat is gone" in r for r in reasons)
    assert any("waiting for approval" in r for r in reasons)
    assert any("attention required" in r for r in reasons)
    if scope == "user":  # a per-user reclaim would take the seat the plan leaves out
        assert any(r.startswith("the user also holds") for r in reasons)
    else:
        assert not any(r.startswith("the user also holds") for r in reasons)


def test_views_page_through_the_stored_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _demo(tmp_path, monkeypatch, capsys)
    with Workspace.open(path, clock=lambda: NOW) as ws:
        (profile,) = ws.store.list_profiles()
        plan = ws.plans.create(profile.name)
        whole = plan.load()
        assert len(plan.items) > 20
        assert list(plan.items[:7]) == list(whole.items[:7])
        assert list(plan.items[5:12]) == list(whole.items[5:12])
        assert plan.items[-1] == whole.items[-1] and plan.items[3] == whole.items[3]
        assert list(plan.items[::3]) == list(whole.items[::3])
        pages = list(plan.items.pages(size=9))
        assert [len(p) for p in pages[:-1]] == [9] * (len(pages) - 1)
        assert [i for p in pages for i in p] == list(whole.items)
        with pytest.raises(IndexError):
            plan.items[len(plan)]
        assert plan.reclaims[0].kind is PlanAction.RECLAIM
        # the JSON of a plan is its summary: never the store, never every item
        data = to_jsonable(plan)
        assert data["id"] == plan.id and data["reclaim_count"] == plan.reclaim_count
        assert "store" not in data and "items" not in data
        json.dumps(data)


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    """The run's streamed plan on both stores."""
    return str(request.param)


def test_a_run_report_carries_its_stored_plan(published: Workspace, now: dt.datetime) -> None:
    report = published.jobs.run("aha")
    plan = report.plan
    assert isinstance(plan, StoredPlan) and plan.id
    assert published.plans.get(plan.id) == plan
    assert len(plan) == len(list(plan.items)) == report.candidates_created > 0
    # the run's plan is the plan built whole at the same moment, item for item
    profile = published.profiles.get("aha")
    info = published.profiles.spoke_for(profile).info()
    whole = build_plan(
        published.store,
        profile,
        now=now,
        action=info.reclaim_effect,
        policy=published.policy,
        prices=published.prices,
        scope=info.reclaim_scope,
        protective_fields=info.protective_fields,
    )
    assert list(plan.items) == list(whole.items) and list(plan.held) == list(whole.held)
    assert plan.savings_by_currency == whole.savings_by_currency


def test_reclaim_plan_json_streams_every_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _demo(tmp_path, monkeypatch, capsys, users=120)
    with Workspace.open(path, clock=lambda: NOW) as ws:
        (profile,) = ws.store.list_profiles()
    code = 0
    try:
        main(["--workspace", str(path), "reclaim", profile.name, "--plan", "--json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    with Workspace.open(path, clock=lambda: NOW) as ws:
        plan = ws.plans.get(data["id"])
        whole = plan.load()
    assert len(data["items"]) == len(whole.items) and len(data["held"]) == len(whole.held)
    assert [i["candidate"]["id"] for i in data["items"]] == [i.candidate.id for i in whole.items]
    assert data["reclaim_count"] == len(whole.reclaims)
    assert data["potential_savings"] == {k: str(v) for k, v in whole.savings_by_currency.items()}


def test_expired_unapplied_plans_give_up_their_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _demo(tmp_path, monkeypatch, capsys, users=120)
    with Workspace.open(path, clock=lambda: NOW) as ws:
        (profile,) = ws.store.list_profiles()
        old = stream_plan(
            ws.store, profile, now=NOW, plan_id="old1", expires_at=NOW + dt.timedelta(hours=1)
        )
        live = stream_plan(
            ws.store, profile, now=NOW, plan_id="live1", expires_at=NOW + dt.timedelta(days=2)
        )
        assert len(list(old.items)) == len(old) > 0
        later = NOW + dt.timedelta(hours=2)
        stream_plan(
            ws.store, profile, now=later, plan_id="new1", expires_at=later + dt.timedelta(hours=1)
        )
        assert list(ws.plans.iter_items("old1")) == []  # expired, never applied: items gone
        assert ws.plans.get("old1").reclaim_count == old.reclaim_count  # its counts stay
        with pytest.raises(IndexError, match="no longer holds its items"):
            old.items[0]
        assert old.items != [None] * len(old)  # its rows are gone: unequal, never a ValueError
        assert list(ws.plans.iter_items("live1")) == list(live.items)


def test_a_plan_looks_each_models_price_up_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plan has one instant, so a model's price cannot differ between its seats: the price
    book is asked once per model, not once per seat (it read the entitlements every time)."""
    path = _demo(tmp_path, monkeypatch, capsys)
    with Workspace.open(path, clock=lambda: NOW) as ws:
        (profile,) = ws.store.list_profiles()
        asked: list[tuple[str, dt.datetime]] = []
        book = ws.prices

        class Counting:
            def unit_price(self, software_model: str, *, at: dt.datetime) -> Any:
                asked.append((software_model, at))
                return book.unit_price(software_model, at=at)

        counted = build_plan(ws.store, profile, now=NOW, prices=Counting())
        plain = build_plan(ws.store, profile, now=NOW, prices=book)
    assert counted == plain
    models = {i.subscription.software_model for i in plain.items}
    assert len(plain.items) > len(models) >= 1
    assert sorted(m for m, _ in asked) == sorted(models)
    assert {at for _, at in asked} == {NOW}


@pytest.mark.parametrize("priced", [True, False], ids=["price-book", "own-savings"])
@pytest.mark.parametrize("scope", ["user", "seat"])
def test_plain_candidates_are_decided_in_sql_and_agree(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scope: str,
    priced: bool,
) -> None:
    """Ready or released candidates whose seat the evaluation's SQL finds idle are staged by
    one SQL statement a page (no candidate or seat object built, no row through Python); the
    plan is still the one built whole."""
    import saas_license._reclaim.planning as planning

    path = _demo(tmp_path, monkeypatch, capsys)
    slow: list[int] = []
    real = planning.sql_plan_rows

    def counted(*args: Any, **kw: Any) -> Any:
        inner = kw["slow"]

        def counting(ids: list[int]) -> Any:
            slow.extend(ids)
            return inner(ids)

        return real(*args, **{**kw, "slow": counting})

    monkeypatch.setattr(planning, "sql_plan_rows", counted)
    with Workspace.open(path, clock=lambda: NOW) as ws:
        (profile,) = ws.store.list_profiles()
        whole = _varied_plans_agree(ws, profile.name, NOW, scope=scope, priced=priced)
    # most items were staged by SQL, the varied ones (held, gone, waiting) came from Python
    assert len(slow) < len(whole.items) // 2
    assert len(slow) >= 4 and len(set(slow)) == len(slow)


def _varied_plans_agree(
    ws: Workspace, name: str, now: dt.datetime, *, scope: str, priced: bool
) -> Any:
    """Vary the profile's candidates (:func:`_vary`, savings of every shape, a price book for
    one model or none), then require the streamed plan to equal the plan built whole."""
    profile = ws.profiles.get(name)
    _vary(ws, name)
    # savings of every shape: a candidate's own (stored text, one with trailing zeros, one in
    # another currency, most none), and a price book pricing one model only
    candidates = ws.store.list_candidates(name)
    for n, cand in enumerate(candidates[10:40]):
        amount, currency = [(Decimal("12.50"), "EUR"), (Decimal("7"), "USD"), (None, None)][n % 3]
        ws.store.update_candidate(attrs.evolve(cand, potential_savings=amount, currency=currency))
    priced_model = candidates[20].software_model

    class OneModel:
        def unit_price(self, software_model: str, *, at: dt.datetime) -> UnitPrice | None:
            if software_model != priced_model:
                return None
            return UnitPrice(amount=Decimal("99.90"), currency="USD")

    book = OneModel() if priced else None
    whole = build_plan(ws.store, profile, now=now, scope=scope, prices=book)
    stored = stream_plan(
        ws.store,
        profile,
        now=now,
        plan_id="sql123",
        expires_at=now + dt.timedelta(hours=24),
        scope=scope,
        prices=book,
    )
    assert list(stored.items) == list(whole.items)
    assert list(stored.held) == list(whole.held)
    assert stored.savings_by_currency == whole.savings_by_currency
    assert whole.savings_by_currency  # savings came through either way
    assert whole.notices and whole.reclaims and whole.held
    return whole


@pytest.mark.parametrize("scope", ["user", "seat"])
def test_plain_candidates_agree_on_both_stores(
    published: Workspace, now: dt.datetime, scope: str
) -> None:
    """The same varied plan, staged by SQL, on SQLite and on PostgreSQL (through its dialect)."""
    published.jobs.run("aha")
    _varied_plans_agree(published, "aha", now, scope=scope, priced=True)
