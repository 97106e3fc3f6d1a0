"""Seats as stored, software models and the identifiers that map to them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs

from .._boundary import QuarantinedRecord
from .._directory.facts import directory_of, with_person
from .._errors import ConfigError
from .._models import SoftwareModel, UnrecognizedIdentifier
from .._rules import ReclamationRule, exclusion_effects
from .._store._finance import keeps_entitlements
from .._subscriptions import Subscription, SubscriptionRow
from .._time import days_between
from ._change import changing

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["Subscriptions"]


class Subscriptions:
    """Seats as stored, software models and the identifiers that map to them (``ws.subscriptions``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def query(self, profile: str | None = None, *, active_only: bool = True) -> list[Subscription]:
        """Stored subscriptions (use ``store.iter_subscriptions`` to stream large sets)."""
        return list(self._ws.store.iter_subscriptions(profile, active_only=active_only))

    def rows(
        self,
        profile: str | None = None,
        *,
        software_model: str | None = None,
        inactive_days: int | None = None,
        excluded: bool | None = None,
        active_only: bool = True,
    ) -> Iterator[SubscriptionRow]:
        """Stream seats with their inactive days and exclusions, filtered: by profile, software
        model, at least ``inactive_days`` days inactive, and excluded (True) or not (False).

        Rows come page by page from the store, so a million seats never sit in memory at once.
        Days are counted in the policy's time zone, as evaluation counts them.
        """
        if profile is not None:
            self._ws.profiles.get(profile)  # an unknown profile is an error, not an empty list
        if software_model is not None:
            known = sorted(m.name for m in self._ws.store.list_software_models())
            if software_model not in known:
                raise ConfigError(
                    f"no software model named {software_model!r}",
                    field="software_model",
                    hint="use one of " + (", ".join(known) or "(none yet: run a profile first)"),
                )
        if inactive_days is not None and (
            isinstance(inactive_days, bool)
            or not isinstance(inactive_days, int)
            or inactive_days < 0
        ):
            raise ConfigError(
                f"{inactive_days!r} is not a number of days",
                field="inactive_days",
                hint="use a whole number of days, 0 or more",
            )
        now = self._ws.clock()
        tz = self._ws.policy.timezone
        rules = [r for r in self._ws.store.list_exclusion_rules() if r.active]
        types = {p.name: p.profile_type for p in self._ws.store.list_profiles()}
        # a superset in SQL (a seat N calendar days idle was last active before now - (N-1)
        # days); the exact count, in the policy's zone, below
        before = (
            now - dt.timedelta(days=inactive_days - 1)
            if inactive_days is not None and inactive_days > 1
            else None
        )
        people = directory_of(self._ws.store) if rules else None
        from .._store._sqlite.subscriptions import (
            BATCH_SIZE,
        )  # one look-up per page the store reads

        page: list[SubscriptionRow] = []
        for sub in self._ws.store.query_subscriptions(
            profile, software_model=software_model, inactive_before=before, active_only=active_only
        ):
            days = _inactive_days(sub, now, tz)
            if inactive_days is not None and (days is None or days < inactive_days):
                continue
            seat = (
                sub if people is None else with_person(sub, people.lookup(sub.user_principal_name))
            )
            effects = (
                exclusion_effects(rules, seat, types.get(sub.profile)) if rules else frozenset()
            )
            if excluded is not None and bool(effects) is not excluded:
                continue
            page.append(
                SubscriptionRow(
                    subscription=sub, inactive_days=days, excluded_from=tuple(sorted(effects))
                )
            )
            if len(page) == BATCH_SIZE:
                yield from self._with_status(page)
                page = []
        yield from self._with_status(page)

    def _with_status(self, page: list[SubscriptionRow]) -> list[SubscriptionRow]:
        """The rows with the last saved reconciliation's flags (one query per page)."""
        if not page or not keeps_entitlements(self._ws.store):
            return page
        status = self._ws.store.seat_status(r.subscription.id for r in page)
        out = []
        for row in page:
            got = status.get(row.subscription.id)
            out.append(
                row
                if got is None
                else attrs.evolve(row, reconciled=got.reconciled, unlicensed=got.unlicensed)
            )
        return out

    def quarantined(
        self, profile: str | None = None, *, limit: int = 100
    ) -> list[QuarantinedRecord]:
        """Spoke records the core refused at its boundary, newest first (shown by ``jobs``)."""
        return self._ws.store.list_quarantined(profile, limit=limit)

    def models(self) -> list[SoftwareModel]:
        """All software models."""
        return self._ws.store.list_software_models()

    def add_model(
        self, name: str, *, publisher: str, paid: bool = True, actor: str = "user"
    ) -> SoftwareModel:
        """Create a software model (a paid one gets the default reclamation rule)."""
        if not name.strip() or not publisher.strip():
            raise ConfigError("name and publisher must not be empty", field="software_model")
        model = SoftwareModel(
            name=name, publisher=publisher, paid=paid, created_at=self._ws.clock()
        )
        with changing(self._ws, "software_model.created", "software_model", actor=actor) as change:
            if not self._ws.store.ensure_software_model(model):
                raise ConfigError(f"a software model named {name!r} exists", field="software_model")
            if paid and self._ws.store.get_reclamation_rule(name) is None:
                self._ws.store.save_reclamation_rule(ReclamationRule(software_model=name))
            change.done(name, after={"publisher": publisher, "paid": paid})
        return model

    def unrecognized(self) -> list[UnrecognizedIdentifier]:
        """Identifiers on active seats that map to no software model, with subscription counts."""
        return [
            UnrecognizedIdentifier(
                identifier=ident, subscriptions=sum(per.values()), profiles=dict(per)
            )
            for ident, per in self._ws.store.unrecognized_identifiers().items()
        ]

    def map_identifier(self, identifier: str, software_model: str, *, actor: str = "user") -> int:
        """Map an identifier to a model; every subscription carrying it is re-pointed. Returns
        how many were."""
        before = self._ws.store.identifier_map().get(identifier)
        with changing(
            self._ws,
            "identifier.mapped",
            "identifier",
            before={"software_model": before},
            actor=actor,
        ) as change:
            count = self._ws.store.map_identifier(identifier, software_model)
            change.done(
                identifier, after={"software_model": software_model, "subscriptions": count}
            )
        return count


def _inactive_days(sub: Subscription, now: dt.datetime, tz: str) -> int | None:
    """Days since the seat's last activity (since it was created or assigned when it was never
    used); None when the vendor did not say, or nothing dates a never-used seat."""
    if "last_activity" in sub.unknown:
        return None
    reference = sub.last_activity or max(
        (d for d in (sub.external_created, sub.assigned_at) if d is not None), default=None
    )
    return None if reference is None else days_between(reference, now, tz)
