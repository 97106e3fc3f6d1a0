"""User config is strict and its errors name the field; store/wire data is tolerant."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from saas_license import ConfigError, ExclusionRule, ReclamationRule
from saas_license._convert import converter, structure_config


def test_validator_messages_survive_structuring() -> None:
    with pytest.raises(
        ConfigError,
        match=r"rule.inactivity_days: 0 is out of range — use whole days from 1 to 3650",
    ):
        structure_config(
            {"software_model": "M", "inactivity_days": 0}, ReclamationRule, what="rule"
        )


def test_unknown_keys_in_user_config_are_refused() -> None:
    with pytest.raises(
        ConfigError,
        match=r"rule: unknown key\(s\) inactivty_days — allowed: software_model, inactivity_days",
    ):
        structure_config(
            {"software_model": "M", "inactivty_days": 30}, ReclamationRule, what="rule"
        )


def test_wrong_types_name_the_path() -> None:
    with pytest.raises(ConfigError, match="rule"):
        structure_config(
            {"software_model": "M", "inactivity_days": "soon"}, ReclamationRule, what="rule"
        )


def test_store_converter_tolerates_new_keys_and_round_trips() -> None:
    rule = ExclusionRule(kind="domain", value="corp.com", effect="cost")
    data = converter.unstructure(rule)
    assert converter.structure({**data, "added_in_a_later_version": True}, ExclusionRule) == rule
    assert converter.unstructure(Decimal("12.50")) == "12.50"
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)
    assert converter.structure(converter.unstructure(stamp), dt.datetime) == stamp


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("inactivity_days", True, "true is not a whole number"),
        ("inactivity_days", 90.5, "90.5 is not a whole number"),
        ("inactivity_days", float("inf"), r"an infinite number \(out of range\)"),
        ("inactivity_days", float("nan"), "NaN is not a whole number"),
        ("inactivity_days", "90", "'90' is not a whole number"),
        ("notify_user", "false", "'false' is not a boolean"),
        ("notify_user", 0, "0 is not a boolean"),
        ("approver", 7, "7 is not a text"),
    ],
)
def test_user_config_is_never_coerced(field: str, value: object, words: str) -> None:
    with pytest.raises(ConfigError, match=rf"^rule\.{field}: {words}") as info:
        structure_config({"software_model": "M", field: value}, ReclamationRule, what="rule")
    assert "\n" not in str(info.value)


def test_errors_name_the_path_and_count_the_rest() -> None:
    from saas_license.rules import RuleSet

    with pytest.raises(ConfigError) as info:
        structure_config(
            {
                "reclamation": [
                    {"software_model": "M"},
                    {"software_model": "N", "active": "no", "cooldown_days": 1.5},
                ]
            },
            RuleSet,
            what="rules.json:",
        )
    assert str(info.value).startswith("rules.json: reclamation[1].")
    assert "(and 1 more problem(s))" in str(info.value)


def test_strict_decimals() -> None:
    from saas_license._convert import config_converter

    assert config_converter.structure("12.50", Decimal) == Decimal("12.50")
    for bad in (1.5, "NaN", "abc", True):
        with pytest.raises(ConfigError):
            config_converter.structure(bad, Decimal)
