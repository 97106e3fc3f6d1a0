"""The Python API: a workspace is one store, its secrets, and the installed spokes."""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import secrets
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from . import _finance
from ._convert import converter
from ._plugins import Spoke, SpokeRegistry
from ._time import utcnow
from .apply import (
    ApplyReport,
    ReconcileReport,
    UndoResult,
    apply_plan,
    reconcile_reclaims,
    undo_reclaim,
)
from .audit import AuditEntry, AuditVerification
from .boundary import QuarantinedRecord
from .candidates import OPEN_STATES, CandidateState, Justification, RemovalCandidate, UserResponse
from .entitlements import ENTITLEMENT_COLUMNS, Entitlement, EntitlementChecker, local_date
from .entitlements_csv import read_entitlements_csv
from .errors import ConfigError, ProfileStateError, RunInProgressError, SaasLicenseError
from .evaluation import EvaluationPolicy
from .http import (
    DEFAULT_REDIRECT_URI,
    AuthorizationCodeFlow,
    HttpOptions,
    OAuth2App,
    OAuth2Token,
    SecretTokenStore,
    TokenStore,
)
from .jobs import JobResult, JobStatus, ScheduledJob
from .lifecycle import CandidateEvent
from .models import UnrecognizedIdentifier
from .notify import DeliveryStatus, Notification, NotifierRegistry, deliver_pending
from .pipeline import ProgressCallback, RunReport, ScheduledRun, build_plan, run_profile
from .pricing import PriceBook
from .profiles import (
    ConnectionAlias,
    IntegrationProfile,
    Processes,
    ProfileStatus,
    check_options,
)
from .reclaim import ReclaimAction, ReclaimPlan
from .reconciliation import Reconciliation
from .rule_impact import BigChangeError, may_add_candidates, rule_impact
from .rules import ExclusionRule, ReclamationRule, RuleSet, load_rule_set, structure_rule
from .savings import SavingsSummary, summarize_savings
from .scheduling import due_profiles, run_lock, schedule_profile
from .secrets import Secret, SecretStore
from .spokes import SpokeContext, ValidationReport
from .store import SqliteStore, Store
from .store._finance import SavedReconciliation
from .subscriptions import SoftwareModel, Subscription
from .tables import Table
from .workflow import CandidateWorkflow

__all__ = ["ENV_WORKSPACE", "Workspace", "check_workspace_path", "default_workspace_path"]

ENV_WORKSPACE = "SAAS_LICENSE_WORKSPACE"


def default_workspace_path() -> Path:
    """``$SAAS_LICENSE_WORKSPACE``, else ``$XDG_DATA_HOME/saas-license/workspace.db``
    (``~/.local/share/saas-license/workspace.db``)."""
    env = os.environ.get(ENV_WORKSPACE)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "saas-license" / "workspace.db"


_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/")  # "://", or ":/" once a Path ate a slash


def check_workspace_path(path: str | os.PathLike[str], *, create: bool) -> None:
    """Refuse a workspace path that cannot be one: a URL scheme no installed store supports,
    something that is not a regular file (``/dev/null``, a directory), or — unless ``create`` —
    a file that does not exist (with a "did you mean" from its directory)."""
    text = os.fspath(path)
    if text == ":memory:":
        return
    scheme = _URL.match(text)
    if scheme and scheme.group(1).lower() == "sqlite":
        raise ConfigError(
            f"{text!r} is a URL; a SQLite workspace is given by its file path",
            field="workspace",
            hint="drop the sqlite:// prefix, e.g. --workspace ~/licenses.db",
        )
    if scheme:
        raise ConfigError(
            f"{scheme.group(1)!r} workspaces are not supported by the installed stores",
            field="workspace",
            hint="give the path of a SQLite workspace file (the only store installed)",
        )
    target = Path(text).expanduser()
    if target.exists() and not target.is_file():
        kind = "a directory" if target.is_dir() else "not a regular file"
        raise ConfigError(
            f"{text} is {kind}, not a workspace file",
            field="workspace",
            hint="give the path of a workspace database file, e.g. ~/licenses.db",
        )
    if not create and not target.exists():
        raise ConfigError(
            f"no workspace at {text}",
            field="workspace",
            hint=_did_you_mean(target),
        )


