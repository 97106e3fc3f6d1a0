"""The storage contract the core depends on, one role protocol per area; SQLite is the embedded implementation."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from .._audit import AuditEntry, AuditVerification
from .._boundary import QuarantinedRecord
from .._candidates.records import CandidateState, RemovalCandidate
from .._jobs import JobResult, RunLock, ScheduledJob
from .._models import SoftwareModel
from .._notify import DeliveryStatus, Notification
from .._profiles import ConnectionAlias, IntegrationProfile
from .._reclaim.records import ReclaimAction, ReclaimPlan
from .._rules import ExclusionRule, ReclamationRule
from .._subscriptions import ActivityRecord, Subscription, SubscriptionRecord

__all__ = [
    "AuditStore",
    "BaseStore",
    "CandidateStore",
    "JobStore",
    "LinkStore",
    "OutboxStore",
    "PlanStore",
    "ProfileStore",
    "QuarantineStore",
    "RuleStore",
    "StagedDownload",
    "Store",
    "SubscriptionStore",
]


class StagedDownload(Protocol):
    """A download staged outside the workspace's write lock and swapped in by short batches."""

    identifiers: set[str]
    staged: int

    def add(self, records: Iterable[SubscriptionRecord]) -> int: ...
    def merge(self, *, now: dt.datetime) -> int: ...
    def close_unseen(self) -> list[int]: ...


@runtime_checkable
class BaseStore(Protocol):
    """The store itself: atomic transactions, closing, a few metadata values."""

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...
    def close(self) -> None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...


@runtime_checkable
class ProfileStore(Protocol):
    """Connection aliases and integration profiles."""

    def save_alias(self, alias: ConnectionAlias) -> None: ...
    def get_alias(self, name: str) -> ConnectionAlias | None: ...
    def list_aliases(self) -> list[ConnectionAlias]: ...
    def delete_alias(self, name: str) -> bool: ...
    def save_profile(self, profile: IntegrationProfile) -> None: ...
    def get_profile(self, name: str) -> IntegrationProfile | None: ...
    def list_profiles(self) -> list[IntegrationProfile]: ...
    def delete_profile(self, name: str) -> None: ...


@runtime_checkable
class SubscriptionStore(Protocol):
    """Seats, software models and identifier mappings, the staged download, activity."""

    def ensure_software_model(self, model: SoftwareModel) -> bool: ...
    def list_software_models(self) -> list[SoftwareModel]: ...
    def map_identifier(self, identifier: str, software_model: str) -> int: ...
    def identifier_map(self) -> dict[str, str]: ...
    def unmapped_identifiers(self, profile: str | None = None) -> dict[str, int]: ...
    def unrecognized_identifiers(self) -> dict[str, dict[str, int]]: ...
    def upsert_subscriptions(
        self, profile: str, records: Iterable[SubscriptionRecord], *, run_id: str, now: dt.datetime
    ) -> int: ...
    def count_created(self, profile: str, run_id: str) -> int: ...
    def close_unseen(self, profile: str, *, run_id: str, fence: str | None = None) -> list[int]: ...
    def deactivate_subscription(self, subscription_id: int) -> None: ...
    def reactivate_subscription(self, subscription_id: int) -> None: ...
    def stamp_activity_checked(self, profile: str, *, run_id: str, now: dt.datetime) -> int: ...
    def apply_activity(
        self, profile: str, records: Iterable[ActivityRecord], *, now: dt.datetime
    ) -> tuple[int, int]: ...
    def iter_subscriptions(
        self, profile: str | None = None, *, active_only: bool = True
    ) -> Iterator[Subscription]: ...
    def query_subscriptions(
        self,
        profile: str | None = None,
        *,
        software_model: str | None = None,
        inactive_before: dt.datetime | None = None,
        active_only: bool = True,
    ) -> Iterator[Subscription]: ...
    def get_subscription(self, subscription_id: int) -> Subscription | None: ...
    def user_subscriptions(self, profile: str, external_user_id: str) -> list[Subscription]: ...
    def count_subscriptions(
        self, profile: str | None = None, *, by: str | None = None
    ) -> dict[str, int]: ...
    def stage_download(
        self, profile: str, *, run_id: str, fence: str | None = None
    ) -> contextlib.AbstractContextManager[StagedDownload]: ...
    def mark_seen(self, profile: str, keys: Iterable[tuple[str, str]], *, run_id: str) -> None: ...


@runtime_checkable
class QuarantineStore(Protocol):
    """Spoke records the core refused at its boundary (safety)."""

    def add_quarantined(self, records: Iterable[QuarantinedRecord]) -> int: ...
    def list_quarantined(
        self, profile: str | None = None, *, run_id: str | None = None, limit: int = 100
    ) -> list[QuarantinedRecord]: ...


@runtime_checkable
class RuleStore(Protocol):
    """Exclusion and reclamation rules."""

    def add_exclusion_rule(self, rule: ExclusionRule) -> ExclusionRule: ...
    def list_exclusion_rules(self) -> list[ExclusionRule]: ...
    def delete_exclusion_rule(self, rule_id: int) -> bool: ...
    def get_exclusion_rule(self, rule_id: int) -> ExclusionRule | None: ...
    def update_exclusion_rule(self, rule: ExclusionRule) -> ExclusionRule: ...
    def save_reclamation_rule(self, rule: ReclamationRule) -> ReclamationRule: ...
    def get_reclamation_rule(self, software_model: str) -> ReclamationRule | None: ...
    def list_reclamation_rules(self) -> list[ReclamationRule]: ...


