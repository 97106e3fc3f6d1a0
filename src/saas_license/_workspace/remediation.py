"""Acting on remediation options (``ws.finance.remediation``): create candidates for unlicensed
seats, record a purchase as an entitlement draft, or set a status by hand. Each act is audited.

Creating candidates never reclaims anything: it opens removal candidates through the normal
lifecycle (justification ``unlicensed``), and every safety rule applies twice, here and again
before any reclaim.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from .._candidates.records import OPEN_STATES, Justification
from .._errors import ConfigError
from .._evaluation import Verdict, assess
from .._finance import from_store as _finance
from .._finance.entitlements import local_date
from .._finance.reconciliation import Remediation, RemediationOption, RemediationStatus
from .._finance.remediation import option_from
from .._rules import first_exclusion
from ._change import changing

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["ActResult", "Remediations"]

#: Verdicts under which a counted seat may be proposed as unlicensed: anything but protected
#: (excluded, administrator, integration user, unknown protection) or missing/stale activity.
_PROPOSABLE = frozenset(
    {Verdict.IDLE, Verdict.ACTIVE, Verdict.NO_RULE, Verdict.FILTERED_OUT, Verdict.CANDIDATES_OFF}
)


@attrs.frozen(kw_only=True)
class ActResult:
    """What acting on a remediation option did."""

    option: RemediationOption
    status: RemediationStatus
    candidates: tuple[int, ...] = ()
    entitlement_id: int | None = None
    skipped: int = 0
    note: str = ""


class Remediations:
    """The remediation options of the last saved reconciliation, with their statuses, and the
    actions on them (``ws.finance.remediation``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def options(self, *, include_void: bool = False) -> list[RemediationOption]:
        """Every stored option (needed ones, and void ones on request), by key."""
        stored = _finance.finance_store(self._ws.store).list_remediation()
        out = [option_from(s) for s in stored]
        return [o for o in out if include_void or o.status is not RemediationStatus.VOID]

    def _actionable(self, key: str, action: Remediation, verb: str) -> RemediationOption:
        option = self.get(key)
        if option.action is not action:
            raise ConfigError(
                f"{key!r} is a {option.action.value} option",
                field="remediation.action",
                hint=f"{verb} from a {action.value} option",
            )
        if option.status is RemediationStatus.VOID:
            raise ConfigError(
                f"{key!r} is void: the last saved reconciliation no longer needs it",
                field="remediation.status",
                hint="save a new reconciliation and act on an option it lists",
            )
        return option

    def get(self, key: str) -> RemediationOption:
        """One stored option by its key (``action:model:profile``)."""
        for opt in self.options(include_void=True):
            if opt.key == key:
                return opt
        raise ConfigError(
            f"no remediation option {key!r}",
            field="remediation.key",
            hint="save a reconciliation first, then use a key it lists",
        )

    def set_status(
        self, key: str, status: RemediationStatus | str, *, actor: str = "user", note: str = ""
    ) -> RemediationOption:
        """Set an option's status by hand (e.g. in progress while a purchase order is out)."""
        try:
            new = RemediationStatus(status)
        except ValueError:
            raise ConfigError(
                f"{status!r} is not a remediation status",
                field="remediation.status",
                hint="use " + ", ".join(s.value for s in RemediationStatus),
            ) from None
        return self._store_status(self.get(key), new, actor=actor, detail=note or new.value)

    def _store_status(
        self, option: RemediationOption, status: RemediationStatus, *, actor: str, detail: str
    ) -> RemediationOption:
        fin = _finance.finance_store(self._ws.store)
        stored = {s.key: s for s in fin.list_remediation()}[option.key]
        after = attrs.evolve(option, status=status)
        with changing(
            self._ws,
            "remediation.status",
            "remediation",
            entity_id=option.key,
            before={"status": option.status.value},
            actor=actor,
            detail=detail,
        ) as change:
            fin.save_remediation(
                [attrs.evolve(stored, status=status.value, updated_at=self._ws.clock())]
            )
            change.done(option.key, after={"status": status.value})
        return after

    def create_candidates(self, key: str, *, actor: str = "user") -> ActResult:
        """For a ``remove_unlicensed`` option: open removal candidates (justification
        ``unlicensed``) on the least-active counted seats, as many as the unit still lacks
        rights for, skipping protected seats and seats without fresh activity data."""
        option = self._actionable(key, Remediation.REMOVE_UNLICENSED, "create candidates")
        ws = self._ws
        now = ws.clock()
        result = ws.finance.reconcile()
        row = next(
            (
                r
                for r in result.profiles
                if r.software_model == option.software_model and r.profile == option.profile
            ),
            None,
        )
        want = 0 if row is None else max(0, row.rights_needed - row.open_candidates)
        created: list[int] = []
        skipped = 0
        if want:
            created, skipped = self._propose(option, want, now=now, actor=actor)
        if not want:
            status, note = RemediationStatus.COMPLETE, "no seat lacks a right any more"
        elif len(created) == want:
            status, note = RemediationStatus.COMPLETE, f"{len(created)} candidates created"
        else:
            status = RemediationStatus.COMPLETED_WITH_ERRORS
            note = (
                f"{len(created)} of {want} candidates created; {skipped} seats could not be "
                "proposed (protected, or no fresh activity data)"
            )
        self._store_status(option, status, actor=actor, detail=f"create candidates: {note}")
        return ActResult(
            option=option, status=status, candidates=tuple(created), skipped=skipped, note=note
        )

    def _propose(
        self, option: RemediationOption, want: int, *, now: dt.datetime, actor: str
    ) -> tuple[list[int], int]:
        ws = self._ws
        store = ws.store
        profile = store.get_profile(option.profile or "")
        if profile is None:
            return [], 0
        exclusions = store.list_exclusion_rules()
        rules = {r.software_model: r for r in store.list_reclamation_rules()}
        open_ids = {
            c.subscription_id for c in store.list_candidates(option.profile, states=OPEN_STATES)
        }
        seats = [
            s
            for s in store.query_subscriptions(option.profile, software_model=option.software_model)
            if s.id not in open_ids
            and first_exclusion(exclusions, s, profile.profile_type, reclaim=False) is None
        ]
        far_past = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        seats.sort(key=lambda s: (s.last_activity or far_past, s.id))  # least active first
        created: list[int] = []
        skipped = 0
        for sub in seats:
            if len(created) == want:
                break
            verdict = assess(
                sub,
                now=now,
                profile_type=profile.profile_type,
                exclusions=exclusions,
                rules=rules,
                integration_user_id=profile.integration_user_id,
                policy=ws.policy,
            )
            if verdict.verdict not in _PROPOSABLE:
                skipped += 1
                continue
            cand = ws.candidates.workflow.create(
                sub,
                None,
                actor=actor,
                justification=Justification.UNLICENSED,
                reason=f"unlicensed: {option.software_model} in {option.profile} lacks rights",
            )
            if cand.id is not None:
                created.append(cand.id)
        return created, skipped

    def record_purchase(
        self,
        key: str,
        *,
        rights: int | None = None,
        unit_cost: Decimal | str | int | None = None,
        currency: str | None = None,
        start: dt.date | str | None = None,
        period: str = "annually",
        actor: str = "user",
    ) -> ActResult:
        """For a ``purchase_rights`` option: add an entitlement draft for the rights it needs
        (starting tomorrow unless ``start`` says otherwise; priced at the model's current
        price unless given). Edit it as the contract says."""
        option = self._actionable(key, Remediation.PURCHASE_RIGHTS, "record a purchase")
        ws = self._ws
        cost = unit_cost
        if cost is None:
            price = ws.prices.unit_price(option.software_model, at=ws.clock())
            if price is None:
                raise ConfigError(
                    f"{option.software_model!r} has no price to copy",
                    field="remediation.unit_cost",
                    hint="give the unit cost (and currency) of the purchase",
                )
            cost, currency, period = price.amount, currency or price.currency, "annually"
        if currency is None:
            raise ConfigError(
                "a purchase needs a currency", field="remediation.currency", hint="e.g. USD"
            )
        day = start or local_date(ws.clock(), ws.policy.timezone) + dt.timedelta(days=1)
        ent = ws.finance.add_entitlement(
            option.software_model,
            purchased_rights=rights if rights is not None else option.rights,
            unit_cost=cost,
            currency=currency,
            start=day,
            period=period,
            profile=option.profile,
            name=f"purchase for {option.key}",
            actor=actor,
        )
        note = f"entitlement {ent.id} recorded ({ent.purchased_rights} rights from {ent.start})"
        status = RemediationStatus.COMPLETE
        self._store_status(option, status, actor=actor, detail=f"record purchase: {note}")
        return ActResult(option=option, status=status, entitlement_id=ent.id, note=note)
