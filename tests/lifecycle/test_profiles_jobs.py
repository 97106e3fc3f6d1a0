"""Profile lifecycle (edit, activity off → draft, delete), scheduled jobs, `run --due`, the run lock,
and software models / unrecognized identifiers."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from typing import Any

import httpx
import pytest

from saas_license import (
    CandidateState,
    ConfigError,
    HttpOptions,
    JobStatus,
    ProfileStateError,
    ProfileStatus,
    RunInProgressError,
)
from saas_license._jobs import RunLock
from saas_license.spoke import SubscriptionRecord

from .conftest import SMALL_ACCOUNT_CANDIDATES, SMALL_ACCOUNT_SEATS, Harness


def test_publish_schedules_daily_jobs_and_runs_move_them(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    jobs = {j.process: j for j in ws.jobs.schedules("aha")}
    assert set(jobs) == {"download", "activity"}
    assert all(
        j.next_run_at == clock.now and j.interval == dt.timedelta(days=1) for j in jobs.values()
    )
    assert ws.jobs.due() == ["aha"]
    first = clock.now
    (result,) = ws.jobs.run_due()
    assert result.status == "complete" and result.report is not None
    assert ws.jobs.due() == []
    assert {j.next_run_at for j in ws.jobs.schedules("aha")} == {first + dt.timedelta(days=1)}
    assert {j.last_status for j in ws.jobs.schedules("aha")} == {JobStatus.COMPLETE}
    assert {j.trigger for j in ws.jobs.query("aha")} == {"schedule"}
    assert (
        len({j.run_id for j in ws.jobs.query("aha")}) == 1
    )  # download, activity, evaluate: one run
    clock.advance(hours=23)
    assert ws.jobs.run_due() == []
    clock.advance(hours=50)  # two slots missed: the next slot keeps the time of day
    assert ws.jobs.due() == ["aha"]
    ws.jobs.run_due()
    assert {j.next_run_at for j in ws.jobs.schedules("aha")} == {first + dt.timedelta(days=4)}


def test_a_failed_run_is_retried_soon(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    ws.http = HttpOptions(
        transport=httpx.MockTransport(lambda r: httpx.Response(503)), max_retries=0
    )
    (result,) = ws.jobs.run_due()
    assert result.status == "failed" and result.report is None
    assert "503" in result.error
    jobs = ws.jobs.schedules("aha")
    assert {j.last_status for j in jobs} == {JobStatus.FAILED}
    assert {j.next_run_at for j in jobs} == {clock.now + ws.policy.job_retry}
    assert ws.jobs.query("aha")[0].status is JobStatus.FAILED


def test_activity_off_sends_a_published_profile_back_to_draft(harness: Harness) -> None:
    ws = harness.ws
    prof = ws.profiles.update("aha", reclaim=False)
    assert prof.status is ProfileStatus.PUBLISHED and not prof.processes.reclaim
    prof = ws.profiles.update("aha", activity=False)
    assert prof.status is ProfileStatus.DRAFT
    assert [j.process for j in ws.jobs.schedules("aha")] == ["download"]
    assert ws.jobs.due() == []  # drafts never run
    with pytest.raises(ProfileStateError, match="only published profiles run"):
        ws.jobs.run("aha")
    entry = ws.audit.query(action="profile.updated")[-1]
    assert entry.before == {
        "processes": {"activity": True, "reclaim": False},
        "status": "published",
    }
    assert "back to draft" in entry.detail
    assert ws.profiles.validate("aha").download_ok
    assert ws.profiles.publish("aha").status is ProfileStatus.PUBLISHED
    assert ws.profiles.update("aha", activity=True).status is ProfileStatus.PUBLISHED
    assert {j.process for j in ws.jobs.schedules("aha")} == {"download", "activity"}
    with pytest.raises(ConfigError, match="profile.activity_look_back_days"):
        ws.profiles.update("aha", activity_look_back_days=0)
    assert ws.profiles.update("aha", options={"aha.audits": True}).options == {"aha.audits": True}
    assert ws.profiles.update("aha", options={"aha.audits": None}).options == {}


def test_deleting_a_profile(harness: Harness) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    ws.plans.apply(plan.id or "", cap=1)
    closed = [c for c in ws.candidates.query("aha") if c.state.is_closed]
    open_ = [c for c in ws.candidates.query("aha") if c.is_open]
    assert len(closed) == 1  # the cap let one reclaim through
    rules = ws.rules.reclamation()
    pending = ws.plans.create("aha")
    counts = ws.profiles.delete("aha")
    assert len(open_) == SMALL_ACCOUNT_CANDIDATES - 1  # the apply reclaimed one
    assert counts["subscriptions"] == SMALL_ACCOUNT_SEATS - 1  # the seats still held
    assert counts["candidates_skipped"] == len(open_)
    assert ws.subscriptions.query("aha", active_only=False) == []
    assert ws.jobs.query("aha") == [] and ws.jobs.schedules("aha") == []
    assert ws.rules.reclamation() == rules  # rules are kept
    after = {c.id: c for c in ws.candidates.query("aha")}
    assert all(after[c.id].state is CandidateState.CLOSED_SKIPPED for c in open_)
    assert all(after[c.id] == c for c in closed)  # closed history untouched
    assert ws.audit.query(action="profile.deleted")
    assert [e.action for e in ws.candidates.history(open_[0].id or 0)][
        -1
    ] == "candidate.profile_deleted"
    with pytest.raises(ConfigError, match="no reclaim plan"):
        ws.plans.apply(pending.id or "")
    with pytest.raises(ConfigError, match="no profile named 'aha'"):
        ws.profiles.get("aha")


def test_a_held_lock_stops_a_second_run_at_once(harness: Harness) -> None:
    ws, store, clock = harness.ws, harness.ws.store, harness.clock
    other = RunLock(
        profile="aha",
        owner="someone-else",
        host=socket.gethostname(),
        pid=os.getpid(),  # alive
        acquired_at=clock.now,
        expires_at=clock.now + dt.timedelta(hours=6),
    )
    assert store.acquire_run_lock(other, now=clock.now) is None
    with pytest.raises(RunInProgressError, match="already running") as err:
        ws.jobs.run("aha")
    assert "jobs unlock aha" in str(err.value)
    assert ws.jobs.query("aha") == []  # nothing ran
    (result,) = ws.jobs.run_due()
    assert result.status == "in_progress"
    clock.advance(hours=7)  # the lock expired: a crashed run does not block forever
    assert ws.jobs.run("aha").ok
    assert store.get_run_lock("aha") is None  # released after the run


def test_a_lock_of_a_dead_process_is_taken_over(harness: Harness) -> None:
    store, clock = harness.ws.store, harness.clock
    dead = RunLock(
        profile="aha",
        owner="crashed",
        host=socket.gethostname(),
        pid=2**22 + 12345,  # no such process
        acquired_at=clock.now,
        expires_at=clock.now + dt.timedelta(hours=6),
    )
    store.acquire_run_lock(dead, now=clock.now)
    assert harness.ws.jobs.run("aha").ok
    assert harness.ws.jobs.unlock("aha") is False


def test_two_runs_of_one_profile_never_overlap(harness: Harness) -> None:
    """Two threads start a run of the same profile; the vendor is slow; one run says so and stops."""
    sandbox = harness.sandbox
    started, release = threading.Event(), threading.Event()

    def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/users":
            started.set()
            release.wait(10)  # held until the second run has had its answer
        return sandbox(request)

    harness.ws.http = HttpOptions(transport=httpx.MockTransport(slow), rate_limit=False)
    outcomes: list[Any] = []

    def run() -> None:
        try:
            outcomes.append(harness.ws.jobs.run("aha"))
        except RunInProgressError as exc:
            outcomes.append(exc)

    first = threading.Thread(target=run)
    first.start()
    assert started.wait(5)
    run()  # the second run, while the first is downloading
    release.set()
    first.join(10)
    assert len(outcomes) == 2
    assert isinstance(outcomes[0], RunInProgressError) and "already running" in str(outcomes[0])
    assert outcomes[1].ok
    assert len({j.run_id for j in harness.ws.jobs.query("aha")}) == 1


def test_models_are_created_and_unrecognized_identifiers_mapped(harness: Harness) -> None:
    ws = harness.ws
    extra = [
        SubscriptionRecord(
            external_user_id=uid,
            user_principal_name=f"{uid}@acme.test",
            identifier="aha.ideas_portal",
            attributes={"administrator": False},
        )
        for uid in ("2001", "2002", "2003")
    ]
    harness.spoke.extra = extra
    ws.jobs.run("aha")
    models = {m.name: m for m in ws.subscriptions.models()}
    assert {"Aha! Roadmaps", "Aha! Develop", "Aha! Teamwork"} <= set(models)
    assert {r.software_model for r in ws.rules.reclamation()} == {
        n for n, m in models.items() if m.paid
    }
    (unknown,) = ws.subscriptions.unrecognized()
    assert (unknown.identifier, unknown.subscriptions, unknown.profiles) == (
        "aha.ideas_portal",
        3,
        {"aha": 3},
    )
    with pytest.raises(ConfigError, match="no software model named"):
        ws.subscriptions.map_identifier("aha.ideas_portal", "Aha! Ideas")
    ws.subscriptions.add_model("Aha! Ideas", publisher="Aha! Labs")
    assert ws.store.get_reclamation_rule("Aha! Ideas") is not None
    assert ws.subscriptions.map_identifier("aha.ideas_portal", "Aha! Ideas") == 3
    assert ws.subscriptions.unrecognized() == []
    assert {
        s.software_model
        for s in ws.subscriptions.query("aha")
        if s.identifier == "aha.ideas_portal"
    } == {"Aha! Ideas"}
    assert ws.audit.query(action="identifier.mapped")[-1].after == {
        "software_model": "Aha! Ideas",
        "subscriptions": 3,
    }
