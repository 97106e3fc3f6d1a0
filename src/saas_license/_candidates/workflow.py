"""The candidate workflow: every state change stored together with its audit entry, and the
notices it sends (through the outbox).

:mod:`saas_license._candidates.states` says *where* an event leads; this module makes it happen in the
store, one transaction per change, re-reading the candidate first so two actors never overwrite
each other.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from .._audit import AuditEntry
from .._directory.facts import manager_address, seat_facts
from .._errors import ConfigError
from .._evaluation import Assessment
from .._faultpoints import kill_point
from .._finance.pricing import NoPrices, PriceBook
from .._links import AnswerRole, answer_url
from .._notify import (
    ANSWERABLE,
    Notification,
    NotificationKind,
    NotifierRegistry,
    deliver,
    send,
)
from .._rules import ReclamationRule
from .._store import Store
from .._subscriptions import Subscription
from .._time import format_instant, utcnow
from .approvers import DEFAULT_APPROVER_GROUP, ApproverRoute, ApproverSource, route_approval
from .notices import NoticeContext, compose_notice, deadline_text, role_of
from .records import CandidateState, Justification, RemovalCandidate, UserResponse
from .states import CandidateEvent, InvalidTransitionError, Route, initial_state, transition

if TYPE_CHECKING:
    from .._evaluation_sql import ProposedSeat

__all__ = ["APPROVAL_LINK_DAYS", "CandidateWorkflow"]

#: How long an approver's answer links stay valid (the approval has no deadline of its own).
APPROVAL_LINK_DAYS = 14


class CandidateWorkflow:
    """Stores candidate transitions with their audit entries and sends the notices they imply."""

    def __init__(
        self,
        store: Store,
        *,
        notifiers: NotifierRegistry | None = None,
        prices: PriceBook | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        notices: NoticeContext | None = None,
    ) -> None:
        self.store = store
        #: Public address, link signer, templates and approver groups (none: no answer links,
        #: so answerable notices are refused).
        self.notices = notices if notices is not None else NoticeContext()
        self._deferred: list[Notification] | None = None
        self.notifiers = notifiers
        self.prices: PriceBook = prices if prices is not None else NoPrices()
        self.clock = clock

    def __repr__(self) -> str:
        return f"CandidateWorkflow(store={self.store!r})"

    # -- lookups -------------------------------------------------------------------------------

    def get(self, candidate_id: int) -> RemovalCandidate:
        """The stored candidate, or a clear error."""
        found = self.store.get_candidate(int(candidate_id))
        if found is None:
            raise ConfigError(
                f"no removal candidate with id {candidate_id}",
                field="candidate",
                hint="list every candidate (CLI `candidates --all`, Python `ws.candidates.query(..., states=None)`)",
            )
        return found

    def rule_for(
        self, candidate: RemovalCandidate, rules: Sequence[ReclamationRule] | None = None
    ) -> ReclamationRule | None:
        """The reclamation rule that governs ``candidate`` (by id, else by software model),
        among ``rules`` when given (else the stored ones)."""
        if rules is None:
            rules = self.store.list_reclamation_rules()
        if candidate.rule_id is not None:
            for rule in rules:
                if rule.id == candidate.rule_id:
                    return rule
        return next((r for r in rules if r.software_model == candidate.software_model), None)

    def route_for(
        self, candidate: RemovalCandidate, rules: Sequence[ReclamationRule] | None = None
    ) -> Route:
        """How ``candidate`` moves through START and KEEP, from its rule as it is now.

        Whether the user is notified follows the rule until the reclaim starts; from then on
        the candidate keeps what was decided at the start.
        """
        rule = self.rule_for(candidate, rules)
        base = rule.route if rule is not None else Route()
        if rule is not None and candidate.state in (
            CandidateState.READY,
            CandidateState.ATTENTION_REQUIRED,
        ):
            return base
        return attrs.evolve(base, notify_user=candidate.notify_user)

    def price(
        self, software_model: str | None, at: dt.datetime
    ) -> tuple[Decimal | None, str | None]:
        """One seat's unit price and currency (None, None when unknown)."""
        if software_model is None:
            return None, None
        found = self.prices.unit_price(software_model, at=at)
        return (None, None) if found is None else (found.amount, found.currency)

    @contextlib.contextmanager
    def deferring_delivery(self) -> Iterator[None]:
        """Store the notices the block sends but deliver them only after it ends without error:
        a block inside a store transaction never holds the write lock while e-mail goes out,
        and a rolled-back block sends nothing."""
        outer = self._deferred
        self._deferred = []
        try:
            yield
            pending, self._deferred = self._deferred, outer
            for n in pending:
                deliver(self.store, self.notifiers, n, self.clock())
        finally:
            self._deferred = outer

    # -- approvers and answer links (issue 12) -----------------------------------------------

    def approver_route(
        self,
        candidate: RemovalCandidate,
        *,
        rule: ReclamationRule | None = None,
        manager: object = None,
    ) -> ApproverRoute:
        """Who approves a "keep" on ``candidate`` now: the rule's approver, the seat's manager,
        the rule's approver group, the profile's group (see :func:`route_approval`)."""
        rule = rule if rule is not None else self.rule_for(candidate)
        if manager is None:
            sub = self.store.get_subscription(candidate.subscription_id)
            manager = None
            if sub is not None:
                person = self.store.find_person(sub.user_principal_name)
                manager = manager_address(seat_facts(sub.attributes, person))
            if manager is None and candidate.approver_source == ApproverSource.MANAGER.value:
                manager = candidate.approver
        return route_approval(
            rule_approver=rule.approver if rule else None,
            manager=manager,
            rule_group=rule.approver_group if rule else None,
            profile_group=self.notices.profile_groups.get(
                candidate.profile, DEFAULT_APPROVER_GROUP
            ),
            groups=self.notices.groups,
        )

    def _manager(self, sub: Subscription | ProposedSeat, memo: _Memo | None = None) -> Any:
        """The seat's manager: the directory's, else the vendor's ``manager`` attribute."""
        if "directory.email" in sub.attributes or getattr(sub, "directory_checked", False):
            return manager_address(sub.attributes)  # already seen with the person's facts
        if memo is None:
            person = self.store.find_person(sub.user_principal_name)
        elif not memo.directory:
            person = None
        else:
            upn = sub.user_principal_name
            if upn not in memo.people:
                memo.people[upn] = self.store.find_person(upn)
            person = memo.people[upn]
        return manager_address(seat_facts(sub.attributes, person))

    def recipients_for(self, candidate: RemovalCandidate, role: AnswerRole) -> tuple[str, ...]:
        """Who may answer ``candidate`` as ``role`` now (a group's members as they are now)."""
        if role is AnswerRole.HOLDER:
            return (candidate.recipient or candidate.user_principal_name,)
        if candidate.approver is None:
            return ()
        if candidate.approver_source in (
            ApproverSource.RULE_GROUP.value,
            ApproverSource.PROFILE_GROUP.value,
        ):
            return tuple(self.notices.groups.get(candidate.approver, ()))
        return (candidate.approver,)

    def link_expiry(self, candidate: RemovalCandidate, role: AnswerRole) -> dt.datetime:
        """When ``role``'s answer links for ``candidate`` expire: the answer deadline for the
        holder, the approval's due time for an approver."""
        now = self.clock()
        if role is AnswerRole.HOLDER:
            return candidate.respond_by or now + dt.timedelta(days=1)
        return candidate.approval_due or now + dt.timedelta(days=APPROVAL_LINK_DAYS)

    def require_answerable(self) -> str:
        """The public address answer links start with, or the error that refuses the notice."""
        if self.notices.public_url is None or self.notices.signer is None:
            raise ConfigError(
                "is not set, so notices with answer links cannot be sent",
                field="public_url",
                hint="set the address people reach the service at (Python `ws.settings.set('public_url', 'https://…')`, CLI `settings set public_url https://…`)",
            )
        return self.notices.public_url

    # -- moving one candidate ------------------------------------------------------------------

    def move(
        self,
        candidate: RemovalCandidate | int,
        event: CandidateEvent,
        *,
        actor: str,
        reason: str = "",
        expect: Iterable[CandidateState] | None = None,
        **changes: Any,
    ) -> RemovalCandidate:
        """Apply ``event`` to the stored candidate: new state and audit entry in one transaction.

        ``expect`` guards against races: if the stored state is not one of them, nothing changes
        and :class:`InvalidTransitionError` says so.
        """
        cid = candidate if isinstance(candidate, int) else candidate.id
        if cid is None:
            raise InvalidTransitionError("only a stored candidate (with an id) can change state")
        now = self.clock()
        with self.store.transaction():
            fresh = self.get(cid)
            if expect is not None and fresh.state not in set(expect):
                raise InvalidTransitionError(
                    f"candidate {cid} is {fresh.state.value} now; {event.value!r} needs it "
                    + " or ".join(sorted(s.value for s in expect)),
                    hint=f"see where candidate {cid} stands (CLI `candidates show {cid}`, Python `ws.candidates.get({cid})`)",
                )
            new, entry = self._moved(fresh, event, now=now, actor=actor, reason=reason, **changes)
            self.store.update_candidate(new)
            self.store.append_audit(entry)
        return new

    def move_many(
        self,
        moves: Iterable[tuple[RemovalCandidate | int, CandidateEvent, str]],
        *,
        actor: str,
    ) -> list[RemovalCandidate]:
        """:meth:`move` for many candidates (each ``(candidate, event, reason)``) in one
        transaction: every candidate read fresh, moved and audited exactly as one :meth:`move`
        each would, with the rules read once and the rows written set-wise."""
        wanted = list(moves)
        ids = []
        for candidate, _, _ in wanted:
            cid = candidate if isinstance(candidate, int) else candidate.id
            if cid is None:
                raise InvalidTransitionError(
                    "only a stored candidate (with an id) can change state"
                )
            ids.append(int(cid))
        if not ids:
            return []
        now = self.clock()
        prices: dict[str | None, tuple[Decimal | None, str | None]] = {}
        with self.store.transaction():
            rules = self.store.list_reclamation_rules()
            fresh = {c.id: c for c in self.store.list_candidates(ids=set(ids))}
            moved, entries = [], []
            for cid, (_, event, reason) in zip(ids, wanted, strict=True):
                if cid not in fresh:
                    self.get(cid)  # raises the clear "no removal candidate" error
                new, entry = self._moved(
                    fresh[cid],
                    event,
                    now=now,
                    actor=actor,
                    reason=reason,
                    rules=rules,
                    prices=prices,
                )
                fresh[cid] = new  # a candidate moved twice moves from where the first left it
                moved.append(new)
                entries.append(entry)
            self.store.update_candidates(moved)
            self.store.append_audit_many(entries)
        return moved

    def _moved(
        self,
        fresh: RemovalCandidate,
        event: CandidateEvent,
        *,
        now: dt.datetime,
        actor: str,
        reason: str,
        rules: Sequence[ReclamationRule] | None = None,
        prices: dict[str | None, tuple[Decimal | None, str | None]] | None = None,
        **changes: Any,
    ) -> tuple[RemovalCandidate, AuditEntry]:
        """``fresh`` moved by ``event`` (not stored): the new candidate and its audit entry."""
        route = self.route_for(fresh, rules)
        completes = event in (
            CandidateEvent.RECLAIMED,
            CandidateEvent.VANISHED,
            CandidateEvent.CLOSE_COMPLETE,
        )
        if (
            completes
            and fresh.state is CandidateState.AWAITING_REVOCATION
            and "actual_savings" not in changes
        ):
            if prices is None:
                prices = {}
            if fresh.software_model not in prices:
                prices[fresh.software_model] = self.price(fresh.software_model, now)
            amount, currency = prices[fresh.software_model]
            if amount is None:
                amount, currency = fresh.potential_savings, fresh.currency
            changes.update(actual_savings=amount, currency=currency)
        return transition(fresh, event, now=now, actor=actor, reason=reason, route=route, **changes)

    def annotate(
        self,
        candidate: RemovalCandidate,
        action: str,
        *,
        actor: str,
        detail: str = "",
        **changes: Any,
    ) -> RemovalCandidate:
        """Change fields of a candidate without changing its state (audited all the same)."""
        now = self.clock()
        with self.store.transaction():
            fresh = self.get(candidate.id or 0)
            new = attrs.evolve(fresh, updated_at=now, **changes)
            self.store.update_candidate(new)
            self.store.append_audit(
                AuditEntry(
                    at=now,
                    actor=actor,
                    action=f"candidate.{action}",
                    entity="candidate",
                    entity_id=str(fresh.id),
                    profile=fresh.profile,
                    before={"state": fresh.state.value},
                    after={"state": new.state.value, **_plain(changes)},
                    detail=detail,
                )
            )
        return new

    # -- creation --------------------------------------------------------------------------------

    def create(
        self,
        sub: Subscription,
        assessment: Assessment | None,
        *,
        actor: str = "system",
        justification: Justification = Justification.LOW_USAGE,
        reason: str = "",
    ) -> RemovalCandidate:
        """Open a candidate for ``sub`` (one open candidate per seat), audited."""
        now = self.clock()
        draft, message = self._draft(
            sub,
            assessment.rule if assessment is not None else None,
            assessment.inactive_days if assessment is not None else None,
            now=now,
            justification=justification,
            reason=reason,
        )
        with self.store.transaction():
            candidate = self.store.add_candidate(draft)
            self.store.append_audit(_created_entry(candidate, actor=actor, message=message))
        return candidate

    def create_many(
        self, items: Sequence[tuple[Subscription, Assessment]], *, actor: str = "system"
    ) -> list[RemovalCandidate]:
        """:meth:`create` for many seats at once: the candidates and their audit entries in one
        transaction, written set-wise (the same rows as one :meth:`create` per seat).

        What every seat of the batch shares is worked out once: prices per model, approver
        routes per (rule, manager, profile), and directory look-ups (none when no directory
        was ever loaded).
        """
        if not items:
            return []
        memo = _Memo(directory=self.store.directory_source() is not None)
        return self._create_all(
            [(sub, a.rule, a.inactive_days) for sub, a in items], actor=actor, memo=memo
        )

    def create_proposed(self, seats: Sequence[ProposedSeat], *, actor: str = "system") -> int:
        """:meth:`create_many` for the seats a set-based evaluation proposes
        (:meth:`~saas_license._evaluation_sql.SetEvaluation.proposed_seats`): the same
        candidates and audit entries, in one transaction. Returns how many were stored.

        Each seat carries its person's facts (no directory look-up), and no
        :class:`RemovalCandidate` or :class:`AuditEntry` is built per seat: seats that share
        what a draft decides (profile, rule, model, manager, whether the user has an address)
        share one draft, built by the same code as :meth:`create`'s, and each is stored as
        that draft with its own seat, user, idle days, last activity and message.
        """
        if not seats:
            return 0
        store: Any = self.store
        memo = _Memo(directory=False)
        if not hasattr(store, "add_candidate_rows") or not hasattr(store, "append_audit_similar"):
            items = [(seat, seat.rule, seat.inactive_days) for seat in seats]
            return len(self._create_all(items, actor=actor, memo=memo))
        profile = seats[0].profile
        if any(seat.profile != profile for seat in seats):
            raise ValueError("create_proposed takes the seats of one profile")
        now = self.clock()
        # draft key -> (the shared draft, its message after the days, its state, its rows)
        groups: dict[tuple[Any, ...], tuple[RemovalCandidate, str, str, list[Any]]] = {}
        parts: list[tuple[str | None, dict[str, Any] | None, str]] = []
        with self.store.transaction():
            first = self.store.next_candidate_id()
            for cid, seat in enumerate(seats, first):
                sid, _, _, upn, _, model, last_ms, attributes, days, rule = seat
                manager = manager_address(attributes)
                try:
                    key: tuple[Any, ...] = (id(rule), model, manager, bool(upn), "@" in upn)
                    hash(key)
                except TypeError:  # an unusual manager value: a draft of its own
                    key = (cid,)
                group = groups.get(key)
                if group is None:
                    draft, message = self._draft(
                        seat,
                        rule,
                        days,
                        now=now,
                        justification=Justification.LOW_USAGE,
                        reason="",
                        memo=memo,
                        candidate_id=cid,
                    )
                    base = _idle_message(days, rule)
                    assert message.startswith(base)  # _draft's message for a rule's proposal
                    # the message but for its days: _idle_message's text after them, the tail
                    rest = f" days (rule: {rule.inactivity_days} days){message[len(base) :]}"
                    assert f"no activity for {days}{rest}" == message
                    group = groups[key] = (draft, rest, _VALUES[draft.state], [])
                _, rest, state, rows = group
                message = f"no activity for {days}{rest}"
                rows.append((cid, sid, upn, days, last_ms, message))
                # as _created_entry: the days are in the message, the justification the rules'
                parts.append((str(cid), {"state": state, "subscription_id": sid}, message))
            store.add_candidate_rows([(draft, rows) for draft, _, _, rows in groups.values()])
            kill_point("candidates.before_audit")  # the rows written, their entries not yet
            template = AuditEntry(
                at=now,
                actor=actor,
                action="candidate.created",
                entity="candidate",
                profile=profile,
            )
            store.append_audit_similar(template, parts)
        return len(seats)

    def _create_all(
        self,
        items: Sequence[tuple[Any, ReclamationRule | None, int | None]],
        *,
        actor: str,
        memo: _Memo,
    ) -> list[RemovalCandidate]:
        """New candidates for ``(seat, rule, idle days)`` and their audit entries, in one
        transaction (a seat is a :class:`Subscription` or anything with its fields)."""
        now = self.clock()
        with self.store.transaction():
            # numbered here, in the transaction that stores them: each is built once
            first = self.store.next_candidate_id()
            drafts = [
                self._draft(
                    sub,
                    rule,
                    inactive,
                    now=now,
                    justification=Justification.LOW_USAGE,
                    reason="",
                    memo=memo,
                    candidate_id=first + n,
                )
                for n, (sub, rule, inactive) in enumerate(items)
            ]
            stored = self.store.add_candidates([d for d, _ in drafts])
            kill_point("candidates.before_audit")  # the rows written, their entries not yet
            self.store.append_audit_many(
                [
                    _created_entry(c, actor=actor, message=m)
                    for c, (_, m) in zip(stored, drafts, strict=True)
                ]
            )
        return stored

    def _draft(
        self,
        sub: Subscription | ProposedSeat,
        rule: ReclamationRule | None,
        inactive: int | None,
        *,
        now: dt.datetime,
        justification: Justification,
        reason: str,
        memo: _Memo | None = None,
        candidate_id: int | None = None,
    ) -> tuple[RemovalCandidate, str]:
        """A new candidate for ``sub`` (not stored yet) and the message it carries."""
        memo = memo if memo is not None else _Memo(directory=True)
        if rule is None:
            rule = next(
                (
                    r
                    for r in self.store.list_reclamation_rules()
                    if r.software_model == sub.software_model
                ),
                None,
            )
        notify = bool(rule and rule.notify_user)
        recipient = sub.user_principal_name or None
        if sub.software_model not in memo.prices:
            memo.prices[sub.software_model] = self.price(sub.software_model, now)
        amount, currency = memo.prices[sub.software_model]
        state = initial_state(notify_user=notify, recipient=recipient)
        approval = self._route(sub.profile, rule, self._manager(sub, memo) or "", memo)
        message = reason or (
            _idle_message(inactive, rule)
            if rule is not None and inactive is not None
            else "proposed by hand"
        )
        if state is CandidateState.ATTENTION_REQUIRED:
            message += "; the notice has no recipient: set one and resolve"
        elif notify and rule is not None and rule.keep_requires_approval and not approval.routable:
            state = CandidateState.ATTENTION_REQUIRED
            message += f"; {approval.reason}"
        draft = RemovalCandidate(
            subscription_id=sub.id,
            profile=sub.profile,
            external_user_id=sub.external_user_id,
            user_principal_name=sub.user_principal_name,
            identifier=sub.identifier,
            software_model=sub.software_model,
            state=state,
            inactive_days=inactive or 0,
            last_activity=sub.last_activity,
            opened_at=now,
            updated_at=now,
            rule_id=rule.id if rule else None,
            justification=justification,
            notify_user=notify,
            recipient=recipient,
            potential_savings=amount,
            currency=currency,
            approver=approval.approver,
            approver_source=None if approval.source is None else _VALUES[approval.source],
            message=message,
            id=candidate_id,
        )
        return draft, message

    def _route(
        self, profile: str, rule: ReclamationRule | None, manager: Any, memo: _Memo
    ) -> ApproverRoute:
        """:meth:`approver_route` of a new candidate, remembered per distinct input."""
        key = (
            (
                profile,
                rule.approver if rule else None,
                rule.approver_group if rule else None,
                manager,
            )
            if isinstance(manager, str)
            else None
        )
        if key is not None and key in memo.routes:
            return memo.routes[key]
        route = route_approval(
            rule_approver=rule.approver if rule else None,
            manager=manager,
            rule_group=rule.approver_group if rule else None,
            profile_group=self.notices.profile_groups.get(profile, DEFAULT_APPROVER_GROUP),
            groups=self.notices.groups,
        )
        if key is not None:
            memo.routes[key] = route
        return route

    # -- people's actions ------------------------------------------------------------------------

    def start(
        self, candidates: Sequence[RemovalCandidate], *, actor: str
    ) -> list[RemovalCandidate]:
        """ "Reclaim" ready candidates: notify their users (one notice per user) or send them
        straight to revocation, as their rule says."""
        now = self.clock()
        moved: list[RemovalCandidate] = []
        to_notify: dict[tuple[str, str], list[RemovalCandidate]] = defaultdict(list)
        if any(self.route_for(c).asks_user for c in candidates):
            self.require_answerable()  # refused before anything moves: nobody unasked times out
        for candidate in candidates:
            route = self.route_for(candidate)
            changes: dict[str, Any] = {"notify_user": route.notify_user}
            if route.asks_user:
                changes.update(
                    respond_by=now + dt.timedelta(days=route.days_before_auto_reclaim),
                    notified_at=now,
                )
            new = self.move(
                candidate,
                CandidateEvent.START,
                actor=actor,
                expect={CandidateState.READY},
                reason="reclaim requested" + ("; user notified" if route.asks_user else ""),
                **changes,
            )
            moved.append(new)
            if new.state is CandidateState.AWAITING_USER:
                to_notify[(new.profile, new.recipient or new.user_principal_name)].append(new)
        for (profile, recipient), group in to_notify.items():
            self._send_notice(NotificationKind.RECLAIM_NOTICE, profile, recipient, group, now)
        return moved

    def respond(
        self, candidate_id: int, response: UserResponse, *, actor: str, note: str = ""
    ) -> RemovalCandidate:
        """The user's answer to a notice: forego → revocation; keep → approver (or kept)."""
        candidate = self.get(candidate_id)
        now = self.clock()
        if response is UserResponse.FOREGO:
            return self.move(
                candidate,
                CandidateEvent.FOREGO,
                actor=actor,
                expect={CandidateState.AWAITING_USER},
                reason=note or "the user does not need the seat",
                response=response,
                responded_at=now,
            )
        route = self.route_for(candidate)
        extra: dict[str, Any] = {}
        approval: ApproverRoute | None = None
        if not route.keep_requires_approval:
            extra["keep_until"] = self.cooldown_end(candidate, now)
        else:
            approval = self.approver_route(candidate)
            if approval.routable:
                self.require_answerable()  # refused before the answer is recorded
            extra.update(
                approver=approval.approver,
                approver_source=None if approval.source is None else _VALUES[approval.source],
                approval_due=now + dt.timedelta(days=APPROVAL_LINK_DAYS),
            )
        new = self.move(
            candidate,
            CandidateEvent.KEEP,
            actor=actor,
            expect={CandidateState.AWAITING_USER},
            reason=note or "the user wants to keep the seat",
            response=response,
            responded_at=now,
            **extra,
        )
        if new.state is CandidateState.AWAITING_APPROVAL:
            if approval is None or not approval.routable:
                # never a placeholder recipient: a person must find the approver
                return self.move(
                    new,
                    CandidateEvent.UNROUTABLE,
                    actor="system",
                    expect={CandidateState.AWAITING_APPROVAL},
                    reason=(approval.reason if approval else "approval cannot be routed")
                    + "; set an approver (rule, manager or group), then resolve",
                )
            for person in approval.recipients:
                self._send_notice(
                    NotificationKind.APPROVAL_REQUEST, new.profile, person, [new], now
                )
        return new

    def decide(
        self, candidate_id: int, *, approve: bool, actor: str, note: str = ""
    ) -> RemovalCandidate:
        """The approver's decision on a "keep" request: approve the reclaim, or let the user keep it."""
        candidate = self.get(candidate_id)
        now = self.clock()
        if approve:
            return self.move(
                candidate,
                CandidateEvent.APPROVE,
                actor=actor,
                expect={CandidateState.AWAITING_APPROVAL},
                reason=note or "reclaim approved despite the keep request",
                decided_by=actor,
            )
        return self.move(
            candidate,
            CandidateEvent.DECLINE,
            actor=actor,
            expect={CandidateState.AWAITING_APPROVAL},
            reason=note or "the user keeps the seat",
            decided_by=actor,
            keep_until=self.cooldown_end(candidate, now),
        )

    def resolve(
        self, candidate_id: int, *, actor: str, recipient: str | None = None, note: str = ""
    ) -> RemovalCandidate:
        """Attention required → ready, optionally naming who gets the notice."""
        candidate = self.get(candidate_id)
        changes: dict[str, Any] = {}
        if recipient is not None:
            if "@" not in recipient:
                raise ConfigError(
                    f"{recipient!r} is not an address",
                    field="recipient",
                    hint="give an email address",
                )
            changes["recipient"] = recipient
        elif candidate.notify_user and not (candidate.recipient and "@" in candidate.recipient):
            raise ConfigError(
                "the notice still has no recipient",
                field="recipient",
                hint="pass --recipient someone@example.com",
            )
        rule = self.rule_for(candidate)
        if rule is not None and rule.notify_user and rule.keep_requires_approval:
            approval = self.approver_route(candidate, rule=rule)
            if not approval.routable:
                raise ConfigError(
                    approval.reason,
                    field="approver",
                    hint="give the rule an approver or an approver group with members (Python `ws.rules.set_reclamation(model, approver=...)` or `ws.approvals.set_group(name, [...])`)",
                )
            changes.update(
                approver=approval.approver,
                approver_source=None if approval.source is None else _VALUES[approval.source],
            )
        return self.move(
            candidate,
            CandidateEvent.RESOLVE,
            actor=actor,
            expect={CandidateState.ATTENTION_REQUIRED},
            reason=note or "resolved",
            **changes,
        )

    def skip(
        self, candidate_id: int, *, actor: str, note: str = "", cooldown_days: int | None = None
    ) -> RemovalCandidate:
        """Close an open candidate without reclaiming; ``cooldown_days`` holds off a new one."""
        candidate = self.get(candidate_id)
        extra: dict[str, Any] = {}
        if cooldown_days:
            extra["keep_until"] = self.clock() + dt.timedelta(days=cooldown_days)
        return self.move(
            candidate, CandidateEvent.SKIP, actor=actor, reason=note or "skipped by hand", **extra
        )

    def close_complete(self, candidate_id: int, *, actor: str, note: str = "") -> RemovalCandidate:
        """Awaiting revocation → closed complete without a vendor call (the seat was freed by hand)."""
        candidate = self.get(candidate_id)
        new = self.move(
            candidate,
            CandidateEvent.CLOSE_COMPLETE,
            actor=actor,
            expect={CandidateState.AWAITING_REVOCATION},
            reason=note or "freed by hand at the vendor",
            reclaimed_at=self.clock(),
        )
        self.store.deactivate_subscription(candidate.subscription_id)
        return new

    # -- the clock -------------------------------------------------------------------------------

    def advance(self, profile: str) -> tuple[int, int]:
        """Deadlines: unanswered notices go to revocation, reminders go out. Returns (timeouts, reminders)."""
        now = self.clock()
        timeouts = reminders = 0
        remind: dict[tuple[str, str], list[RemovalCandidate]] = defaultdict(list)
        for candidate in self.store.list_candidates(profile, states={CandidateState.AWAITING_USER}):
            if candidate.respond_by is not None and candidate.respond_by <= now:
                self.move(
                    candidate,
                    CandidateEvent.TIMEOUT,
                    actor="system",
                    expect={CandidateState.AWAITING_USER},
                    reason=f"no answer by {deadline_text(candidate.respond_by)}: reclaim",
                )
                timeouts += 1
                continue
            rule = self.rule_for(candidate)
            days = rule.remind_days_before if rule else 0
            if (
                days
                and self.notices.answerable
                and candidate.reminded_at is None
                and candidate.respond_by is not None
                and now >= candidate.respond_by - dt.timedelta(days=days)
            ):
                new = self.annotate(candidate, "reminded", actor="system", reminded_at=now)
                remind[(new.profile, new.recipient or new.user_principal_name)].append(new)
                reminders += 1
        for (prof, recipient), group in remind.items():
            self._send_notice(NotificationKind.REMINDER, prof, recipient, group, now)
        return timeouts, reminders

    # -- internals -------------------------------------------------------------------------------

    def cooldown_end(self, candidate: RemovalCandidate, now: dt.datetime) -> dt.datetime | None:
        rule = self.rule_for(candidate)
        days = rule.cooldown_days if rule is not None else 30
        return now + dt.timedelta(days=days) if days else None

    def notify_reclaimed(
        self, candidates: Sequence[RemovalCandidate], *, restored: bool = False
    ) -> None:
        """Tell users whose seats were reclaimed (or restored), when their rule notifies users."""
        now = self.clock()
        groups: dict[tuple[str, str], list[RemovalCandidate]] = defaultdict(list)
        for c in candidates:
            if c.notify_user:
                groups[(c.profile, c.recipient or c.user_principal_name)].append(c)
        kind = NotificationKind.RESTORED if restored else NotificationKind.RECLAIMED
        for (profile, recipient), group in groups.items():
            self._send_notice(kind, profile, recipient, group, now)

    def _send_notice(
        self,
        kind: NotificationKind,
        profile: str,
        recipient: str,
        candidates: Sequence[RemovalCandidate],
        now: dt.datetime,
    ) -> Notification:
        ids = tuple(c.id for c in candidates if c.id is not None)
        respond_by = min((c.respond_by for c in candidates if c.respond_by), default=None)
        links: dict[int, str] = {}
        role = role_of(kind)
        if kind in ANSWERABLE and role is not None:
            public = self.require_answerable()
            signer = self.notices.signer
            assert signer is not None
            for c in candidates:
                token = signer.issue(
                    candidate_id=c.id or 0,
                    recipient=recipient,
                    role=role,
                    expires_at=self.link_expiry(c, role),
                )
                links[c.id or 0] = answer_url(public, token)
        composed = compose_notice(kind, candidates, templates=self.notices.templates, links=links)
        notification = Notification(
            kind=kind,
            recipient=recipient,
            subject=composed.subject,
            body=composed.text,
            html=composed.html,
            created_at=now,
            profile=profile,
            candidate_ids=ids,
            respond_by=respond_by,
        )
        if self._deferred is not None:  # delivered after the caller's transaction commits
            sent = self.store.add_notification(notification)
            self._deferred.append(sent)
        else:
            sent = send(self.store, self.notifiers, notification, now)
        self.store.append_audit(
            AuditEntry(
                at=now,
                actor="system",
                action=f"notification.{kind.value}",
                entity="notification",
                entity_id=str(sent.id),
                profile=profile,
                after={
                    "recipient": recipient,
                    "candidate_ids": list(ids),
                    "status": sent.status.value,
                    "respond_by": None if respond_by is None else format_instant(respond_by),
                },
                detail=composed.subject,
            )
        )
        return sent


