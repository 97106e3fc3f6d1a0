"""The daily pipeline end to end against the in-process sandbox, including the failure paths."""

from __future__ import annotations

import attrs
import httpx
import pytest

from saas_license import (
    CandidateState,
    ConfigError,
    ExclusionRule,
    HttpOptions,
    JobStatus,
    ProfileStateError,
    ProfileStatus,
    Workspace,
)
from saas_license.spoke import AuthenticationError, BadPayloadError, VendorConnectionError
from saas_license_aha.sandbox import SandboxApp

from .conftest import API_KEY
from .postgres.fixtures import STORES


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    """The pipeline runs on both stores."""
    return str(request.param)


def test_profile_lifecycle_draft_validated_published(workspace: Workspace) -> None:
    workspace.profiles.add_alias("a", spoke="aha", base_url="https://acme.aha.io", api_key=API_KEY)
    prof = workspace.profiles.create("aha", spoke="aha", alias="a")
    assert prof.status is ProfileStatus.DRAFT
    with pytest.raises(ProfileStateError, match="validate"):
        workspace.profiles.publish("aha")
    with pytest.raises(ProfileStateError, match="only published profiles run"):
        workspace.jobs.run("aha")
    report = workspace.profiles.validate("aha")
    assert [c.ok for c in report.checks] == [True, True, True]
    assert workspace.profiles.get("aha").status is ProfileStatus.VALIDATED
    assert workspace.profiles.get("aha").integration_user_id == report.identity.external_user_id  # type: ignore[union-attr]
    assert workspace.profiles.publish("aha").status is ProfileStatus.PUBLISHED
    actions = [e.action for e in workspace.audit.query()]
    assert actions == ["profile.created", "profile.validated", "profile.published"]


def test_daily_run_creates_candidates_once_and_only_for_safe_seats(
    published: Workspace, sandbox: SandboxApp
) -> None:
    first = published.jobs.run("aha")
    assert first.ok and first.candidates_created == 35  # seed 11, dates anchored to the fixed now
    second = published.jobs.run("aha")
    assert second.candidates_created == 0
    assert len(second.plan) == len(first.plan) == first.candidates_created
    users = {u["id"]: u for u in sandbox.users()}
    for item in first.plan.items:
        user = users[item.subscription.external_user_id]
        assert user["enabled"] and not user["administrator"]
        assert user["id"] != sandbox.integration_user_id
    subs = published.subscriptions.query("aha")
    assert len(subs) == len({(s.external_user_id, s.identifier) for s in subs})
    assert {j.process for j in published.jobs.query("aha")} == {"download", "activity", "evaluate"}


def test_exclusion_rule_skips_an_open_candidate(published: Workspace) -> None:
    report = published.jobs.run("aha")
    victim = report.plan.items[0].subscription.user_principal_name
    published.store.add_exclusion_rule(ExclusionRule(kind="user", value=victim))
    again = published.jobs.run("aha")
    assert again.candidates_skipped == 2  # both of the victim's seats
    assert victim not in {i.subscription.user_principal_name for i in again.plan.items}
    closed = published.candidates.query("aha", states={CandidateState.CLOSED_SKIPPED})
    assert victim in {c.user_principal_name for c in closed}


def test_activity_coming_back_cancels_the_candidate(
    published: Workspace, sandbox: SandboxApp
) -> None:
    report = published.jobs.run("aha")
    sub = report.plan.items[0].subscription
    user = sandbox.user(sub.external_user_id)
    user["accessed_at"] = published.clock().isoformat().replace("+00:00", "Z")
    sandbox.set_user(user)
    again = published.jobs.run("aha")
    assert again.candidates_canceled == 2  # both seats of the user who came back
    assert sub.id not in {i.subscription.id for i in again.plan.items}


def test_vanished_user_closes_subscription_and_skips_candidate(
    published: Workspace, sandbox: SandboxApp
) -> None:
    report = published.jobs.run("aha")
    sub = report.plan.items[0].subscription
    user = sandbox.user(sub.external_user_id)
    user["enabled"] = False  # disabled in Aha! by someone else: holds no seat any more
    sandbox.set_user(user)
    again = published.jobs.run("aha")
    assert again.jobs[0].counts["closed"] == 2
    assert sub.id not in {s.id for s in published.subscriptions.query("aha")}
    assert again.candidates_skipped == 2


def test_reclaim_off_still_creates_candidates_but_plan_says_detect_only(
    published: Workspace,
) -> None:
    prof = published.profiles.get("aha")
    published.store.save_profile(
        attrs.evolve(prof, processes=attrs.evolve(prof.processes, reclaim=False))
    )
    report = published.jobs.run("aha")
    assert report.candidates_created == 35 and report.plan.reclaim_enabled is False


