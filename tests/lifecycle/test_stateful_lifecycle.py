"""Hypothesis drives the whole reclamation lifecycle through random events and checks the invariants.

A workspace (in-memory store, in-process Aha! sandbox, a clock the machine moves) takes random
steps: daily runs, time passing, exclusion rules, users becoming administrators or active again,
the reclaim process switched on and off, notify/approval settings, plans applied with caps,
keep/forego answers, approvals, undo, vanished users, and arbitrary events thrown at arbitrary
candidates. After every step:

* no reclaim call ever reaches the spoke for an excluded user, an administrator, the
  integration's own user, a seat whose activity data is missing or stale, or while the profile's
  reclaim process is off — and the vendor never disables such a user;
* on the vendor's side (the sandbox's own records): no protected or recently active user is ever
  disabled, whatever changed at the vendor between plan and apply (with no run in between), and
  every user disabled at the vendor is one the workspace recorded a reclaim for (success, or an
  outcome still unknown) — lost answers and failing confirming reads included, and after
  ``reconcile_reclaims`` with the vendor readable again nothing is left unknown;
* closed states are final: once closed, a candidate never changes state again;
* every state change of every candidate is in the audit log, as an unbroken chain from creation
  to the current state.
"""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from saas_license import CandidateState, HttpOptions, ProfileStateError, Subscription
from saas_license._candidates.states import CandidateEvent, InvalidTransitionError
from saas_license._time import parse_instant
from saas_license.spoke import ReclaimStatus, ServerError, SpokeContext
from saas_license_aha.sandbox import INTEGRATION_USER_ID

from .conftest import SMALL_ACCOUNT_CANDIDATES, SMALL_ACCOUNT_ROADMAPS_CANDIDATES, Harness

USERS = ["2001", "2002", "2003", "2004", "2005", "2006", "2007", "2008"]
MODELS = ["Aha! Roadmaps", "Aha! Develop", "Aha! Teamwork"]


