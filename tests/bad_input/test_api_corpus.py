"""The bad-input corpus, Python half: the API refuses the same inputs as the CLI, with one line
naming the field, and leaves the workspace as it was."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from saas_license import ConfigError, ExclusionRule, ReclamationRule, SaasLicenseError, Workspace
from saas_license._rule_impact import BigChangeError
from saas_license._rules import load_rule_set

from .conftest import dump

RM = "Aha! Roadmaps"
FREE = "Aha! Reviewer & Viewer (free)"
ENT: dict[str, Any] = {
    "purchased_rights": 10,
    "unit_cost": "59.00",
    "currency": "USD",
    "start": "2026-01-01",
}

Call = Callable[[Workspace, Path], object]

CASES: list[tuple[str, Call, str]] = [
    ("rule-typo-model", lambda ws, _: ws.rules.set_reclamation("Aha! Roadmap"), "Aha! Roadmap'"),
    (
        "rule-true-days",
        lambda ws, _: ws.rules.set_reclamation(RM, inactivity_days=True),
        "inactivity_days",
    ),
    (
        "rule-float-days",
        lambda ws, _: ws.rules.set_reclamation(RM, inactivity_days=90.5),
        "inactivity_days",
    ),
    (
        "rule-inf-days",
        lambda ws, _: ws.rules.set_reclamation(RM, inactivity_days=math.inf),
        "inactivity_days",
    ),
    (
        "rule-nan-days",
        lambda ws, _: ws.rules.set_reclamation(RM, cooldown_days=math.nan),
        "cooldown_days",
    ),
    (
        "rule-false-string",
        lambda ws, _: ws.rules.set_reclamation(RM, notify_user="false"),
        "notify_user",
    ),
    ("rule-active-zero", lambda ws, _: ws.rules.set_reclamation(RM, active=0), "active"),
    ("rule-unknown-key", lambda ws, _: ws.rules.set_reclamation(RM, colour="blue"), "colour"),
    (
        "rule-free-model",
        lambda ws, _: ws.rules.set_reclamation(FREE, inactivity_days=30),
        "seats would become candidates",
    ),
    (
        "rule-big-share",
        lambda ws, _: ws.rules.set_reclamation(RM, inactivity_days=1),
        "seats would become candidates",
    ),
    (
        "import-true-days",
        lambda ws, _: ws.rules.load(
            {"reclamation": [{"software_model": RM, "inactivity_days": True}]}
        ),
        "rules.reclamation[0].inactivity_days",
    ),
    (
        "import-unknown-model",
        lambda ws, _: ws.rules.load({"reclamation": [{"software_model": "Nope"}]}),
        "rules.reclamation[0].software_model",
    ),
    (
        "import-big-share",
        lambda ws, _: ws.rules.load(
            {
                "exclusions": [{"kind": "domain", "value": "x.test"}],
                "reclamation": [{"software_model": RM, "inactivity_days": 1}],
            }
        ),
        "seats would become candidates",
    ),
    (
        "exclusion-bad-kind",
        lambda ws, _: ws.rules.add_exclusion(kind="team", value="x"),
        "exclusion_rule.kind",
    ),
    (
        "exclusion-string-active",
        lambda ws, _: ws.rules.add_exclusion(kind="user", value="x", active="no"),
        "exclusion_rule.active",
    ),
    (
        "exclusion-update-string",
        lambda ws, _: ws.rules.update_exclusion(1, active="false"),
        "exclusion_rule.active",
    ),
    (
        "exclusion-unknown-key",
        lambda ws, _: ws.rules.add_exclusion(kind="user", value="x", efect="cost"),
        "efect",
    ),
    (
        "option-string-false",
        lambda ws, _: ws.profiles.update("aha", options={"aha.audits": "False"}),
        "aha.audits",
    ),
    (
        "option-int",
        lambda ws, _: ws.profiles.update("aha", options={"aha.audits": 0}),
        "aha.audits",
    ),
    (
        "option-unknown",
        lambda ws, _: ws.profiles.update("aha", options={"aha.audit": True}),
        "aha.audit'",
    ),
    (
        "look-back-bool",
        lambda ws, _: ws.profiles.update("aha", activity_look_back_days=True),
        "activity_look_back_days",
    ),
    (
        "alias-plain-http",
        lambda ws, _: ws.profiles.add_alias("x", spoke="aha", base_url="http://example.com"),
        "alias.base_url",
    ),
    (
        "alias-http-lookalike",
        lambda ws, _: ws.profiles.add_alias(
            "x", spoke="aha", base_url="http://127.0.0.1.evil.example"
        ),
        "alias.base_url",
    ),
    (
        "ent-float-cost",
        lambda ws, _: ws.finance.add_entitlement(RM, **{**ENT, "unit_cost": 59.5}),
        "unit_cost",
    ),
    (
        "ent-european-cost",
        lambda ws, _: ws.finance.add_entitlement(RM, **{**ENT, "unit_cost": "1.200,50"}),
        "unit_cost",
    ),
    (
        "ent-nan-decimal",
        lambda ws, _: ws.finance.add_entitlement(RM, **{**ENT, "unit_cost": Decimal("NaN")}),
        "unit_cost",
    ),
    (
        "ent-huge-cost",
        lambda ws, _: ws.finance.add_entitlement(RM, **{**ENT, "unit_cost": Decimal("1e23")}),
        "unit_cost",
    ),
    (
        "ent-xyz",
        lambda ws, _: ws.finance.add_entitlement(RM, **{**ENT, "currency": "XYZ"}),
        "currency",
    ),
    (
        "ent-1e23-rights",
        lambda ws, _: ws.finance.add_entitlement(RM, **{**ENT, "purchased_rights": 10**23}),
        "purchased_rights",
    ),
    (
        "ent-bool-rights",
        lambda ws, _: ws.finance.add_entitlement(RM, **{**ENT, "purchased_rights": True}),
        "purchased_rights",
    ),
    (
        "ent-float-rights",
        lambda ws, _: ws.finance.add_entitlement(RM, **{**ENT, "purchased_rights": 10.0}),
        "purchased_rights",
    ),
    (
        "ent-month-13",
        lambda ws, _: ws.finance.add_entitlement(RM, **{**ENT, "start": "2026-13-01"}),
        "start",
    ),
    (
        "ent-typo-model",
        lambda ws, _: ws.finance.add_entitlement("Aha! Roadmap", **ENT),
        "software_model",
    ),
    ("ent-edit-currency", lambda ws, _: ws.finance.edit_entitlement(1, currency="XYZ"), "currency"),
    ("ent-edit-unknown-field", lambda ws, _: ws.finance.edit_entitlement(1, seats=3), "seats"),
    (
        "ent-import-last-row",
        lambda ws, tmp: ws.finance.import_entitlements(
            _csv(tmp, f"{RM},10,59.00,USD,2026-01-01", f"{RM},1e23,59.00,USD,2026-01-01")
        ),
        "purchased_rights",
    ),
    (
        "ent-import-binary",
        lambda ws, tmp: ws.finance.import_entitlements(_bytes(tmp, b"\x00\x01\xff")),
        "csv",
    ),
    (
        "rules-file-binary",
        lambda ws, tmp: ws.rules.load(_bytes(tmp, b"\x00\xff\xfe", "r.json")),
        "rules file",
    ),
    ("open-mysql", lambda ws, tmp: Workspace.open("mysql://db.example/x"), "mysql"),
    (
        "open-missing-no-create",
        lambda ws, tmp: Workspace.open(tmp / "typo.db", create=False),
        "no workspace at",
    ),
    ("open-dev-null", lambda ws, tmp: Workspace.open("/dev/null"), "/dev/null"),
]


def _csv(folder: Path, *rows: str) -> Path:
    path = folder / "e.csv"
    path.write_text(
        "software_model,purchased_rights,unit_cost,currency,start\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    return path


def _bytes(folder: Path, data: bytes, name: str = "e.csv") -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("call", "field"), [pytest.param(c, f, id=n) for n, c, f in CASES])
def test_api_refuses_in_one_line_and_nothing_changes(
    ws_path: Path, tmp_path: Path, call: Call, field: str
) -> None:
    before = dump(ws_path)
    with Workspace.open(ws_path, create=False) as ws, pytest.raises(SaasLicenseError) as info:
        call(ws, tmp_path)
    message = str(info.value)
    assert "\n" not in message and field in message, message
    assert isinstance(info.value, ConfigError)
    assert dump(ws_path) == before
    assert not (tmp_path / "typo.db").exists()


def test_a_big_change_goes_through_when_allowed(ws_path: Path) -> None:
    with Workspace.open(ws_path, create=False) as ws:
        with pytest.raises(BigChangeError) as info:
            ws.rules.set_reclamation(RM, inactivity_days=1)
        impact = info.value.impact
        assert impact.total > 0.1 * impact.seats["aha"] and not impact.free_model
        assert str(impact.total) in str(info.value)
        rule = ws.rules.set_reclamation(RM, inactivity_days=1, allow_big_change=True)
        assert rule.inactivity_days == 1
        # a small change needs no confirmation
        assert ws.rules.set_reclamation(RM, inactivity_days=400).inactivity_days == 400


def test_strict_config_still_takes_what_is_right() -> None:
    rules = load_rule_set(
        {
            "exclusions": [{"kind": "user", "value": "svc-*@x.test", "active": False}],
            "reclamation": [{"software_model": RM, "inactivity_days": 90, "notify_user": True}],
        }
    )
    assert rules.exclusions == [ExclusionRule(kind="user", value="svc-*@x.test", active=False)]
    assert rules.reclamation == [
        ReclamationRule(software_model=RM, inactivity_days=90, notify_user=True)
    ]


def test_the_api_corpus_is_large() -> None:
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


def test_only_changes_that_decide_idleness_are_measured() -> None:
    from saas_license._rule_impact import RuleImpact, may_add_candidates

    rule = ReclamationRule(software_model=RM)
    assert not may_add_candidates(rule, attrs.evolve(rule, approver="it@x.test", cooldown_days=9))
    assert may_add_candidates(rule, attrs.evolve(rule, inactivity_days=30))
    assert may_add_candidates(None, rule)
    assert not may_add_candidates(None, attrs.evolve(rule, create_candidates=False))
    quiet = RuleImpact(software_model=RM, free_model=True, new_candidates={"a": 0}, seats={"a": 9})
    assert not quiet.big
    share = RuleImpact(
        software_model=RM, free_model=False, new_candidates={"a": 10}, seats={"a": 100}
    )
    assert not share.big and attrs.evolve(share, new_candidates={"a": 11}).big