@runtime_checkable
class CandidateStore(Protocol):
    """Removal candidates and the cooldowns they leave behind."""

    def add_candidate(self, candidate: RemovalCandidate) -> RemovalCandidate: ...
    def update_candidate(self, candidate: RemovalCandidate) -> None: ...
    def get_candidate(self, candidate_id: int) -> RemovalCandidate | None: ...
    def list_candidates(
        self,
        profile: str | None = None,
        *,
        states: Iterable[CandidateState] | None = None,
        ids: Iterable[int] | None = None,
        subscription_ids: Iterable[int] | None = None,
        limit: int | None = None,
        after: int | None = None,
    ) -> list[RemovalCandidate]: ...
    def cooldowns(self, profile: str, *, now: dt.datetime) -> dict[int, dt.datetime]: ...


@runtime_checkable
class JobStore(Protocol):
    """Job results, schedules and the per-profile run lock (with takeover and heartbeats)."""

    def save_job(self, job: JobResult) -> JobResult: ...
    def list_jobs(self, profile: str | None = None, *, limit: int = 100) -> list[JobResult]: ...
    def abandon_running_jobs(self, profile: str, *, now: dt.datetime, reason: str) -> int: ...
    def save_schedule(self, job: ScheduledJob) -> None: ...
    def list_schedules(self, profile: str | None = None) -> list[ScheduledJob]: ...
    def delete_schedules(self, profile: str, process: str | None = None) -> int: ...
    def get_run_lock(self, profile: str) -> RunLock | None: ...
    def acquire_run_lock(self, lock: RunLock, *, now: dt.datetime) -> RunLock | None: ...
    def release_run_lock(self, profile: str, owner: str) -> bool: ...
    def break_run_lock(self, profile: str) -> bool: ...
    def take_over_run_lock(self, lock: RunLock, *, expected: RunLock) -> bool: ...
    def heartbeat_run_lock(
        self, profile: str, owner: str, *, at: dt.datetime, expires_at: dt.datetime
    ) -> bool: ...
    def holds_run_lock(self, profile: str, owner: str) -> bool: ...


@runtime_checkable
class AuditStore(Protocol):
    """The append-only audit log and the check of its hash chains (integrity)."""

    def append_audit(self, entry: AuditEntry) -> AuditEntry: ...
    def list_audit(
        self,
        *,
        profile: str | None = None,
        entity: str | None = None,
        limit: int = 1000,
        entity_id: str | None = None,
        action: str | None = None,
        since: dt.datetime | None = None,
        last: bool = False,
    ) -> list[AuditEntry]: ...
    def verify_audit(self) -> AuditVerification: ...


@runtime_checkable
class PlanStore(Protocol):
    """Reclaim plans and the reclaim actions taken from them."""

    def save_plan(self, plan: ReclaimPlan) -> None: ...
    def get_plan(self, plan_id: str) -> tuple[ReclaimPlan, dt.datetime | None] | None: ...
    def mark_plan_applied(self, plan_id: str, at: dt.datetime) -> bool: ...
    def add_reclaim_action(self, action: ReclaimAction) -> ReclaimAction: ...
    def update_reclaim_action(self, action: ReclaimAction) -> None: ...
    def get_reclaim_action(self, action_id: int) -> ReclaimAction | None: ...
    def list_reclaim_actions(
        self, profile: str | None = None, *, limit: int = 1000
    ) -> list[ReclaimAction]: ...
    def unresolved_reclaim_actions(self, profile: str) -> list[ReclaimAction]: ...


@runtime_checkable
class OutboxStore(Protocol):
    """Notifications waiting for (or done with) a notifier."""

    def add_notification(self, notification: Notification) -> Notification: ...
    def update_notification(self, notification: Notification) -> None: ...
    def get_notification(self, notification_id: int) -> Notification | None: ...
    def list_notifications(
        self,
        *,
        status: DeliveryStatus | None = None,
        profile: str | None = None,
        limit: int = 1000,
    ) -> list[Notification]: ...


@runtime_checkable
class LinkStore(Protocol):
    """Answer links already used (a link works once)."""

    def spend_link(
        self,
        nonce: str,
        *,
        candidate_id: int,
        recipient: str,
        role: str,
        choice: str,
        at: dt.datetime,
    ) -> bool: ...
    def link_spent(self, nonce: str) -> bool: ...


@runtime_checkable
class Store(
    BaseStore,
    ProfileStore,
    SubscriptionStore,
    QuarantineStore,
    RuleStore,
    CandidateStore,
    JobStore,
    AuditStore,
    PlanStore,
    OutboxStore,
    LinkStore,
    Protocol,
):
    """Everything the core reads and writes: the sum of the role protocols above (finance is
    :class:`~saas_license._store._finance.FinanceStore`, optional). A second store (PostgreSQL,
    later) implements each role; :meth:`BaseStore.transaction` must be atomic across all of them.
    The SQLite store implements each role as one part (``_sqlite/<role>.py``, listed in
    ``_sqlite.PARTS``); ``tests/test_store_roles.py`` checks a part against its protocol."""
