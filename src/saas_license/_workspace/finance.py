"""Entitlements, reconciliation of seats against them, savings and the HTML report."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .._errors import ConfigError
from .._finance import from_store as _finance
from .._finance.entitlements import ENTITLEMENT_COLUMNS, Entitlement, EntitlementChecker, local_date
from .._finance.savings import SavingsSummary, summarize_savings
from .._store._finance import SavedReconciliation
from .._tables import Table
from ._change import changing

if TYPE_CHECKING:
    from .._finance.allocations import Allocation
    from .._finance.reconciliation import (
        ReclaimOpportunity,
        Reconciliation,
        UnlicensedSubscription,
    )
    from .._finance.showback import Showback
    from .facade import Workspace
    from .remediation import Remediations

__all__ = ["Finance"]


class Finance:
    """Entitlements, reconciliation of seats against them, savings and the HTML report (``ws.finance``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def add_entitlement(
        self,
        software_model: str,
        *,
        purchased_rights: int,
        unit_cost: Decimal | str | int,
        currency: str,
        start: dt.date | str,
        end: dt.date | str | None = None,
        period: str = "annually",
        profile: str | None = None,
        name: str = "",
        actor: str = "user",
    ) -> Entitlement:
        """Record rights bought for a software model (``profile`` None: for every profile)."""
        ent = Entitlement(
            software_model=software_model,
            purchased_rights=purchased_rights,
            unit_cost=unit_cost,
            currency=currency,
            start=start,
            end=end,
            period=period,
            profile=profile,
            name=name,
        )
        _finance.check_entitlement(self._ws.store, ent)
        with changing(self._ws, "entitlement.created", "entitlement", actor=actor) as change:
            saved = _finance.finance_store(self._ws.store).add_entitlements([ent])[0]
            change.done(saved.id, after=saved)
        return saved

    def entitlements(self, software_model: str | None = None) -> list[Entitlement]:
        """Entitlements, oldest first (their state follows their dates; see ``state_at``)."""
        return _finance.finance_store(self._ws.store).list_entitlements(software_model)

    def entitlement(self, entitlement_id: int) -> Entitlement:
        """One entitlement by id."""
        found = _finance.finance_store(self._ws.store).get_entitlement(entitlement_id)
        if found is None:
            raise ConfigError(f"no entitlement with id {entitlement_id}", field="entitlement.id")
        return found

    def edit_entitlement(self, entitlement_id: int, **changes: Any) -> Entitlement:
        """Change fields of an entitlement (same names as :meth:`add_entitlement`)."""
        before = self.entitlement(entitlement_id)
        unknown = set(changes) - {f.name for f in attrs.fields(Entitlement)} | (
            set(changes) & {"id"}
        )
        if unknown:
            raise ConfigError(f"cannot change {', '.join(sorted(unknown))}", field="entitlement")
        after = attrs.evolve(before, **changes)
        _finance.check_entitlement(self._ws.store, after)
        with changing(self._ws, "entitlement.updated", "entitlement", before=before) as change:
            _finance.finance_store(self._ws.store).update_entitlement(after)
            change.done(after.id, after=after)
        return after

    def retire_entitlement(
        self, entitlement_id: int, *, on: dt.date | str | None = None, actor: str = "user"
    ) -> Entitlement:
        """Retire an entitlement from ``on`` (default: today in the organisation's time zone)."""
        day = on if on is not None else local_date(self._ws.clock(), self._ws.policy.timezone)
        before = self.entitlement(entitlement_id)
        after = attrs.evolve(before, retired_on=day)
        with changing(
            self._ws, "entitlement.retired", "entitlement", before=before, actor=actor
        ) as change:
            _finance.finance_store(self._ws.store).update_entitlement(after)
            change.done(after.id, after=after)
        return after

    def import_entitlements(
        self,
        path: str | os.PathLike[str],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> list[Entitlement]:
        """Import entitlements from a CSV file: all rows, or none when any row is bad.

        Raises :class:`~saas_license._finance.csv_import.CsvImportError` naming each bad line.
        ``progress(rows_read)`` is called as the file is read. Time is linear in the rows.
        """
        checker = EntitlementChecker(
            models=(m.name for m in self._ws.store.list_software_models()),
            profiles=(p.name for p in self._ws.store.list_profiles()),
            existing=_finance.finance_store(self._ws.store).list_entitlements(),
        )
        from .._finance.csv_import import read_entitlements_csv

        rows = read_entitlements_csv(Path(path), check=checker, progress=progress)
        with self._ws.store.transaction():
            saved = _finance.finance_store(self._ws.store).add_entitlements(rows)
            for ent in saved:  # one audit entry per entitlement, all in the import's transaction
                with changing(
                    self._ws, "entitlement.imported", "entitlement", detail=str(path)
                ) as change:
                    change.done(ent.id, after=ent)
        return saved

    def entitlements_table(self) -> Table:
        """All entitlements as a table, each with its state as of now."""
        now = self._ws.clock()
        return Table.from_dicts(
            "entitlements",
            ENTITLEMENT_COLUMNS,
            [e.to_row(at=now, timezone=self._ws.policy.timezone) for e in self.entitlements()],
            title="Entitlements",
            as_of=now,
        )

    def reconcile(
        self,
        *,
        save: bool = False,
        opportunity_limit: int | None = _finance.DEFAULT_OPPORTUNITY_LIMIT,
        unlicensed_limit: int | None = _finance.DEFAULT_UNLICENSED_LIMIT,
    ) -> Reconciliation:
        """Reconcile seats against entitlements now; ``save`` keeps the result in the workspace,
        with each remediation option's status and each seat's reconciled/unlicensed flags.

        Every open candidate on a counted seat is counted (``opportunity_count``, and per row);
        ``opportunities`` lists the idlest ``opportunity_limit`` of them (None: all, which holds
        one record per candidate). Page through the rest with :meth:`opportunities`. Likewise
        every unlicensed seat is counted (``unlicensed_count``) and ``unlicensed`` lists the
        first ``unlicensed_limit`` of them (None: all); page with :meth:`unlicensed`.
        """
        from .._finance.remediation import merge_statuses, with_statuses

        if opportunity_limit is not None and opportunity_limit < 0:
            raise ConfigError("must be 0 or more", field="opportunity_limit")
        if unlicensed_limit is not None and unlicensed_limit < 0:
            raise ConfigError("must be 0 or more", field="unlicensed_limit")
        fin = _finance.finance_store(self._ws.store)
        result = _finance.reconcile_store(
            self._ws.store,
            now=self._ws.clock(),
            timezone=self._ws.policy.timezone,
            opportunity_limit=opportunity_limit,
            unlicensed_limit=unlicensed_limit,
        )
        stored = fin.list_remediation()
        if not save:
            return attrs.evolve(result, remediation=with_statuses(result.remediation, stored))
        options, rows = merge_statuses(result.remediation, stored, now=result.as_of)
        result = attrs.evolve(result, remediation=options)
        with self._ws.store.transaction():
            saved_id = fin.save_reconciliation(result.as_of, result.to_json_data())
            fin.save_remediation(rows)
            record = getattr(fin, "record_seat_status", None)
            if record is not None:
                from .._finance.reconciliation import unlicensed_units

                profiles = self._ws.store.list_profiles()
                record(  # set-based: each unit's unlicensed seats are chosen in SQL
                    exclusions=self._ws.store.list_exclusion_rules(),
                    profile_types={p.name: p.profile_type for p in profiles},
                    models=[r.software_model for r in result.models],
                    unlicensed_units=[u[:4] for u in unlicensed_units(result)],
                    reconciliation_id=saved_id,
                    groups=_finance.group_allocations(
                        self._ws.store, now=result.as_of, timezone=self._ws.policy.timezone
                    ),
                )
        return result

    def unlicensed(
        self, *, limit: int = 100, after: UnlicensedSubscription | None = None
    ) -> list[UnlicensedSubscription]:
        """One page of the reconciliation's unlicensed seats (counted seats no right covers):
        ``limit`` of them after ``after``, the last seat of the previous page (or of
        ``reconcile().unlicensed``).

        The order: software model, then profile; within one, the seats a right would cover
        last: seats outside any group allocation first, then the newest (first seen latest,
        then the highest seat id). Each call counts the reconciliation again (aggregates) and
        reads only its page, so memory does not grow with the number of seats.
        """
        if limit < 1:
            raise ConfigError("must be 1 or more", field="limit")
        return list(
            _finance.unlicensed_store(
                self._ws.store,
                now=self._ws.clock(),
                timezone=self._ws.policy.timezone,
                limit=limit,
                after=after,
            )
        )

    def iter_unlicensed(
        self, *, page_size: int = 20_000, after: UnlicensedSubscription | None = None
    ) -> Iterator[UnlicensedSubscription]:
        """Every unlicensed seat (after ``after``) in :meth:`unlicensed`'s order: the
        reconciliation counted once, the seats read ``page_size`` at a time (each page is one
        pass over a unit's seats: large pages, few passes)."""
        if page_size < 1:
            raise ConfigError("must be 1 or more", field="page_size")
        return _finance.unlicensed_store(
            self._ws.store,
            now=self._ws.clock(),
            timezone=self._ws.policy.timezone,
            limit=None,
            after=after,
            page_size=page_size,
        )

    def opportunities(
        self, *, limit: int = 100, after: ReclaimOpportunity | None = None
    ) -> list[ReclaimOpportunity]:
        """One page of the reconciliation's opportunities (open removal candidates on counted
        seats, with their yearly savings), idlest first: ``limit`` of them after ``after``, the
        last opportunity of the previous page (or of ``reconcile().opportunities``).

        The order: never-active seats, then the oldest last activity, then profile, user,
        software model and candidate id. Each page is one query that keeps only its rows, so
        memory does not grow with the number of candidates.
        """
        if limit < 1:
            raise ConfigError("must be 1 or more", field="limit")
        return _finance.opportunities_store(
            self._ws.store,
            now=self._ws.clock(),
            timezone=self._ws.policy.timezone,
            limit=limit,
            after=after,
        )

    def iter_opportunities(
        self, *, page_size: int = 1000, after: ReclaimOpportunity | None = None
    ) -> Iterator[ReclaimOpportunity]:
        """Every opportunity (after ``after``), idlest first, read ``page_size`` at a time."""
        while True:
            page = self.opportunities(limit=page_size, after=after)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1]

    # -- allocations, products, remediation (issue 16) ------------------------------------------

    def allocate(
        self,
        entitlement_id: int,
        rights: int,
        *,
        profile: str | None = None,
        users: list[str] | tuple[str, ...] | str = (),
        department: str | None = None,
        name: str = "",
        actor: str = "user",
    ) -> Allocation:
        """Set ``rights`` of a company-wide entitlement aside for a profile or a group of users
        (principal names or ``*``/``?`` patterns); they cover that target's seats first."""
        from .._finance.allocations import Allocation

        alloc = Allocation(
            entitlement_id=entitlement_id,
            rights=rights,
            profile=profile,
            users=users,
            department=department,
            name=name,
        )
        ent = self.entitlement(entitlement_id)
        if ent.profile is not None:
            raise ConfigError(
                f"entitlement {entitlement_id} is already scoped to profile {ent.profile!r}",
                field="allocation.entitlement_id",
                hint="allocate rights of a company-wide entitlement (no profile)",
            )
        if alloc.department:
            raise ConfigError(
                "allocating to a department needs a user directory",
                field="allocation.department",
                hint="allocate to a profile or a list of users instead",
            )
        if alloc.profile and self._ws.store.get_profile(alloc.profile) is None:
            raise ConfigError(f"no profile named {alloc.profile!r}", field="allocation.profile")
        fin = _finance.finance_store(self._ws.store)
        taken = sum(a.rights for a in fin.list_allocations() if a.entitlement_id == ent.id)
        if taken + alloc.rights > ent.purchased_rights:
            raise ConfigError(
                f"entitlement {entitlement_id} has {ent.purchased_rights - taken} rights left "
                f"to allocate, not {alloc.rights}",
                field="allocation.rights",
                hint="allocate fewer rights, or remove another allocation first",
            )
        with changing(self._ws, "allocation.created", "allocation", actor=actor) as change:
            saved = fin.add_allocation(alloc)
            change.done(saved.id, after=saved)
        return saved

    def allocations(self) -> list[Allocation]:
        """Every allocation, oldest first."""
        return _finance.finance_store(self._ws.store).list_allocations()

    def remove_allocation(self, allocation_id: int, *, actor: str = "user") -> None:
        """Give an allocation's rights back to the company-wide pool."""
        fin = _finance.finance_store(self._ws.store)
        before = next((a for a in fin.list_allocations() if a.id == allocation_id), None)
        if before is None:
            raise ConfigError(f"no allocation with id {allocation_id}", field="allocation.id")
        with changing(
            self._ws, "allocation.removed", "allocation", before=before, actor=actor
        ) as change:
            fin.delete_allocation(allocation_id)
            change.done(allocation_id)

    def set_product(self, software_model: str, product: str | None, *, actor: str = "user") -> None:
        """Name the product a software model belongs to (None: its publisher again)."""
        if software_model not in {m.name for m in self._ws.store.list_software_models()}:
            raise ConfigError(
                f"no software model named {software_model!r}", field="product.software_model"
            )
        with changing(self._ws, "product.set", "software_model", actor=actor) as change:
            _finance.finance_store(self._ws.store).set_product(software_model, product)
            change.done(software_model, after={"product": product})

    @property
    def remediation(self) -> Remediations:
        """Stored remediation options with their statuses, and the actions on them."""
        from .remediation import Remediations

        return Remediations(self._ws)

    def reconcile_if_due(self, every: dt.timedelta = dt.timedelta(days=7)) -> Reconciliation | None:
        """Reconcile and save, unless a saved result is younger than ``every`` (then None).

        Call it from cron or a scheduler as often as you like; it reconciles on its own cadence.
        """
        last = self.reconciliations(limit=1)
        if last and self._ws.clock() - last[0].as_of < every:
            return None
        return self.reconcile(save=True)

    def showback(self, by: str = "department") -> Showback:
        """Counted seats, idle seats and their yearly cost broken down by the directory's
        ``"department"`` or ``"cost_center"``; seats of users not in the directory are the
        row ``"(not in directory)"`` (see docs/directory.md)."""
        return _finance.showback_store(
            self._ws.store,
            by=by,
            prices=self._ws.prices,
            now=self._ws.clock(),
            timezone=self._ws.policy.timezone,
        )

    def reconciliations(self, *, limit: int = 20) -> list[SavedReconciliation]:
        """Saved reconciliation results, newest first."""
        return _finance.finance_store(self._ws.store).list_reconciliations(limit=limit)

    def report_html(self, result: Reconciliation | None = None) -> str:
        """The self-contained HTML report (charts and tables) of ``result`` or of a fresh run."""
        from ..reports import render_html

        return render_html(
            result if result is not None else self.reconcile(),
            audit=self._ws.audit.verify(),
            showback=self.showbacks(),
        )

    def showbacks(self) -> list[Showback]:
        """The showback by department and by cost centre when a directory is loaded, else none
        (what the HTML report shows)."""
        from .._finance.showback import SHOWBACK_DIMENSIONS

        if self._ws.store.directory_source() is None:
            return []
        return [self.showback(by) for by in SHOWBACK_DIMENSIONS]

    def savings(
        self, profile: str | None = None, *, since: dt.datetime | None = None
    ) -> SavingsSummary:
        """Potential savings of open candidates and actual savings of reclaimed seats
        (candidates streamed a page at a time where the store can: memory stays flat)."""
        store = self._ws.store
        stream = getattr(store, "iter_candidates", None)
        return summarize_savings(
            stream(profile) if stream is not None else store.list_candidates(profile),
            self._ws.prices,
            now=self._ws.clock(),
            since=since,
        )
