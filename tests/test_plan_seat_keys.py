"""The plan's fast path on SQLite (bare seat keys, only the candidates' seats built) decides
exactly what the generic full scan decides; attributes are encoded once and safely (issue 13)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import attrs
import pytest

from saas_license import Workspace
from saas_license._attributes_text import checked_text, known_text
from saas_license._boundary import problem_with
from saas_license._reclaim.planning import build_plan
from saas_license._subscriptions import SubscriptionRecord
from saas_license.cli import main

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)


class _NoSeatKeys:
    """The same store without ``iter_seat_keys``: build_plan takes its generic path."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name == "iter_seat_keys":
            raise AttributeError(name)
        return getattr(self._store, name)


@pytest.mark.parametrize("scope", ["user", "seat"])
def test_plan_from_seat_keys_equals_the_full_scan(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scope: str,
) -> None:
    monkeypatch.setenv("SAAS_LICENSE_NOW", "2026-06-01T12:00:00Z")
    path = tmp_path / "demo.db"
    code = 0
    try:
        main(["--workspace", str(path), "demo", "--users", "300", "--json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 0
    capsys.readouterr()
    with Workspace.open(path) as ws:
        (profile,) = ws.store.list_profiles()
        # one candidate's seat closed, another user's extra seat still open: both paths must see it
        candidates = ws.store.list_candidates(profile.name)
        assert len(candidates) > 10
        ws.store.deactivate_subscription(candidates[0].subscription_id)
        fast = build_plan(ws.store, profile, now=NOW, scope=scope)
        slow = build_plan(_NoSeatKeys(ws.store), profile, now=NOW, scope=scope)
    assert fast == slow
    assert fast.items and fast.held
    assert any("the seat is gone" in h.reason for h in fast.held)


def test_attributes_are_encoded_once_and_only_for_that_very_dict() -> None:
    attributes = {"b": 1, "a": [True, None, "x"]}
    assert checked_text(attributes) == '{"a":[true,null,"x"],"b":1}'
    assert known_text(attributes) == '{"a":[true,null,"x"],"b":1}'
    assert known_text(dict(attributes)) is None  # an equal dict is not the same dict
    with pytest.raises(ValueError):
        checked_text({"x": math.nan})
    assert known_text({"x": math.nan}) is None


def test_attributes_that_are_not_json_are_quarantined() -> None:
    def record(attributes: Any) -> SubscriptionRecord:
        return SubscriptionRecord(
            external_user_id="u1",
            user_principal_name="u1@example.com",
            identifier="seat",
            attributes=attributes,
        )

    assert problem_with(record({"ok": [1, "two"]}), now=NOW) is None
    for bad in ({"x": math.inf}, {"x": object()}, {1: "a", "b": 2}):
        assert problem_with(record(bad), now=NOW) == (
            "attributes",
            "not a JSON object (only text, numbers, booleans, lists, objects)",
        )
    future = SubscriptionRecord(
        external_user_id="u1",
        user_principal_name="u1@example.com",
        identifier="seat",
        last_activity=NOW + dt.timedelta(minutes=6),
    )
    assert problem_with(future, now=NOW) is not None
    almost = attrs_evolve(future, NOW + dt.timedelta(minutes=4))
    assert problem_with(almost, now=NOW) is None
    naive = attrs_evolve(future, dt.datetime(2026, 1, 1))
    assert problem_with(naive, now=NOW) == (
        "last_activity",
        "naive timestamp 2026-01-01T00:00:00 (no time zone)",
    )
    other_zone = attrs_evolve(future, NOW.astimezone(dt.timezone(dt.timedelta(hours=2))))
    assert problem_with(other_zone, now=NOW) is None


def attrs_evolve(record: SubscriptionRecord, last_activity: dt.datetime) -> SubscriptionRecord:
    return attrs.evolve(record, last_activity=last_activity)
