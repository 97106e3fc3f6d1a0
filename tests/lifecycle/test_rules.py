"""Exclusion and reclamation rules: properties (order-independent, idempotent, monotone), the
attribute kinds beyond ServiceNow, import/export, and errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saas_license import ConfigError, ExclusionRule, ReclamationRule, Subscription, Verdict
from saas_license._evaluation import assess
from saas_license._rules import RuleSet, exclusion_effects, load_rule_set

from ..strategies import NOW, exclusion_rules, reclamation_rules, seat_lists, subscriptions
from .conftest import Harness

rule_lists = st.lists(exclusion_rules, max_size=6)


@given(seats=seat_lists(), rules=rule_lists, data=st.data())
def test_exclusion_effects_ignore_order_and_repetition(
    seats: list[Subscription], rules: list[ExclusionRule], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(rules))
    repeated = rules + data.draw(
        st.lists(st.sampled_from(rules), max_size=6) if rules else st.just([])
    )
    for seat in seats:
        want = exclusion_effects(rules, seat, "T")
        assert exclusion_effects(shuffled, seat, "T") == want
        assert exclusion_effects(repeated, seat, "T") == want
        assert want <= {"cost", "reclaim"}


@given(seat=subscriptions(), a=rule_lists, b=rule_lists)
def test_exclusion_effects_of_a_union_are_the_union_of_effects(
    seat: Subscription, a: list[ExclusionRule], b: list[ExclusionRule]
) -> None:
    assert exclusion_effects(a + b, seat, "T") == (
        exclusion_effects(a, seat, "T") | exclusion_effects(b, seat, "T")
    )


@given(seat=subscriptions(), rules=rule_lists, data=st.data(), rule=reclamation_rules)
def test_the_verdict_does_not_depend_on_rule_order(
    seat: Subscription, rules: list[ExclusionRule], data: st.DataObject, rule: ReclamationRule
) -> None:
    def verdict(exclusions: list[ExclusionRule]) -> Verdict:
        return assess(
            seat,
            now=NOW,
            profile_type="T",
            exclusions=exclusions,
            rules={rule.software_model: rule},
            integration_user_id=None,
        ).verdict

    base = verdict(rules)
    assert verdict(data.draw(st.permutations(rules))) is base
    assert verdict(rules + rules) is base
    excluded = "reclaim" in exclusion_effects(rules, seat, "T")
    if seat.active:
        assert (base is Verdict.EXCLUDED) is excluded


def _seat(**attributes: object) -> Subscription:
    return Subscription(
        id=1,
        profile="p",
        external_user_id="u1",
        user_principal_name="Pat.Lee@Corp.example",
        identifier="x.pro",
        software_model="X Pro",
        attributes=dict(attributes),
    )


@pytest.mark.parametrize(
    ("rule", "seat", "matches"),
    [
        (ExclusionRule(kind="user", value="pat.lee@corp.example"), _seat(), True),
        (ExclusionRule(kind="user", value="pat.*@corp.example"), _seat(), True),
        (ExclusionRule(kind="user", value="svc-*@corp.example"), _seat(), False),
        (ExclusionRule(kind="domain", value="corp.example"), _seat(), True),
        (ExclusionRule(kind="domain", value="@example"), _seat(), True),  # subdomain of example
        (ExclusionRule(kind="domain", value="orp.example"), _seat(), False),
        (ExclusionRule(kind="identifier", value="x.pro", profile_type="T"), _seat(), True),
        (ExclusionRule(kind="identifier", value="x.pro", profile_type="Other"), _seat(), False),
        (
            ExclusionRule(kind="attribute", attribute="paid_seat_group", value="executives"),
            _seat(paid_seat_group="Executives"),
            True,
        ),
        (
            ExclusionRule(kind="attribute", attribute="department", value="sales"),
            _seat(department="Engineering"),
            False,
        ),
        (
            ExclusionRule(kind="attribute", attribute="administrator", value="true"),
            _seat(administrator=True),
            True,
        ),
        (
            ExclusionRule(kind="attribute", attribute="identity_provider", value="saml"),
            _seat(identity_provider="saml"),
            True,
        ),
        (
            ExclusionRule(kind="attribute", attribute="groups", value="vip"),
            _seat(groups=["staff", "VIP"]),
            True,
        ),
        (ExclusionRule(kind="user", value="pat.lee@corp.example", active=False), _seat(), False),
    ],
)
def test_rule_kinds(rule: ExclusionRule, seat: Subscription, matches: bool) -> None:
    assert rule.matches(seat, "T") is matches


@given(
    ex=st.lists(exclusion_rules, max_size=4),
    rec=st.lists(reclamation_rules, max_size=3),
)
def test_a_rule_set_survives_export_and_import(
    ex: list[ExclusionRule], rec: list[ReclamationRule]
) -> None:
    data = json.loads(json.dumps(RuleSet(exclusions=ex, reclamation=rec).to_dict()))
    again = load_rule_set(data)
    assert again.exclusions == ex and again.reclamation == rec


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"exclusions": [{"kind": "user", "value": "a@b.test", "efect": "both"}]}, "efect"),
        ({"exclusions": [{"kind": "attribute", "value": "x"}]}, "rules.exclusions[0].attribute"),
        ({"exclusions": [{"kind": "team", "value": "x"}]}, "rules.exclusions[0].kind"),
        ({"exclusions": [{"kind": "user", "value": "  "}]}, "rules.exclusions[0].value"),
        (
            {"reclamation": [{"software_model": "M", "inactivity_days": 0}]},
            "rules.reclamation[0].inactivity_days",
        ),
        (
            {"reclamation": [{"software_model": "M", "cooldown_days": -1}]},
            "rules.reclamation[0].cooldown_days",
        ),
        ({"reclamation": [{"software_model": "M", "notify": True}]}, "notify"),
        ({"exclusion": []}, "exclusion"),
    ],
)
def test_bad_rules_name_the_field(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        load_rule_set(data)


def test_rule_files_json_and_toml(tmp_path: Path) -> None:
    toml = tmp_path / "rules.toml"
    toml.write_text(
        '[[exclusions]]\nkind = "domain"\nvalue = "contractors.example"\neffect = "reclaim"\n\n'
        '[[reclamation]]\nsoftware_model = "Aha! Roadmaps"\ninactivity_days = 90\n'
        'notify_user = true\n[reclamation.filter]\nidentity_provider = "saml"\n'
    )
    rules = load_rule_set(toml)
    assert rules.exclusions[0].value == "contractors.example"
    assert rules.reclamation[0].filter == {"identity_provider": "saml"}
    bad = tmp_path / "rules.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_rule_set(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_rule_set(tmp_path / "missing.json")


def test_import_is_all_or_nothing_and_audited() -> None:
    h = Harness()
    try:
        ws = h.ws
        ws.jobs.run("aha")
        before = (ws.rules.exclusions(), ws.rules.reclamation())
        with pytest.raises(ConfigError, match="inactivity_days"):
            ws.rules.load(
                {
                    "exclusions": [{"kind": "domain", "value": "partner.test"}],
                    "reclamation": [{"software_model": "Aha! Roadmaps", "inactivity_days": 0}],
                }
            )
        assert (ws.rules.exclusions(), ws.rules.reclamation()) == before
        ws.rules.load(
            {
                "exclusions": [{"kind": "domain", "value": "partner.test", "effect": "reclaim"}],
                "reclamation": [{"software_model": "Aha! Roadmaps", "inactivity_days": 100}],
            }
        )
        assert [r.value for r in ws.rules.exclusions()] == ["partner.test"]
        assert ws.store.get_reclamation_rule("Aha! Roadmaps").inactivity_days == 100  # type: ignore[union-attr]
        assert len(ws.rules.reclamation()) == len(before[1])  # updated in place, not added
        actions = [e.action for e in ws.audit.query(action="exclusion_rule.")]
        assert actions == ["exclusion_rule.created"]
        exported = ws.rules.export().to_dict()
        assert "id" not in exported["exclusions"][0]
        # the exclusion protects dee@partner.test from now on; the reclamation rule raises the bar
        report = ws.jobs.run("aha")
        assert report.candidates_skipped == 1  # dee's one (Roadmaps) candidate
        assert "dee@partner.test" not in {
            i.subscription.user_principal_name for i in report.plan.items
        }
    finally:
        h.close()


def test_rule_edits_are_validated_and_audited() -> None:
    h = Harness()
    try:
        ws = h.ws
        ws.jobs.run("aha")
        with pytest.raises(ConfigError, match="reclamation_rule.days_before_auto_reclaim"):
            ws.rules.set_reclamation("Aha! Roadmaps", days_before_auto_reclaim=400)
        with pytest.raises(ConfigError, match="unknown|extra|colour"):
            ws.rules.set_reclamation("Aha! Roadmaps", colour="blue")
        rule = ws.rules.set_reclamation("Aha! Roadmaps", notify_user=True, cooldown_days=14)
        entry = ws.audit.query(action="reclamation_rule.")[-1]
        assert entry.before is not None and entry.before["notify_user"] is False
        assert entry.after is not None and entry.after["notify_user"] is True
        assert rule.cooldown_days == 14 and rule.id == entry.after["id"]
        ex = ws.rules.add_exclusion(kind="attribute", attribute="department", value="Exec")
        assert ws.rules.update_exclusion(ex.id or 0, active=False).active is False
        with pytest.raises(ConfigError, match="exclusion_rule.id"):
            ws.rules.remove_exclusion(999)
    finally:
        h.close()
