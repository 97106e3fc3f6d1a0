"""The fault suite: real processes against the real-HTTP sandbox, checked on the vendor's side."""

from __future__ import annotations

import os
import random

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


def fault_seed() -> int:
    """This test's seed: ``SAAS_LICENSE_FAULT_SEED`` if set (to replay), else a fresh one, printed."""
    value = int(
        os.environ.get("SAAS_LICENSE_FAULT_SEED") or random.SystemRandom().randrange(1, 10**6)
    )
    print(f"fault seed: {value} (replay with SAAS_LICENSE_FAULT_SEED={value})")
    return value


@pytest.fixture
def seed() -> int:
    """The seed of this test's faults, printed so that a failure can be replayed."""
    return fault_seed()
