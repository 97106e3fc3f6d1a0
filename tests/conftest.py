"""Shared fixtures: an in-process Aha! sandbox and a workspace wired to it."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from saas_license import HttpOptions, Workspace
from saas_license_aha.sandbox import SandboxApp

from .postgres.fixtures import (  # noqa: F401 - fixtures: both stores, the PostgreSQL server
    both_stores,
    new_store,
    pg_schema,
    postgres_server,
    store_kind,
)

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)

API_KEY = "test-key-0123456789"


#: The one instant the root fixtures live at: the sandbox's dates count back from it and the
#: workspace's clock reads it, so counts derived from dates are exact on any day.
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def now() -> dt.datetime:
    """A fixed instant for pure tests (the same one the root fixtures use)."""
    return NOW


@pytest.fixture
def sandbox(now: dt.datetime) -> SandboxApp:
    """A 120-user fake Aha! account, reachable in-process, its dates anchored to ``now``."""
    return SandboxApp(user_count=120, api_keys=[API_KEY], seed=11, anchor=now)


@pytest.fixture
def workspace(
    tmp_path: Path,
    sandbox: SandboxApp,
    now: dt.datetime,
    store_kind: str,  # noqa: F811 - the fixture imported above
    request: pytest.FixtureRequest,
) -> Iterator[Workspace]:
    """A fresh file-backed workspace whose HTTP goes to the in-process sandbox and whose clock
    reads the fixed ``now`` (on PostgreSQL in modules that ask for ``both_stores``)."""
    http = HttpOptions(transport=sandbox.transport(), rate_limit=False)
    if store_kind == "postgres":
        from saas_license._secrets import SecretStore

        ws = Workspace(
            request.getfixturevalue("pg_schema").open(),
            secrets=SecretStore(tmp_path / "ws.secrets.json"),
            http=http,
            clock=lambda: now,
        )
    else:
        ws = Workspace.open(tmp_path / "ws.db", http=http, clock=lambda: now)
    yield ws
    ws.close()


@pytest.fixture
def published(workspace: Workspace) -> Workspace:
    """The workspace with a validated, published Aha! profile called ``aha``."""
    workspace.profiles.add_alias(
        "aha-main", spoke="aha", base_url="https://acme.aha.io", api_key=API_KEY
    )
    workspace.profiles.create("aha", spoke="aha", alias="aha-main")
    assert workspace.profiles.validate("aha").download_ok
    workspace.profiles.publish("aha")
    return workspace
