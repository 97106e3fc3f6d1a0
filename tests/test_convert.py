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
