"""Fixtures of the finance tests: a workspace with a fixed clock and known software models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from saas_license import IntegrationProfile, SoftwareModel, Workspace

from ._data import NOW


@pytest.fixture
def fin_ws(tmp_path: Path) -> Iterator[Workspace]:
    """A file-backed workspace at a fixed instant, with models and two profiles but no seats."""
    ws = Workspace.open(tmp_path / "fin.db", clock=lambda: NOW)
    for name in ("Roadmaps", "Develop"):
        ws.store.ensure_software_model(SoftwareModel(name=name, publisher="Aha! Labs"))
    for name in ("aha-eu", "aha-us"):
        ws.store.save_profile(
            IntegrationProfile(
                name=name,
                display_name=name,
                spoke="aha",
                profile_type="Aha! Subscription",
                connection_alias="none",
            )
        )
    yield ws
    ws.close()