@attrs.define
class _Memo:
    """What the seats of one :meth:`CandidateWorkflow.create_many` share, worked out once."""

    #: Whether a directory was ever loaded (else no seat has a person to look up).
    directory: bool
    prices: dict[str | None, tuple[Decimal | None, str | None]] = attrs.Factory(dict)
    routes: dict[tuple[Any, ...], ApproverRoute] = attrs.Factory(dict)
    people: dict[str, Any] = attrs.Factory(dict)


def _plain(changes: dict[str, Any]) -> dict[str, Any]:
    from .._convert import converter

    return {k: converter.unstructure(v) for k, v in changes.items()}


_VALUES: dict[Any, str] = {
    m: m.value for e in (CandidateState, Justification, ApproverSource) for m in e
}


def _idle_message(inactive: int, rule: ReclamationRule) -> str:
    """Why a rule proposed a seat (a new candidate's message, before any note on its state)."""
    return f"no activity for {inactive} days (rule: {rule.inactivity_days} days)"


def _created_entry(candidate: RemovalCandidate, *, actor: str, message: str) -> AuditEntry:
    """The audit entry of a candidate's creation: its state and seat, its days idle unless the
    detail (why) already says them, and its justification unless it is the rules' ``low_usage``:
    a day's run writes one per new candidate, so it says what it must and no more."""
    after: dict[str, Any] = {
        "state": _VALUES[candidate.state],
        "subscription_id": candidate.subscription_id,
    }
    if not message.startswith(f"no activity for {candidate.inactive_days} days"):
        after["inactive_days"] = candidate.inactive_days
    if candidate.justification is not Justification.LOW_USAGE:
        after["justification"] = _VALUES[candidate.justification]
    return AuditEntry(
        at=candidate.opened_at,
        actor=actor,
        action="candidate.created",
        entity="candidate",
        entity_id=str(candidate.id),
        profile=candidate.profile,
        before=None,
        after=after,
        detail=message,
    )
