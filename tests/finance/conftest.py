"""Fixtures of the finance tests: a workspace with a fixed clock and known software models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from saas_license import IntegrationProfile, SoftwareModel, Workspace
from saas_license._secrets import SecretStore

from ..postgres.fixtures import STORES
from ._data import NOW


@pytest.fixture(params=STORES)
def fin_store(request: pytest.FixtureRequest) -> str:
    """The finance tests on ``fin_ws`` run on both stores."""
    return str(request.param)


@pytest.fixture
def fin_ws(tmp_path: Path, fin_store: str, request: pytest.FixtureRequest) -> Iterator[Workspace]:
    """A file-backed workspace at a fixed instant, with models and two profiles but no seats
    (on each store)."""
    if fin_store == "postgres":
        ws = Workspace(
            request.getfixturevalue("pg_schema").open(),
            secrets=SecretStore(tmp_path / "fin.secrets.json"),
            clock=lambda: NOW,
        )
    else:
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
