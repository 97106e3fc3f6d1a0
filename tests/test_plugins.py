"""Spoke discovery and dispatch: entry points, broken plugins skipped, calls reach one spoke only."""

from __future__ import annotations

import importlib.metadata
import types

import pytest

from saas_license import (
    ConnectionAlias,
    IntegrationProfile,
    SpokeError,
    SpokeNotFoundError,
    hookimpl,
)
from saas_license._plugins import SpokeRegistry
from saas_license.spoke import SpokeContext, SpokeInfo, SubscriptionRecord


def _fake_spoke(name: str) -> object:
    info = SpokeInfo(
        name=name,
        display_name=name.title(),
        profile_type=f"{name} type",
        permissions=(),
        identifiers=(),
    )

    @hookimpl
    def saas_license_spoke_info() -> SpokeInfo:
        return info

    @hookimpl
    def saas_license_download_subscriptions(context: SpokeContext) -> list[SubscriptionRecord]:
        return [
            SubscriptionRecord(
                external_user_id=f"{name}-1", user_principal_name="a@b.c", identifier=name
            )
        ]

    module = types.ModuleType(f"fake_spoke_{name}")
    module.saas_license_spoke_info = saas_license_spoke_info  # type: ignore[attr-defined]
    module.saas_license_download_subscriptions = saas_license_download_subscriptions  # type: ignore[attr-defined]
    return module


def _ctx() -> SpokeContext:
    return SpokeContext(
        profile=IntegrationProfile(
            name="p", display_name="P", spoke="one", profile_type="t", connection_alias="a"
        ),
        alias=ConnectionAlias(name="a", spoke="one", base_url="https://example.test"),
    )


def test_aha_is_found_through_its_entry_point() -> None:
    eps = importlib.metadata.entry_points(group="saas_license")
    assert "aha" in {ep.name for ep in eps}
    registry = SpokeRegistry()
    assert "aha" in registry.names()
    assert registry.get("aha").info().profile_type == "Aha! Subscription"


def test_each_spoke_answers_only_for_itself() -> None:
    registry = SpokeRegistry(load_entry_points=False)
    one = registry.register(_fake_spoke("one"), name="one")
    two = registry.register(_fake_spoke("two"), name="two")
    assert [r.identifier for r in one.download(_ctx())] == ["one"]
    assert [r.identifier for r in two.download(_ctx())] == ["two"]
    assert one.info().name == "one" and two.info().name == "two"


def test_missing_hook_is_a_clear_spoke_error() -> None:
    registry = SpokeRegistry(load_entry_points=False)
    spoke = registry.register(_fake_spoke("one"), name="one")
    with pytest.raises(SpokeError, match="does not implement saas_license_validate_connection"):
        spoke.validate(_ctx())


def test_broken_plugin_is_skipped_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    good = importlib.metadata.EntryPoint(
        name="aha", value="saas_license_aha.plugin", group="saas_license"
    )
    bad = importlib.metadata.EntryPoint(
        name="broken", value="no_such_module_xyz.plugin", group="saas_license"
    )
    registry = SpokeRegistry(entry_points=[bad, good], strict=False)
    assert registry.names() == ["aha"]
    assert [p.name for p in registry.problems] == ["broken"]
    assert "ModuleNotFoundError" in registry.problems[0].error
    with pytest.raises(SpokeError, match="failed to load"):
        SpokeRegistry(entry_points=[bad, good], strict=True)


def test_spokes_can_be_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAAS_LICENSE_DISABLE_SPOKES", "aha")
    assert SpokeRegistry().names() == []


def test_unknown_spoke_lists_what_is_installed() -> None:
    with pytest.raises(SpokeNotFoundError, match=r"installed: aha"):
        SpokeRegistry().get("zoom")
