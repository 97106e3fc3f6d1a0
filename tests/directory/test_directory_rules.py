"""Directory facts in rules, plans and approvals: contractors excluded, leavers first, the
directory's manager approves, and the safety re-check sees the directory as it is now."""

from __future__ import annotations

from pathlib import Path

from saas_license import CandidateState
from saas_license._candidates.approvers import ApproverSource
from saas_license._candidates.records import OPEN_STATES
from saas_license._evaluation import Verdict
from saas_license._finance.from_store import reconcile_store
from saas_license._store._sqlite import SqliteStore

from ..lifecycle.conftest import SMALL_ACCOUNT_CANDIDATES, Harness
from ..people.conftest import notify_roadmaps, tokens
from .conftest import PEOPLE, write


def _users(harness: Harness) -> set[str]:
    return {c.user_principal_name for c in harness.ws.candidates.query("aha")}


def test_contractors_excluded_by_a_directory_rule(harness: Harness, tmp_path: Path) -> None:
    ws = harness.ws
    ws.directory.load(write(tmp_path))
    ws.rules.add_exclusion(
        kind="attribute", attribute="directory.employment_status", value="Contractor"
    )
    report = ws.jobs.run("aha")
    assert report.candidates_created == SMALL_ACCOUNT_CANDIDATES - 1
    assert "cy@acme.test" not in _users(harness)
    assert report.verdicts[Verdict.EXCLUDED.value] == 1
    rows = {r.subscription.user_principal_name: r for r in ws.subscriptions.rows("aha")}
    assert rows["cy@acme.test"].excluded_from == ("cost", "reclaim")
    assert not rows["ana@acme.test"].excluded


def test_department_rules_and_unresolved_users_are_never_matched_by_a_guess(
    harness: Harness, tmp_path: Path
) -> None:
    ws = harness.ws
    ws.directory.load(write(tmp_path))
    ws.rules.add_exclusion(kind="attribute", attribute="directory.department", value="engineering")
    ws.jobs.run("aha")
    users = _users(harness)
    assert not users & {"cy@acme.test", "fay@acme.test"}
    # dee and eli are not in the directory: no department, so no directory rule matches them
    assert {"dee@partner.test", "eli@acme.test", "ana@acme.test"} <= users


def test_a_person_who_becomes_a_contractor_is_never_reclaimed(
    harness: Harness, tmp_path: Path
) -> None:
    ws = harness.ws
    ws.directory.load(write(tmp_path))
    ws.rules.add_exclusion(
        kind="attribute", attribute="directory.employment_status", value="contractor"
    )
    ws.jobs.run("aha")
    plan = ws.plans.create("aha")
    assert "ana@acme.test" in {i.subscription.user_principal_name for i in plan.items}
    # after the plan was made, the directory says ana is a contractor now
    ws.directory.load(
        write(
            tmp_path,
            PEOPLE.replace("Sales,CC-100,active\nbenjamin", "Sales,CC-100,contractor\nbenjamin"),
            "b.csv",
        )
    )
    person = ws.directory.lookup("ana@acme.test")
    assert person is not None and person.employment_status == "contractor"
    ws.plans.apply(plan.id or "")
    assert harness.sandbox.user("2001")["roadmaps_seat"] is True  # the vendor still has it
    assert "2001" not in {s.external_user_id for s in harness.spoke.reclaims}
    assert harness.spoke.reclaims  # the others in the plan were reclaimed


def test_leavers_seats_come_first(harness: Harness, tmp_path: Path) -> None:
    ws = harness.ws
    ws.directory.load(write(tmp_path))
    ws.jobs.run("aha")
    ordered = sorted(ws.candidates.query("aha"), key=lambda c: c.id or 0)
    assert [c.user_principal_name for c in ordered[:2]] == ["ben@acme.test", "ben@acme.test"]
    plan = ws.plans.create("aha")
    assert [i.subscription.user_principal_name for i in plan.items[:2]] == [
        "ben@acme.test",
        "ben@acme.test",
    ]


def test_without_a_directory_nothing_changes(harness: Harness) -> None:
    ws = harness.ws
    ws.rules.add_exclusion(kind="attribute", attribute="directory.department", value="Sales")
    report = ws.jobs.run("aha")
    assert report.candidates_created == SMALL_ACCOUNT_CANDIDATES


def test_the_directory_manager_approves_a_keep(harness: Harness, tmp_path: Path) -> None:
    ws = harness.ws
    ws.directory.load(write(tmp_path))
    notify_roadmaps(harness)
    by_user = {
        c.user_principal_name: c
        for c in ws.candidates.query("aha", states=set(OPEN_STATES))
        if c.software_model == "Aha! Roadmaps"
    }
    # ana's manager is in the directory; cy's is not, but the directory gives an address
    ana, cy, hal_less = by_user["ana@acme.test"], by_user["cy@acme.test"], by_user["eli@acme.test"]
    assert (ana.approver, ana.approver_source) == ("boss@acme.test", ApproverSource.MANAGER.value)
    assert (cy.approver, cy.approver_source) == ("outside-boss@other.test", "manager")
    # eli is not in the directory: the profile's group, never a guessed manager
    assert hal_less.approver_source == ApproverSource.PROFILE_GROUP.value
    # ana asks to keep: the request goes to her manager from the directory
    assert ws.approvals.route(ana.id or 0).recipients == ("boss@acme.test",)
    notice = next(n for n in ws.outbox.query() if n.recipient == "ana@acme.test")
    out = ws.answers.submit(tokens(notice)[0], "keep")
    assert out.state is CandidateState.AWAITING_APPROVAL
    assert any(n.recipient == "boss@acme.test" for n in ws.outbox.query())


def test_cost_exclusions_by_directory_agree_between_sql_and_python(
    harness: Harness, tmp_path: Path
) -> None:
    ws = harness.ws
    ws.directory.load(write(tmp_path))
    ws.rules.add_exclusion(
        kind="attribute", attribute="directory.cost_center", value="CC-100", effect="cost"
    )
    ws.jobs.run("aha")
    store = ws.store
    assert isinstance(store, SqliteStore)
    sql = reconcile_store(store, now=harness.clock.now, timezone="UTC")

    class PythonOnly:
        """The same store without the SQL aggregates: the reference path."""

        def __getattr__(self, name: str) -> object:
            if name == "reconcile_facts":
                raise AttributeError(name)
            return getattr(store, name)

    ref = reconcile_store(PythonOnly(), now=harness.clock.now, timezone="UTC")  # type: ignore[arg-type]
    excluded = {r.software_model: r.excluded_seats for r in sql.models}
    assert excluded == {r.software_model: r.excluded_seats for r in ref.models}
    # CC-100: ana (1), ben (2 seats via his alias), hal (1); 3 of them are Roadmaps seats
    assert sum(excluded.values()) == 4