class LifecycleMachine(RuleBasedStateMachine):
    """The model keeps its own view of the world (the oracle) next to the workspace."""

    @initialize(
        notify=st.sampled_from([True, True, False]), approval=st.booleans(), days=st.integers(0, 3)
    )
    def setup(self, notify: bool, approval: bool, days: int) -> None:
        self.h = Harness()
        self.violations: list[str] = []
        self.excluded: dict[int, str] = {}  # exclusion rule id -> email (reclaim-excluding only)
        self.closed: dict[int, CandidateState] = {}
        self.plans: list[str] = []
        self.h.spoke.check = self._check_reclaim_call
        self.by_hand: set[str] = set()  # users whose enabled flag the machine changed itself
        self.fail_confirm: set[str] = set()  # users whose confirming read will fail
        inner = self.h.sandbox

        self.vendor_rejects_writes = False

        def vendor(request: httpx.Request) -> httpx.Response:
            if request.method == "PUT" and self.vendor_rejects_writes:
                return httpx.Response(
                    422, json={"errors": [{"message": "User is locked by billing"}]}
                )
            if request.method == "PUT" and b'"enabled":false' in request.content.replace(b" ", b""):
                uid = request.url.path.rsplit("/", 1)[-1]
                user = inner.user(uid)
                if user["administrator"] or uid == INTEGRATION_USER_ID:
                    self.violations.append(f"vendor disabled protected user {uid}")
                if user["email"] in self.excluded.values():
                    self.violations.append(f"vendor disabled excluded user {uid}")
                accessed = user.get("accessed_at")
                threshold = min(
                    (r.inactivity_days for r in self.h.ws.rules.reclamation() if r.active),
                    default=60,
                )
                if accessed and (self.h.clock() - parse_instant(accessed)).days < threshold:
                    self.violations.append(f"vendor disabled recently active user {uid}")
            return inner(request)

        self.h.ws.http = HttpOptions(
            transport=httpx.MockTransport(vendor), rate_limit=False, max_retries=0
        )
        self.h.ws.jobs.run("aha")  # start with candidates, so every run explores the machine
        self.h.ws.rules.set_reclamation(
            "Aha! Roadmaps",
            notify_user=notify,
            keep_requires_approval=approval,
            days_before_auto_reclaim=days,
        )

    def teardown(self) -> None:
        if hasattr(self, "h"):
            self.h.close()

    # -- the oracle, consulted at the moment of every reclaim call --------------------------

    def _check_reclaim_call(self, ctx: SpokeContext, sub: Subscription) -> None:
        ws = self.h.ws
        now = self.h.clock()
        stored = ws.profiles.get("aha")
        if not (stored.processes.reclaim and ctx.profile.processes.reclaim):
            self.violations.append("reclaim called while the reclaim process is off")
        if sub.is_administrator:
            self.violations.append(f"reclaim called for administrator {sub.external_user_id}")
        if sub.external_user_id == INTEGRATION_USER_ID:
            self.violations.append("reclaim called for the integration user")
        if sub.user_principal_name in self.excluded.values():
            self.violations.append(f"reclaim called for excluded {sub.user_principal_name}")
        if (
            sub.activity_checked_at is None
            or now - sub.activity_checked_at > ws.policy.activity_max_age
        ):
            self.violations.append(f"reclaim called on stale activity data for {sub.id}")
        if sub.external_user_id in self.fail_confirm:  # the read right after the PUT will fail
            self.h.spoke.read_fails = ServerError("GET /api/v1/users/:id answered 503")

    # -- steps --------------------------------------------------------------------------------

    @rule()
    def daily_run(self) -> None:
        self.h.ws.jobs.run("aha")

    @rule(hours=st.sampled_from([1, 6, 13, 30, 50]))
    def time_passes(self, hours: int) -> None:
        self.h.clock.advance(hours=hours)

    @rule(user=st.sampled_from(USERS), effect=st.sampled_from(["reclaim", "both", "cost"]))
    def exclude_user(self, user: str, effect: str) -> None:
        email = self.h.sandbox.user(user)["email"]
        rule_ = self.h.ws.rules.add_exclusion(kind="user", value=email, effect=effect)
        if effect != "cost":
            self.excluded[rule_.id or 0] = email

    @precondition(lambda self: bool(self.h.ws.rules.exclusions()))
    @rule(data=st.data())
    def drop_exclusion(self, data: st.DataObject) -> None:
        rule_ = data.draw(st.sampled_from(self.h.ws.rules.exclusions()))
        self.h.ws.rules.remove_exclusion(rule_.id or 0)
        self.excluded.pop(rule_.id or 0, None)

    @rule(user=st.sampled_from(USERS), admin=st.booleans())
    def vendor_admin_flag(self, user: str, admin: bool) -> None:
        self.h.set_vendor(user, administrator=admin)

    @rule(user=st.sampled_from(USERS))
    def user_logs_in(self, user: str) -> None:
        self.h.touch(user)

    @rule(user=st.sampled_from(USERS), enabled=st.booleans())
    def vendor_enables(self, user: str, enabled: bool) -> None:
        self.h.set_vendor(user, enabled=enabled)
        self.by_hand.add(user)

    @rule(user=st.sampled_from(USERS))
    def answer_gets_lost(self, user: str) -> None:
        """The next reclaim of ``user`` reaches the vendor, but its answer never comes back."""
        self.h.spoke.lose_answers.add(user)

    @rule(user=st.sampled_from(USERS))
    def confirming_read_fails(self, user: str) -> None:
        """Reads start failing right after the next reclaim of ``user`` (until they recover)."""
        self.fail_confirm.add(user)

    @rule()
    def vendor_reads_recover(self) -> None:
        self.h.spoke.read_fails = None
        self.fail_confirm.clear()
        self.h.spoke.lose_answers.clear()

    @rule()
    def reconcile_unknown_outcomes(self) -> None:
        """One recovery step: with the vendor readable, nothing is left unknown."""
        report = self.h.ws.plans.reconcile("aha")
        if self.h.spoke.read_fails is None:
            assert report.unresolved == 0
            assert not self.h.ws.store.unresolved_reclaim_actions("aha")

    @rule(on=st.booleans())
    def vendor_refuses_changes(self, on: bool) -> None:
        self.vendor_rejects_writes = on

    @rule(on=st.sampled_from([True, True, False]))
    def reclaim_process(self, on: bool) -> None:
        self.h.ws.profiles.update("aha", reclaim=on)

    @rule(
        model=st.sampled_from(MODELS),
        notify=st.booleans(),
        days=st.integers(0, 5),
        approval=st.booleans(),
        cooldown=st.integers(0, 10),
    )
    def rule_settings(
        self, model: str, notify: bool, days: int, approval: bool, cooldown: int
    ) -> None:
        if model not in {r.software_model for r in self.h.ws.rules.reclamation()}:
            return
        self.h.ws.rules.set_reclamation(
            model,
            notify_user=notify,
            days_before_auto_reclaim=days,
            keep_requires_approval=approval,
            cooldown_days=cooldown,
        )

    @rule()
    def make_plan(self) -> None:
        plan = self.h.ws.plans.create("aha")
        assert plan.id is not None
        self.plans.append(plan.id)

    @precondition(lambda self: bool(self.plans))
    @rule(
        data=st.data(),
        how=st.sampled_from(["exclude", "admin", "active", "admin_at_vendor", "active_at_vendor"]),
    )
    def protect_someone_planned(self, data: st.DataObject, how: str) -> None:
        """Between plan and apply, a planned user becomes excluded, an admin, or active again
        (``*_at_vendor``: only the vendor knows, no run in between)."""
        plan, _ = self.h.ws.store.get_plan(data.draw(st.sampled_from(self.plans))) or (None, None)
        if plan is None or not plan.items:
            return
        sub = data.draw(st.sampled_from([i.subscription for i in plan.items]))
        if how == "exclude":
            rule_ = self.h.ws.rules.add_exclusion(
                kind="user", value=sub.user_principal_name, effect="reclaim"
            )
            self.excluded[rule_.id or 0] = sub.user_principal_name
        elif how.startswith("admin"):
            self.h.set_vendor(sub.external_user_id, administrator=True)
            if how == "admin":
                self.h.ws.jobs.run("aha")
        else:
            self.h.touch(sub.external_user_id)
            if how == "active":
                self.h.ws.jobs.run("aha")

    @precondition(lambda self: bool(self.plans))
    @rule(data=st.data(), cap=st.none() | st.integers(0, 4))
    def apply_a_plan(self, data: st.DataObject, cap: int | None) -> None:
        """Apply a plan made earlier: rules, the vendor and the clock may have moved since."""
        ws = self.h.ws
        plan_id = data.draw(st.sampled_from(self.plans))
        self.plans.remove(plan_id)
        plan, _ = ws.store.get_plan(plan_id) or (None, None)
        assert plan is not None
        reclaim_on = ws.profiles.get("aha").processes.reclaim
        expired = plan.expires_at is not None and plan.expires_at <= self.h.clock()
        try:
            report = ws.plans.apply(plan_id, cap=cap)
        except ProfileStateError:
            assert expired or not reclaim_on
            return
        assert reclaim_on and not expired
        if cap is not None:
            attempted = sum(
                1
                for o in report.outcomes
                if o.outcome in ("reclaimed", "already_done", "failed", "refused")
            )
            assert attempted <= cap
        planned = {i.candidate.id for i in plan.items}
        assert {o.candidate_id for o in report.outcomes} <= planned  # never more than the plan

    @rule(cap=st.none() | st.integers(1, 4), days=st.integers(0, 3))
    def daily_cycle(self, cap: int | None, days: int) -> None:
        """The everyday path: days pass, a run, a plan applied at once (so reclaims happen)."""
        self.h.clock.advance(days=days)
        self.h.ws.jobs.run("aha")
        plan = self.h.ws.plans.create("aha")
        try:
            self.h.ws.plans.apply(plan.id or "", cap=cap)
        except ProfileStateError:
            assert not self.h.ws.profiles.get("aha").processes.reclaim

    def _pick(self, data: st.DataObject, states: set[CandidateState]) -> int | None:
        cands = [c for c in self.h.ws.candidates.query("aha") if c.state in states]
        if not cands:
            return None
        return data.draw(st.sampled_from([c.id for c in cands]))  # type: ignore[arg-type]

    @rule(data=st.data(), keep=st.booleans(), decision=st.sampled_from([None, True, False]))
    def user_answers(self, data: st.DataObject, keep: bool, decision: bool | None) -> None:
        cid = self._pick(data, {CandidateState.AWAITING_USER})
        if cid is None:
            return
        answered = (self.h.ws.candidates.keep if keep else self.h.ws.candidates.forego)(
            cid, actor="user:test"
        )
        if decision is not None and answered.state is CandidateState.AWAITING_APPROVAL:
            (self.h.ws.candidates.approve if decision else self.h.ws.candidates.decline)(
                cid, actor="manager:test"
            )

    @rule(data=st.data(), approve=st.booleans())
    def approver_decides(self, data: st.DataObject, approve: bool) -> None:
        cid = self._pick(data, {CandidateState.AWAITING_APPROVAL})
        if cid is not None:
            (self.h.ws.candidates.approve if approve else self.h.ws.candidates.decline)(
                cid, actor="manager:test"
            )

    @rule(data=st.data())
    def undo_a_reclaim(self, data: st.DataObject) -> None:
        cands = [c for c in self.h.ws.candidates.query("aha") if c.reclaimed and c.undo_until]
        if not cands:
            return
        cand = data.draw(st.sampled_from(cands))
        action = self.h.ws.store.get_reclaim_action(cand.reclaim_id or 0)
        assert action is not None
        allowed = action.status == "success" and cand.undo_until is not None
        allowed = allowed and self.h.clock() <= cand.undo_until  # type: ignore[operator]
        enabled_by_hand = self.h.sandbox.user(cand.external_user_id)["enabled"] is True
        try:
            result = self.h.ws.plans.undo(cand.id or 0)
        except ProfileStateError:
            assert not allowed
            return
        assert allowed
        if self.vendor_rejects_writes and not enabled_by_hand:
            # the vendor failed: nothing is marked undone
            assert not result.status.ok
            assert self.h.ws.candidates.get(cand.id or 0).undone_at is None
        elif self.vendor_rejects_writes:
            # someone re-enabled the user at the vendor: the undo reads that, writes nothing
            assert result.status is ReclaimStatus.ALREADY_DONE, result
        else:
            assert result.status.ok, result
            assert self.h.sandbox.user(cand.external_user_id)["enabled"] is True
            assert self.h.ws.candidates.get(cand.id or 0).undone_at == self.h.clock()

    @rule(data=st.data(), event=st.sampled_from(list(CandidateEvent)))
    def arbitrary_event(self, data: st.DataObject, event: CandidateEvent) -> None:
        cands = self.h.ws.candidates.query("aha")
        if not cands:
            return
        cand = data.draw(st.sampled_from(cands))
        try:
            self.h.ws.candidates.workflow.move(cand, event, actor="chaos")
        except InvalidTransitionError:
            assert self.h.ws.candidates.get(cand.id or 0).state is cand.state

    @rule(data=st.data())
    def resolve_attention(self, data: st.DataObject) -> None:
        cid = self._pick(data, {CandidateState.ATTENTION_REQUIRED})
        if cid is not None:
            resolved = self.h.ws.candidates.resolve(cid, recipient="owner@acme.test")
            assert resolved.state is CandidateState.READY

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def no_unsafe_reclaim(self) -> None:
        assert not self.violations, self.violations

    @invariant()
    def the_vendor_disabled_only_what_the_workspace_recorded(self) -> None:
        """Checked on the vendor's own records: every user disabled there was disabled by hand
        or by a reclaim the workspace knows of (done, or of unknown outcome — never lost)."""
        actions = self.h.ws.plans.actions("aha")
        for uid in USERS:
            if uid in self.by_hand:
                continue
            mine = [a for a in actions if a.external_user_id == uid and a.undone_at is None]
            latest = mine[-1].status if mine else None
            enabled = self.h.sandbox.user(uid)["enabled"]
            if not enabled:
                assert latest in ("success", "unknown", "requested"), (uid, latest)
            elif latest == "success":
                raise AssertionError(f"reclaim of {uid} recorded as success, vendor says enabled")

    @invariant()
    def closed_states_are_final(self) -> None:
        for c in self.h.ws.candidates.query("aha"):
            if c.id in self.closed:
                assert c.state is self.closed[c.id], (c.id, self.closed[c.id], c.state)
            elif c.state.is_closed:
                self.closed[c.id or 0] = c.state

    @invariant()
    def every_transition_is_audited(self) -> None:
        ws = self.h.ws
        chains: dict[str, list[Any]] = {}
        for e in ws.audit.query(entity="candidate", limit=1_000_000):
            chains.setdefault(e.entity_id or "", []).append(e)
        for c in ws.candidates.query("aha"):
            entries = chains.get(str(c.id), [])
            assert entries and entries[0].action == "candidate.created"
            assert entries[0].before is None
            state = entries[0].after["state"]
            for e in entries[1:]:
                assert e.before["state"] == state, (c.id, e.action, e.before, state)
                state = e.after["state"]
            assert state == c.state.value

    @invariant()
    def one_open_candidate_per_seat(self) -> None:
        open_seats = [c.subscription_id for c in self.h.ws.candidates.query("aha") if c.is_open]
        assert len(open_seats) == len(set(open_seats))


LifecycleMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLifecycle = LifecycleMachine.TestCase


def test_the_machine_reaches_the_interesting_states() -> None:
    """A scripted walk through the same harness, so the stateful test cannot pass vacuously."""
    h = Harness()
    try:
        ws = h.ws
        ws.jobs.run("aha")
        assert {c.state for c in ws.candidates.query("aha")} == {CandidateState.READY}
        ws.rules.set_reclamation("Aha! Roadmaps", notify_user=True, days_before_auto_reclaim=2)
        plan = ws.plans.create("aha")
        report = ws.plans.apply(plan.id or "", cap=1)
        # every idle Roadmaps seat holder is notified first; nothing is reclaimed yet
        assert report.counts == {"notified": SMALL_ACCOUNT_ROADMAPS_CANDIDATES}
        assert report.reclaimed == 0
        h.clock.advance(days=3)
        ws.jobs.run("aha")  # unanswered notices time out into awaiting revocation
        states = {c.state for c in ws.candidates.query("aha")}
        assert CandidateState.AWAITING_REVOCATION in states
        ws.plans.apply(ws.plans.create("aha").id or "")
        assert any(c.state is CandidateState.CLOSED_COMPLETE for c in ws.candidates.query("aha"))
        # every notified seat timed out and is reclaimed
        assert len(h.spoke.reclaims) == SMALL_ACCOUNT_ROADMAPS_CANDIDATES
    finally:
        h.close()