def _did_you_mean(target: Path) -> str:
    create = "create it with --create (or `saas-license demo`, `alias add`, `profile create`)"
    folder = target.parent
    if not folder.is_dir():
        return f"the directory {folder} does not exist; check the path, or {create}"
    try:
        names = [p.name for p in folder.iterdir() if p.is_file() and p.suffix in {".db", ".sqlite"}]
    except OSError:
        names = []
    close = difflib.get_close_matches(target.name, names, n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(str(folder / n) for n in close) + f"? Or {create}"
    default = default_workspace_path()
    if default.exists() and default != target:
        return f"did you mean the default workspace {default}? Or {create}"
    return f"check the path, or {create}"


class Workspace:
    """One workspace: open it, add profiles, validate, publish, run, and query what it found.

    >>> ws = Workspace.open(":memory:")  # doctest: +SKIP
    """

    def __init__(
        self,
        store: Store,
        *,
        secrets: SecretStore,
        spokes: SpokeRegistry | None = None,
        http: HttpOptions | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        policy: EvaluationPolicy | None = None,
        path: Path | None = None,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.spokes = spokes if spokes is not None else SpokeRegistry()
        self.http = http or HttpOptions()
        self.clock = clock
        self.policy = policy or EvaluationPolicy()
        self.path = path
        self.prices: PriceBook = _finance.price_book_for(store, self.policy.timezone)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        spokes: SpokeRegistry | None = None,
        http: HttpOptions | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        policy: EvaluationPolicy | None = None,
        create: bool = True,
    ) -> Workspace:
        """Open (creating if needed) the workspace at ``path`` (default: :func:`default_workspace_path`).

        With ``create=False`` a missing workspace is an error that suggests similar paths, so a
        mistyped path never silently starts an empty workspace. A URL (``postgresql://…``) is
        refused unless an installed store supports its scheme.
        Secrets live beside the database in ``<name>.secrets.json``, readable only by the owner.
        """
        target = default_workspace_path() if path is None else Path(path)
        check_workspace_path(target, create=create)
        if str(target) == ":memory:":
            import tempfile

            secrets_path = Path(tempfile.mkdtemp(prefix="saas-license-")) / "secrets.json"
            store: Store = SqliteStore(":memory:")
            resolved = None
        else:
            resolved = target.expanduser().resolve()
            store = SqliteStore(resolved)
            secrets_path = resolved.with_name(resolved.name + ".secrets.json")
        return cls(
            store,
            secrets=SecretStore(secrets_path),
            spokes=spokes,
            http=http,
            clock=clock,
            policy=policy,
            path=resolved,
        )

    def __repr__(self) -> str:
        return f"Workspace(path={str(self.path) if self.path else ':memory:'!r})"

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    # -- connection aliases and profiles ----------------------------------------------------

    def add_alias(
        self,
        name: str,
        *,
        spoke: str,
        base_url: str,
        api_key: str | Secret | None = None,
        parent: str | None = None,
    ) -> ConnectionAlias:
        """Create or update a connection alias; an ``api_key`` goes to the secret store, never the DB."""
        self.spokes.get(spoke)
        if parent is not None and self.store.get_alias(parent) is None:
            raise ConfigError(f"no parent alias named {parent!r}", field="alias.parent")
        alias = ConnectionAlias(
            name=name, spoke=spoke, base_url=base_url.rstrip("/"), parent=parent
        )
        self.store.save_alias(alias)
        if api_key is not None:
            self.secrets.set(
                alias.secret_key("api_key"),
                api_key if isinstance(api_key, Secret) else Secret(api_key),
            )
        return alias

    def create_profile(
        self,
        name: str,
        *,
        spoke: str,
        alias: str,
        display_name: str | None = None,
        processes: Processes | None = None,
        activity_look_back_days: int = 60,
    ) -> IntegrationProfile:
        """Create a profile in ``draft``; validate and publish it before it runs."""
        info = self.spokes.get(spoke).info()
        found = self.store.get_alias(alias)
        if found is None:
            raise ConfigError(
                f"no connection alias named {alias!r}",
                field="profile.connection_alias",
                hint="create it first with add_alias / `saas-license alias add`",
            )
        if found.spoke != spoke:
            raise ConfigError(
                f"alias {alias!r} belongs to spoke {found.spoke!r}, not {spoke!r}",
                field="profile.connection_alias",
            )
        if self.store.get_profile(name) is not None:
            raise ConfigError(f"a profile named {name!r} already exists", field="profile.name")
        profile = IntegrationProfile(
            name=name,
            display_name=display_name or f"{info.display_name} ({name})",
            spoke=spoke,
            profile_type=info.profile_type,
            connection_alias=alias,
            processes=processes or Processes(),
            activity_look_back_days=activity_look_back_days,
            created_at=self.clock(),
        )
        self.store.save_profile(profile)
        self._audit(
            "profile.created", "profile", name, None, {"status": profile.status.value}, profile=name
        )
        return profile

    def profile(self, name: str) -> IntegrationProfile:
        """The profile called ``name``."""
        found = self.store.get_profile(name)
        if found is None:
            have = ", ".join(p.name for p in self.store.list_profiles()) or "none"
            raise ConfigError(f"no profile named {name!r} (profiles: {have})", field="profile")
        return found

    def profiles(self) -> list[IntegrationProfile]:
        """All profiles."""
        return self.store.list_profiles()

    def context(self, profile: IntegrationProfile | str) -> SpokeContext:
        """The context a spoke hook gets for ``profile``: alias, credentials, HTTP options."""
        prof = self.profile(profile) if isinstance(profile, str) else profile
        alias = self.store.get_alias(prof.connection_alias)
        if alias is None:
            raise ConfigError(
                f"profile {prof.name!r} points at a missing alias {prof.connection_alias!r}",
                field="profile.connection_alias",
            )
        credentials: dict[str, Secret] = {}
        prefix = alias.secret_key("")
        for key in self.secrets.names():
            if key.startswith(prefix):
                secret = self.secrets.get(key)
                if secret is not None:
                    credentials[key[len(prefix) :]] = secret
        return SpokeContext(
            profile=prof,
            alias=alias,
            credentials=credentials,
            http=self.http,
            now=self.clock(),
            integration_user_id=prof.integration_user_id,
            token_store=self.token_store(alias),
        )

    def spoke_for(self, profile: IntegrationProfile) -> Spoke:
        """The profile's own spoke (and only that one)."""
        return self.spokes.get(profile.spoke)

    def validate(self, name: str) -> ValidationReport:
        """Check the profile's connection per process; a passing download check marks it validated."""
        prof = self.profile(name)
        report = self.spoke_for(prof).validate(self.context(prof))
        updates: dict[str, Any] = {}
        if report.identity is not None:
            updates["integration_user_id"] = report.identity.external_user_id
        if report.download_ok:
            updates["validated_at"] = self.clock()
            if prof.status is ProfileStatus.DRAFT:
                updates["status"] = ProfileStatus.VALIDATED
        if updates:
            new = attrs.evolve(prof, **updates)
            self.store.save_profile(new)
            if new.status is not prof.status:
                self._audit(
                    "profile.validated",
                    "profile",
                    name,
                    {"status": prof.status.value},
                    {"status": new.status.value},
                    profile=name,
                )
        return report

    def publish(self, name: str) -> IntegrationProfile:
        """Publish a validated profile so its daily jobs run."""
        prof = self.profile(name)
        if prof.status is ProfileStatus.PUBLISHED:
            return prof
        if prof.status is not ProfileStatus.VALIDATED:
            raise ProfileStateError(
                f"profile {name!r} is {prof.status.value}; only a validated profile can be published",
                hint=f"run `saas-license validate {name}` first",
            )
        new = attrs.evolve(prof, status=ProfileStatus.PUBLISHED, published_at=self.clock())
        with self.store.transaction():
            self.store.save_profile(new)
            jobs = schedule_profile(
                self.store, new, now=self.clock(), interval=self.policy.job_interval
            )
            self._audit(
                "profile.published",
                "profile",
                name,
                {"status": prof.status.value},
                {"status": new.status.value, "scheduled": [j.process for j in jobs]},
                profile=name,
            )
        return new

    # -- running ----------------------------------------------------------------------------

    def run(
        self, name: str, *, progress: ProgressCallback | None = None, trigger: str = "manual"
    ) -> RunReport:
        """Run one daily cycle of a published profile (download, activity, evaluate, plan).

        Raises :class:`RunInProgressError` at once when another run of the profile is going.
        """
        prof = self.profile(name)
        if not prof.is_published:
            raise ProfileStateError(
                f"profile {name!r} is {prof.status.value}; only published profiles run",
                hint=f"validate and publish it: `saas-license validate {name}` then `saas-license publish {name}`",
            )
        return run_profile(
            self.store,
            self.spoke_for(prof),
            self.context(prof),
            policy=self.policy,
            clock=self.clock,
            progress=progress,
            prices=self.prices,
            notifiers=self.notifiers,
            trigger=trigger,
        )

    def plan(self, name: str, *, save: bool = True) -> ReclaimPlan:
        """The reclaim plan of a profile as it stands now (dry run: nothing changes at the vendor
        or to any candidate). With ``save`` it is stored under an id that :meth:`apply` takes."""
        prof = self.profile(name)
        now = self.clock()
        info = self.spoke_for(prof).info()
        plan = build_plan(
            self.store,
            prof,
            now=now,
            action=info.reclaim_effect,
            policy=self.policy,
            prices=self.prices,
            integration_user_id=prof.integration_user_id,
            scope=info.reclaim_scope,
            protective_fields=info.protective_fields,
        )
        if save:
            plan = attrs.evolve(
                plan, id=secrets.token_hex(6), expires_at=now + self.policy.plan_ttl
            )
            self.store.save_plan(plan)
        return plan

    # -- queries ----------------------------------------------------------------------------

    def subscriptions(
        self, profile: str | None = None, *, active_only: bool = True
    ) -> list[Subscription]:
        """Stored subscriptions (use ``store.iter_subscriptions`` to stream large sets)."""
        return list(self.store.iter_subscriptions(profile, active_only=active_only))

    def candidates(
        self, profile: str | None = None, *, states: set[CandidateState] | None = None
    ) -> list[RemovalCandidate]:
        """Removal candidates, optionally filtered."""
        return self.store.list_candidates(profile, states=states)

    def jobs(self, profile: str | None = None, *, limit: int = 100) -> list[JobResult]:
        """Recent job results, newest first. A job still ``running`` whose profile's run lock no
        live process holds is marked ``abandoned`` first (its process died)."""
        jobs = self.store.list_jobs(profile, limit=limit)
        dead = {j.profile for j in jobs if j.status is JobStatus.RUNNING}
        for name in sorted(dead):
            try:
                with run_lock(self.store, name, now=self.clock(), ttl=dt.timedelta(minutes=1)):
                    self.store.abandon_running_jobs(
                        name,
                        now=self.clock(),
                        reason="abandoned: the process running it died (no live run lock)",
                    )
            except RunInProgressError:
                continue  # a live run holds the lock: its jobs are really running
        return self.store.list_jobs(profile, limit=limit) if dead else jobs

    def audit(
        self,
        *,
        profile: str | None = None,
        limit: int = 1000,
        entity: str | None = None,
        entity_id: str | None = None,
        action: str | None = None,
        since: dt.datetime | None = None,
        last: bool = False,
    ) -> list[AuditEntry]:
        """The audit log, oldest first; ``action`` is a prefix (``candidate.``, ``vendor.``),
        ``last`` keeps the newest ``limit`` entries."""
        return self.store.list_audit(
            profile=profile,
            limit=limit,
            entity=entity,
            entity_id=entity_id,
            action=action,
            since=since,
            last=last,
        )

    def verify_audit(self) -> AuditVerification:
        """Check the audit log's hash chains and guards: any changed, removed, inserted or
        replaced entry, or a dropped trigger, is reported (``.ok`` is False)."""
        return self.store.verify_audit()

    # -- lifecycle: rules, candidates, apply/undo, scheduling (issue 4) -------------------------

    @property
    def notifiers(self) -> NotifierRegistry:
        """Notifier plugins (entry-point group ``saas_license.notifiers``); ``register`` more by hand."""
        registry: NotifierRegistry | None = getattr(self, "_notifiers", None)
        if registry is None:
            registry = self._notifiers = NotifierRegistry()
        return registry

    @property
    def workflow(self) -> CandidateWorkflow:
        """The candidate workflow bound to this workspace (store, notifiers, prices, clock)."""
        return CandidateWorkflow(
            self.store, notifiers=self.notifiers, prices=self.prices, clock=self.clock
        )

    def update_profile(
        self,
        name: str,
        *,
        display_name: str | None = None,
        activity: bool | None = None,
        reclaim: bool | None = None,
        activity_look_back_days: int | None = None,
        options: dict[str, Any] | None = None,
        actor: str = "user",
    ) -> IntegrationProfile:
        """Edit a profile. Turning activity off on a published profile sends it back to draft
        (validate and publish again); ``options`` are merged (a None value removes a key)."""
        prof = self.profile(name)
        changes: dict[str, Any] = {}
        if display_name is not None:
            if not display_name.strip():
                raise ConfigError("must not be empty", field="profile.display_name")
            changes["display_name"] = display_name
        if activity is not None or reclaim is not None:
            changes["processes"] = Processes(
                activity=prof.processes.activity if activity is None else activity,
                reclaim=prof.processes.reclaim if reclaim is None else reclaim,
            )
        if activity_look_back_days is not None:
            changes["activity_look_back_days"] = activity_look_back_days
        if options is not None:
            declared = self.spoke_for(prof).info().options
            options = check_options(options, declared, spoke=prof.spoke)
            merged = {**prof.options, **options}
            changes["options"] = {k: v for k, v in merged.items() if v is not None}
        if activity is False and prof.processes.activity and prof.status is ProfileStatus.PUBLISHED:
            changes["status"] = ProfileStatus.DRAFT
        new = attrs.evolve(prof, **changes)
        if new == prof:
            return prof
        with self.store.transaction():
            self.store.save_profile(new)
            schedule_profile(self.store, new, now=self.clock(), interval=self.policy.job_interval)
            before = converter.unstructure(prof)
            after = converter.unstructure(new)
            self._audit(
                "profile.updated",
                "profile",
                name,
                {k: before[k] for k in after if before[k] != after[k]},
                {k: after[k] for k in after if before[k] != after[k]},
                profile=name,
                actor=actor,
                detail=(
                    "activity switched off: back to draft; validate and publish again"
                    if new.status is not prof.status
                    else ""
                ),
            )
        return new

    def delete_profile(self, name: str, *, actor: str = "user") -> dict[str, int]:
        """Delete a profile: its subscriptions, job results and schedule go, its open candidates
        close as skipped, reclamation rules stay. Returns what was removed or closed."""
        prof = self.profile(name)
        workflow = self.workflow
        # a profile that is running is busy: deleting it under the run would let it write on
        with (
            run_lock(self.store, name, now=self.clock(), ttl=self.policy.run_lock_ttl),
            self.store.transaction(),
        ):
            open_candidates = self.store.list_candidates(name, states=OPEN_STATES)
            for candidate in open_candidates:
                workflow.move(
                    candidate,
                    CandidateEvent.PROFILE_DELETED,
                    actor=actor,
                    reason=f"profile {name} was deleted",
                )
            counts = {
                "subscriptions": self.store.count_subscriptions(name)["total"],
                "candidates_skipped": len(open_candidates),
                "jobs": len(self.store.list_jobs(name, limit=1_000_000)),
            }
            self.store.delete_profile(name)
            self._audit(
                "profile.deleted",
                "profile",
                name,
                {"status": prof.status.value},
                None,
                profile=name,
                actor=actor,
                detail=", ".join(f"{k}={v}" for k, v in counts.items()),
            )
        return counts

    def schedules(self, profile: str | None = None) -> list[ScheduledJob]:
        """Scheduled jobs (one per enabled process of each published profile)."""
        return self.store.list_schedules(profile)

    def due(self) -> list[str]:
        """Names of the published profiles with a job due now."""
        return [
            p.name
            for p in due_profiles(self.store, now=self.clock(), interval=self.policy.job_interval)
        ]

    def run_due(
        self, *, progress: ProgressCallback | None = None, all_published: bool = False
    ) -> list[ScheduledRun]:
        """Run every profile whose jobs are due (every published one with ``all_published``).

        One profile's failure or lock does not stop the others.
        """
        names = [p.name for p in self.profiles() if p.is_published] if all_published else self.due()
        out = []
        for name in names:
            try:
                report = self.run(name, progress=progress, trigger="schedule")
            except RunInProgressError as exc:
                out.append(ScheduledRun(profile=name, status="in_progress", error=str(exc)))
            except SaasLicenseError as exc:
                out.append(ScheduledRun(profile=name, status="failed", error=str(exc)))
            else:
                out.append(ScheduledRun(profile=name, status="complete", report=report))
        return out

    def unlock(self, profile: str, *, actor: str = "user") -> bool:
        """Break a profile's run lock left by a crashed run; True if there was one."""
        held = self.store.get_run_lock(profile)
        broken = self.store.break_run_lock(profile)
        if broken and held is not None:
            self._audit(
                "profile.unlocked",
                "profile",
                profile,
                {"owner": held.owner, "host": held.host, "pid": held.pid},
                None,
                profile=profile,
                actor=actor,
            )
        return broken

    def software_models(self) -> list[SoftwareModel]:
        """All software models."""
        return self.store.list_software_models()

    def add_software_model(
        self, name: str, *, publisher: str, paid: bool = True, actor: str = "user"
    ) -> SoftwareModel:
        """Create a software model (a paid one gets the default reclamation rule)."""
        if not name.strip() or not publisher.strip():
            raise ConfigError("name and publisher must not be empty", field="software_model")
        model = SoftwareModel(name=name, publisher=publisher, paid=paid, created_at=self.clock())
        with self.store.transaction():
            if not self.store.ensure_software_model(model):
                raise ConfigError(f"a software model named {name!r} exists", field="software_model")
            if paid and self.store.get_reclamation_rule(name) is None:
                self.store.save_reclamation_rule(ReclamationRule(software_model=name))
            self._audit(
                "software_model.created",
                "software_model",
                name,
                None,
                {"publisher": publisher, "paid": paid},
                actor=actor,
            )
        return model

    def unrecognized_identifiers(self) -> list[UnrecognizedIdentifier]:
        """Identifiers on active seats that map to no software model, with subscription counts."""
        return [
            UnrecognizedIdentifier(
                identifier=ident, subscriptions=sum(per.values()), profiles=dict(per)
            )
            for ident, per in self.store.unrecognized_identifiers().items()
        ]

    def map_identifier(self, identifier: str, software_model: str, *, actor: str = "user") -> int:
        """Map an identifier to a model; every subscription carrying it is re-pointed. Returns
        how many were."""
        before = self.store.identifier_map().get(identifier)
        with self.store.transaction():
            count = self.store.map_identifier(identifier, software_model)
            self._audit(
                "identifier.mapped",
                "identifier",
                identifier,
                {"software_model": before},
                {"software_model": software_model, "subscriptions": count},
                actor=actor,
            )
        return count

    def exclusion_rules(self) -> list[ExclusionRule]:
        """All exclusion rules."""
        return self.store.list_exclusion_rules()

    def add_exclusion_rule(
        self, rule: ExclusionRule | None = None, *, actor: str = "user", **fields: Any
    ) -> ExclusionRule:
        """Add an exclusion rule (a record, or its fields: ``kind``, ``value``, ``effect``…)."""
        if rule is None:
            rule = structure_rule(fields, ExclusionRule, what="exclusion_rule")
        elif fields:
            raise ConfigError("pass a rule or its fields, not both", field="exclusion_rule")
        with self.store.transaction():
            saved = self.store.add_exclusion_rule(rule)
            self._audit(
                "exclusion_rule.created",
                "exclusion_rule",
                str(saved.id),
                None,
                converter.unstructure(saved),
                actor=actor,
            )
        return saved

    def update_exclusion_rule(
        self, rule_id: int, *, actor: str = "user", **changes: Any
    ) -> ExclusionRule:
        """Change fields of an exclusion rule (e.g. ``active=False``)."""
        before = self.store.get_exclusion_rule(rule_id)
        if before is None:
            raise ConfigError(f"no exclusion rule with id {rule_id}", field="exclusion_rule.id")
        data = {**converter.unstructure(before), **changes, "id": rule_id}
        after = structure_rule(data, ExclusionRule, what="exclusion_rule")
        with self.store.transaction():
            self.store.update_exclusion_rule(after)
            self._audit(
                "exclusion_rule.updated",
                "exclusion_rule",
                str(rule_id),
                converter.unstructure(before),
                converter.unstructure(after),
                actor=actor,
            )
        return after

    def remove_exclusion_rule(self, rule_id: int, *, actor: str = "user") -> None:
        """Delete an exclusion rule."""
        before = self.store.get_exclusion_rule(rule_id)
        if before is None:
            raise ConfigError(f"no exclusion rule with id {rule_id}", field="exclusion_rule.id")
        with self.store.transaction():
            self.store.delete_exclusion_rule(rule_id)
            self._audit(
                "exclusion_rule.deleted",
                "exclusion_rule",
                str(rule_id),
                converter.unstructure(before),
                None,
                actor=actor,
            )

    def reclamation_rules(self) -> list[ReclamationRule]:
        """All reclamation rules (one per paid software model, generated on first download)."""
        return self.store.list_reclamation_rules()

    def set_reclamation_rule(
        self,
        software_model: str,
        *,
        actor: str = "user",
        allow_big_change: bool = False,
        **changes: Any,
    ) -> ReclamationRule:
        """Create or edit the reclamation rule of ``software_model``; bad values name the field.

        The model must exist. A change that would make free seats, or more than
        :data:`~saas_license.rule_impact.BIG_CHANGE_SHARE` of a profile's seats, new candidates
        raises :class:`~saas_license.rule_impact.BigChangeError` unless ``allow_big_change``.
        """
        models = {m.name: m for m in self.store.list_software_models()}
        if software_model not in models:
            raise ConfigError(
                f"no software model named {software_model!r}",
                field="reclamation_rule.software_model",
                hint="known models: "
                + (", ".join(sorted(models)) or "none yet; run a profile first"),
            )
        before = self.store.get_reclamation_rule(software_model)
        base = converter.unstructure(before) if before else {"software_model": software_model}
        base.pop("id", None)
        if "software_model" in changes:
            raise ConfigError("cannot move a rule to another model", field="software_model")
        after = structure_rule({**base, **changes}, ReclamationRule, what="reclamation_rule")
        if not allow_big_change and may_add_candidates(before, after):
            impact = rule_impact(
                self.store,
                after,
                now=self.clock(),
                policy=self.policy,
                free_model=not models[software_model].paid,
            )
            if impact.big:
                raise BigChangeError(impact)
        with self.store.transaction():
            saved = self.store.save_reclamation_rule(
                attrs.evolve(after, id=before.id if before else None)
            )
            self._audit(
                "reclamation_rule.updated" if before else "reclamation_rule.created",
                "reclamation_rule",
                str(saved.id),
                converter.unstructure(before) if before else None,
                converter.unstructure(saved),
                actor=actor,
            )
        return saved

    def export_rules(self) -> RuleSet:
        """Every exclusion and reclamation rule, as one document."""
        return RuleSet(exclusions=self.exclusion_rules(), reclamation=self.reclamation_rules())

    def import_rules(
        self,
        source: str | os.PathLike[str] | dict[str, Any],
        *,
        replace: bool = False,
        actor: str = "user",
        allow_big_change: bool = False,
    ) -> RuleSet:
        """Import rules from a JSON/TOML file or a dict: all of them or none.

        Reclamation rules update the rule of their model; exclusion rules are added (with
        ``replace``, existing exclusion rules are removed first). A rule for an unknown model,
        or one with a big effect (see :meth:`set_reclamation_rule`), refuses the whole import.
        """
        rules = load_rule_set(source if isinstance(source, dict) else Path(source))
        models = {m.name for m in self.store.list_software_models()}
        label = "rules." if isinstance(source, dict) else f"{Path(source).name}: "
        for i, rec in enumerate(rules.reclamation):
            if rec.software_model not in models:
                raise ConfigError(
                    f"no software model named {rec.software_model!r}",
                    field=f"{label}reclamation[{i}].software_model",
                    hint="known models: " + (", ".join(sorted(models)) or "none yet"),
                )
        with self.store.transaction():
            if replace:
                for old in self.exclusion_rules():
                    self.remove_exclusion_rule(old.id or 0, actor=actor)
            for ex in rules.exclusions:
                self.add_exclusion_rule(attrs.evolve(ex, id=None), actor=actor)
            for rec in rules.reclamation:
                data = converter.unstructure(rec)
                data.pop("id", None)
                data.pop("software_model")
                self.set_reclamation_rule(
                    rec.software_model, actor=actor, allow_big_change=allow_big_change, **data
                )
        return rules

    def candidate(self, candidate_id: int) -> RemovalCandidate:
        """One removal candidate."""
        return self.workflow.get(candidate_id)

    def candidate_history(self, candidate_id: int) -> list[AuditEntry]:
        """Every audit entry of one candidate, oldest first."""
        return self.store.list_audit(entity="candidate", entity_id=str(candidate_id), limit=100_000)

    def propose(
        self, subscription_id: int, *, actor: str = "user", reason: str = ""
    ) -> RemovalCandidate:
        """Open a candidate by hand for one seat (it still passes every safety check on apply)."""
        sub = self.store.get_subscription(subscription_id)
        if sub is None or not sub.active:
            raise ConfigError(
                f"no active subscription with id {subscription_id}", field="subscription"
            )
        return self.workflow.create(
            sub, None, actor=actor, justification=Justification.MANUAL, reason=reason
        )

    def keep(self, candidate_id: int, *, actor: str = "user", note: str = "") -> RemovalCandidate:
        """The user keeps the seat: to the approver (or kept, if the rule needs no approval)."""
        return self.workflow.respond(candidate_id, UserResponse.KEEP, actor=actor, note=note)

    def forego(self, candidate_id: int, *, actor: str = "user", note: str = "") -> RemovalCandidate:
        """The user does not need the seat: on to revocation."""
        return self.workflow.respond(candidate_id, UserResponse.FOREGO, actor=actor, note=note)

    def approve(
        self, candidate_id: int, *, actor: str = "user", note: str = ""
    ) -> RemovalCandidate:
        """The approver lets the reclaim go ahead despite the user's "keep"."""
        return self.workflow.decide(candidate_id, approve=True, actor=actor, note=note)

    def decline(
        self, candidate_id: int, *, actor: str = "user", note: str = ""
    ) -> RemovalCandidate:
        """The approver lets the user keep the seat (cooldown starts)."""
        return self.workflow.decide(candidate_id, approve=False, actor=actor, note=note)

    def resolve(
        self,
        candidate_id: int,
        *,
        recipient: str | None = None,
        actor: str = "user",
        note: str = "",
    ) -> RemovalCandidate:
        """Attention required → ready (set ``recipient`` when the notice had nobody to go to)."""
        return self.workflow.resolve(candidate_id, actor=actor, recipient=recipient, note=note)

    def skip(
        self,
        candidate_id: int,
        *,
        actor: str = "user",
        note: str = "",
        cooldown_days: int | None = None,
    ) -> RemovalCandidate:
        """Close a candidate without reclaiming (``cooldown_days``: no new one before then)."""
        return self.workflow.skip(candidate_id, actor=actor, note=note, cooldown_days=cooldown_days)

    def close_complete(
        self, candidate_id: int, *, actor: str = "user", note: str = ""
    ) -> RemovalCandidate:
        """Close a candidate awaiting revocation as complete: the seat was freed by hand."""
        return self.workflow.close_complete(candidate_id, actor=actor, note=note)

    def apply(self, plan_id: str, *, cap: int | None = None, actor: str = "user") -> ApplyReport:
        """Execute the stored plan ``plan_id`` (from :meth:`plan`): notices, then reclaims through
        the profile's spoke, each re-checked first; at most ``cap`` seats."""
        found = self.store.get_plan(plan_id)
        if found is None:
            raise ConfigError(
                f"no reclaim plan with id {plan_id!r}",
                field="plan",
                hint="make one with `saas-license reclaim <profile> --plan`",
            )
        prof = self.profile(found[0].profile)
        return apply_plan(
            self.store,
            self.spoke_for(prof),
            self.context(prof),
            plan_id,
            workflow=self.workflow,
            policy=self.policy,
            cap=cap,
            actor=actor,
            clock=self.clock,
        )

    def undo(self, candidate_id: int, *, actor: str = "user") -> UndoResult:
        """Undo the reclaim that closed ``candidate_id`` (and the user's other seats with it)."""
        candidate = self.candidate(candidate_id)
        prof = self.profile(candidate.profile)
        return undo_reclaim(
            self.store,
            self.spoke_for(prof),
            self.context(prof),
            candidate_id,
            workflow=self.workflow,
            actor=actor,
        )

    def reconcile_reclaims(self, name: str, *, actor: str = "user") -> ReconcileReport:
        """Resolve every reclaim of unknown outcome by reading the vendor, and mark jobs of dead
        processes abandoned (``saas-license reclaim PROFILE --reconcile``)."""
        prof = self.profile(name)
        return reconcile_reclaims(
            self.store,
            self.spoke_for(prof),
            self.context(prof),
            workflow=self.workflow,
            policy=self.policy,
            actor=actor,
        )

    def quarantined(
        self, profile: str | None = None, *, limit: int = 100
    ) -> list[QuarantinedRecord]:
        """Spoke records the core refused at its boundary, newest first (shown by ``jobs``)."""
        return self.store.list_quarantined(profile, limit=limit)

    def reclaim_actions(self, profile: str | None = None) -> list[ReclaimAction]:
        """Every vendor reclaim made, oldest first (with undo state)."""
        return self.store.list_reclaim_actions(profile)

    def savings(
        self, profile: str | None = None, *, since: dt.datetime | None = None
    ) -> SavingsSummary:
        """Potential savings of open candidates and actual savings of reclaimed seats."""
        return summarize_savings(
            self.store.list_candidates(profile), self.prices, now=self.clock(), since=since
        )

    def outbox(
        self, *, status: DeliveryStatus | None = None, profile: str | None = None
    ) -> list[Notification]:
        """Notifications in the outbox (pending ones wait for a notifier)."""
        return self.store.list_notifications(status=status, profile=profile)

    def deliver_outbox(self, *, retry_failed: bool = False) -> list[Notification]:
        """Offer pending notifications to the notifiers again."""
        return deliver_pending(self.store, self.notifiers, self.clock(), retry_failed=retry_failed)

    # -- finance: entitlements, reconciliation, reports (issue 5) ------------------------------

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
        _finance.check_entitlement(self.store, ent)
        with self.store.transaction():
            saved = _finance.finance_store(self.store).add_entitlements([ent])[0]
            self._audit_entitlement("entitlement.created", None, saved)
        return saved

    def entitlements(self, software_model: str | None = None) -> list[Entitlement]:
        """Entitlements, oldest first (their state follows their dates; see ``state_at``)."""
        return _finance.finance_store(self.store).list_entitlements(software_model)

    def entitlement(self, entitlement_id: int) -> Entitlement:
        """One entitlement by id."""
        found = _finance.finance_store(self.store).get_entitlement(entitlement_id)
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
        _finance.check_entitlement(self.store, after)
        with self.store.transaction():
            _finance.finance_store(self.store).update_entitlement(after)
            self._audit_entitlement("entitlement.updated", before, after)
        return after

    def retire_entitlement(
        self, entitlement_id: int, *, on: dt.date | str | None = None
    ) -> Entitlement:
        """Retire an entitlement from ``on`` (default: today in the organisation's time zone)."""
        day = on if on is not None else local_date(self.clock(), self.policy.timezone)
        before = self.entitlement(entitlement_id)
        after = attrs.evolve(before, retired_on=day)
        with self.store.transaction():
            _finance.finance_store(self.store).update_entitlement(after)
            self._audit_entitlement("entitlement.retired", before, after)
        return after

    def import_entitlements(
        self,
        path: str | os.PathLike[str],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> list[Entitlement]:
        """Import entitlements from a CSV file: all rows, or none when any row is bad.

        Raises :class:`~saas_license.entitlements_csv.CsvImportError` naming each bad line.
        ``progress(rows_read)`` is called as the file is read. Time is linear in the rows.
        """
        checker = EntitlementChecker(
            models=(m.name for m in self.store.list_software_models()),
            profiles=(p.name for p in self.store.list_profiles()),
            existing=_finance.finance_store(self.store).list_entitlements(),
        )
        rows = read_entitlements_csv(Path(path), check=checker, progress=progress)
        with self.store.transaction():
            saved = _finance.finance_store(self.store).add_entitlements(rows)
            for ent in saved:
                self._audit_entitlement("entitlement.imported", None, ent, detail=str(path))
        return saved

    def entitlements_table(self) -> Table:
        """All entitlements as a table, each with its state as of now."""
        now = self.clock()
        return Table.from_dicts(
            "entitlements",
            ENTITLEMENT_COLUMNS,
            [e.to_row(at=now, timezone=self.policy.timezone) for e in self.entitlements()],
            title="Entitlements",
            as_of=now,
        )

    def reconcile(self, *, save: bool = False) -> Reconciliation:
        """Reconcile seats against entitlements now; ``save`` keeps the result in the workspace."""
        result = _finance.reconcile_store(
            self.store, now=self.clock(), timezone=self.policy.timezone
        )
        if save:
            _finance.finance_store(self.store).save_reconciliation(
                result.as_of, result.to_json_data()
            )
        return result

    def reconcile_if_due(self, every: dt.timedelta = dt.timedelta(days=7)) -> Reconciliation | None:
        """Reconcile and save, unless a saved result is younger than ``every`` (then None).

        Call it from cron or a scheduler as often as you like; it reconciles on its own cadence.
        """
        last = self.reconciliations(limit=1)
        if last and self.clock() - last[0].as_of < every:
            return None
        return self.reconcile(save=True)

    def reconciliations(self, *, limit: int = 20) -> list[SavedReconciliation]:
        """Saved reconciliation results, newest first."""
        return _finance.finance_store(self.store).list_reconciliations(limit=limit)

    def report_html(self, result: Reconciliation | None = None) -> str:
        """The self-contained HTML report (charts and tables) of ``result`` or of a fresh run."""
        from .reports import render_html

        return render_html(
            result if result is not None else self.reconcile(), audit=self.verify_audit()
        )

    def _audit_entitlement(
        self,
        action: str,
        before: Entitlement | None,
        after: Entitlement,
        *,
        detail: str = "",
    ) -> None:
        self._audit(
            action,
            "entitlement",
            str(after.id),
            None if before is None else converter.unstructure(before),
            converter.unstructure(after),
            detail=detail,
        )

    # -- connections: OAuth and credentials (issue 3) ------------------------------------------

    def _alias_of(self, profile: str) -> tuple[IntegrationProfile, ConnectionAlias]:
        prof = self.profile(profile)
        alias = self.store.get_alias(prof.connection_alias)
        if alias is None:
            raise ConfigError(
                f"profile {prof.name!r} points at a missing alias {prof.connection_alias!r}",
                field="profile.connection_alias",
            )
        return prof, alias

    def use_token_store(self, factory: Callable[[ConnectionAlias], TokenStore] | None) -> None:
        """Keep OAuth2 tokens elsewhere (a vault, a keyring): ``factory(alias)`` gives each alias
        its own store. None restores the default, the workspace's owner-only secrets file."""
        self.__dict__["_token_store_factory"] = factory

    def token_store(self, alias: ConnectionAlias) -> TokenStore:
        """Where the OAuth2 token of ``alias`` is kept."""
        factory = self.__dict__.get("_token_store_factory")
        if factory is not None:
            store: TokenStore = factory(alias)
            return store
        return SecretTokenStore(self.secrets, alias.secret_key("oauth_token"))

    def connect_api_key(self, profile: str, api_key: str | Secret) -> ConnectionAlias:
        """Give the profile's connection alias an API key (bearer) and make it the alias's auth."""
        prof, alias = self._alias_of(profile)
        key = api_key if isinstance(api_key, Secret) else Secret(api_key)
        self.secrets.set(alias.secret_key("api_key"), key)
        updated = attrs.evolve(alias, auth_type="api_key")
        self.store.save_alias(updated)
        self._audit(
            "alias.connected",
            "alias",
            alias.name,
            {"auth_type": alias.auth_type},
            {"auth_type": "api_key"},
            profile=prof.name,
        )
        return updated

    def oauth_begin(
        self,
        profile: str,
        *,
        client_id: str,
        client_secret: str | Secret,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
    ) -> str:
        """Start OAuth2 for a profile: returns the URL a person opens to approve access.

        Then call :meth:`oauth_complete` with the URL the browser was redirected to. Nothing is
        stored until then.
        """
        prof, alias = self._alias_of(profile)
        info = self.spoke_for(prof).info()
        if info.oauth is None:
            raise ConfigError(
                f"the {info.display_name} spoke does not support OAuth2",
                field="alias.auth_type",
                hint="use an API key: saas-license connect <profile> --api-key-env VAR",
            )
        app = OAuth2App.for_account(
            alias.base_url,
            info.oauth,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
        )
        flow = AuthorizationCodeFlow(app, options=self.http, vendor=info.display_name)
        pending: dict[str, AuthorizationCodeFlow] = self.__dict__.setdefault("_oauth_flows", {})
        pending[prof.name] = flow
        return flow.authorization_url

    def oauth_complete(self, profile: str, redirected_url: str) -> OAuth2Token:
        """Finish OAuth2: check ``state``, exchange the code, store client and token for the alias.

        The token goes to the owner-only secrets file; the alias switches to OAuth2.
        """
        prof, alias = self._alias_of(profile)
        pending: dict[str, AuthorizationCodeFlow] = self.__dict__.setdefault("_oauth_flows", {})
        flow = pending.get(prof.name)
        if flow is None:
            raise ConfigError(
                f"no authorization is in progress for profile {prof.name!r}",
                field="profile",
                hint="call oauth_begin first (in the same workspace object)",
            )
        token = flow.exchange(redirected_url)
        del pending[prof.name]
        self.secrets.set(alias.secret_key("client_id"), Secret(flow.app.client_id))
        self.secrets.set(alias.secret_key("client_secret"), flow.app.client_secret)
        self.token_store(alias).save(token)
        self.store.save_alias(attrs.evolve(alias, auth_type="oauth2"))
        self._audit(
            "alias.connected",
            "alias",
            alias.name,
            {"auth_type": alias.auth_type},
            {"auth_type": "oauth2", "refresh_token": token.refreshable},
            profile=prof.name,
        )
        return token

    # -- internals -----------------------------------------------------------------------------

    def _audit(
        self,
        action: str,
        entity: str,
        entity_id: str | None,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        *,
        profile: str | None = None,
        actor: str = "user",
        detail: str = "",
    ) -> None:
        self.store.append_audit(
            AuditEntry(
                at=self.clock(),
                actor=actor,
                action=action,
                entity=entity,
                entity_id=entity_id,
                profile=profile,
                before=before,
                after=after,
                detail=detail,
            )
        )
