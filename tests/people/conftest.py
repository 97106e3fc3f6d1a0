"""People fixtures: the lifecycle harness, with notices sent and their answer links at hand."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from saas_license._notify import Notification

from ..lifecycle.conftest import Harness

LINK = re.compile(r"https://licenses\.acme\.test/answer/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")


def tokens(notification: Notification) -> list[str]:
    """The answer tokens in a notice's plain-text body, in order, without duplicates."""
    return list(dict.fromkeys(LINK.findall(notification.body)))


def disabled(h: Harness) -> set[str]:
    """Who the vendor (the sandbox) really has disabled."""
    return {u["id"] for u in h.sandbox.users() if not u["enabled"]}


def notify_roadmaps(h: Harness, **rule: object) -> None:
    """Run once, make Roadmaps seats ask their holders first, and apply the plan (notices go out)."""
    h.ws.jobs.run("aha")
    h.ws.rules.set_reclamation(
        "Aha! Roadmaps", notify_user=True, days_before_auto_reclaim=5, **rule
    )
    h.ws.plans.apply(h.ws.plans.create("aha").id or "")


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    h.close()