def test_activity_off_means_nothing_is_proposed(published: Workspace) -> None:
    prof = published.profiles.get("aha")
    published.store.save_profile(
        attrs.evolve(prof, processes=attrs.evolve(prof.processes, activity=False))
    )
    report = published.jobs.run("aha")
    assert report.candidates_created == 0
    assert set(report.verdicts) <= {
        "no_activity_data",
        "administrator",
        "integration_user",
        "no_rule",
    }


def _swap_transport(ws: Workspace, handler: object) -> None:
    ws.http = HttpOptions(transport=httpx.MockTransport(handler), timeout=2)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("handler", "error", "fragment"),
    [
        (
            lambda r: httpx.Response(
                401, content=b"<html/>", headers={"Content-Type": "text/html"}
            ),
            AuthenticationError,
            "rejected the credentials",
        ),
        (lambda r: httpx.Response(200, json={"users": "nope"}), BadPayloadError, "no 'users' list"),
        (
            lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r)),
            VendorConnectionError,
            "could not connect",
        ),
    ],
)
def test_failed_download_keeps_the_store_and_records_a_failed_job(
    published: Workspace, handler: object, error: type[Exception], fragment: str
) -> None:
    published.jobs.run("aha")
    before = published.subscriptions.query("aha")
    cands = published.candidates.query("aha")
    _swap_transport(published, handler)
    with pytest.raises(error, match=fragment):
        published.jobs.run("aha")
    assert published.subscriptions.query("aha") == before
    assert published.candidates.query("aha") == cands
    latest = published.jobs.query("aha")[0]
    assert latest.process == "download" and latest.status is JobStatus.FAILED
    assert fragment in (latest.error or "")


def test_malformed_page_midway_rolls_back_the_whole_download(
    published: Workspace, sandbox: SandboxApp
) -> None:
    published.jobs.run("aha")
    before = published.subscriptions.query("aha")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page") == "2":
            return httpx.Response(
                # a record without an id cannot be read at all (odd fields alone no longer fail)
                200,
                json={"users": [{"email": "x@example.com"}], "pagination": {"total_pages": 2}},
            )
        return sandbox(request)

    template = sandbox.users()[5]
    for i in range(150):  # push the account past one 200-user page, with new users on page 1
        sandbox.set_user({**template, "id": str(90000 + i), "email": f"new{i}@example.com"})
    _swap_transport(published, handler)
    with pytest.raises(BadPayloadError, match=r"\.id"):
        published.jobs.run("aha")
    assert published.subscriptions.query("aha") == before


def test_missing_api_key_is_a_config_error(workspace: Workspace) -> None:
    workspace.profiles.add_alias("a", spoke="aha", base_url="https://acme.aha.io")
    workspace.profiles.create("aha", spoke="aha", alias="a")
    with pytest.raises(ConfigError, match="no API key"):
        workspace.profiles.validate("aha")


def test_bad_config_names_the_field(workspace: Workspace) -> None:
    with pytest.raises(ConfigError, match="alias.base_url"):
        workspace.profiles.add_alias("a", spoke="aha", base_url="acme.aha.io")
    with pytest.raises(ConfigError, match="alias.name"):
        workspace.profiles.add_alias("Not A Name", spoke="aha", base_url="https://acme.aha.io")
    with pytest.raises(ConfigError, match="no connection alias"):
        workspace.profiles.create("p", spoke="aha", alias="missing")


@pytest.mark.parametrize("store_kind", ["sqlite"])  # SQLite's fallback (PostgreSQL: tests/postgres)
def test_without_sql_json_the_run_evaluates_row_by_row_with_the_same_verdicts(
    published: Workspace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An SQLite without the functions the set-based evaluation needs falls back to assess()
    row by row: same verdicts, same candidates, never a failed run."""
    import sqlite3

    import saas_license._pipeline as pipeline

    def unavailable(*_a: object, **_k: object) -> object:
        raise sqlite3.OperationalError("no such function: json_group_array")

    monkeypatch.setattr(pipeline, "evaluate_profile", unavailable)
    with caplog.at_level("WARNING", logger="saas_license.pipeline"):
        report = published.jobs.run("aha")
    assert "evaluating row by row" in caplog.text
    monkeypatch.undo()
    again = published.jobs.run("aha")  # set-based now: nothing new, every candidate kept
    assert report.candidates_created > 0
    assert again.candidates_created == 0 and again.candidates_canceled == 0
    assert again.verdicts == report.verdicts