def test_a_reclaim_right_after_a_rule_change_is_rechecked() -> None:
    """Exclude a user between plan and apply: the apply's own re-check protects them."""
    h = Harness()
    try:
        ws = h.ws
        ws.jobs.run("aha")
        plan = ws.plans.create("aha")
        victim = plan.reclaims[0].subscription
        ws.rules.add_exclusion(kind="user", value=victim.user_principal_name, effect="reclaim")
        report = ws.plans.apply(plan.id or "")
        outcome = {o.subscription_id: o.outcome for o in report.outcomes}
        assert outcome[victim.id] == "skipped"
        assert victim.external_user_id not in {s.external_user_id for s in h.spoke.reclaims}
        assert h.sandbox.user(victim.external_user_id)["enabled"] is True
        assert ws.candidates.get(outcome and report.outcomes[0].candidate_id) is not None
    finally:
        h.close()


def test_apply_with_stale_data_holds_everything() -> None:
    h = Harness()
    try:
        ws = h.ws
        ws.jobs.run("aha")
        h.clock.advance(hours=40)
        plan = ws.plans.create("aha")  # activity checked 40 h ago: still fresh, the plan has items
        assert len(plan.reclaims) == SMALL_ACCOUNT_CANDIDATES
        h.clock.advance(hours=9)  # 49 h: stale, but the plan is 9 h old and still valid
        report = ws.plans.apply(plan.id or "")
        assert report.reclaimed == 0 and not h.spoke.reclaims
        assert {o.outcome for o in report.outcomes} == {"held"}
        assert all("stale_activity_data" in o.message for o in report.outcomes)
    finally:
        h.close()
