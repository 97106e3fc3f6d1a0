"""The Python API: a workspace is one store, its secrets, and the installed spokes."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from ._plugins import Spoke, SpokeRegistry
from ._time import utcnow
from .audit import AuditEntry
from .candidates import CandidateState, RemovalCandidate
from .errors import ConfigError, ProfileStateError
from .evaluation import EvaluationPolicy
from .http import HttpOptions
from .jobs import JobResult
from .pipeline import ProgressCallback, RunReport, build_plan, run_profile
from .pricing import NoPrices, PriceBook
from .profiles import ConnectionAlias, IntegrationProfile, Processes, ProfileStatus
from .reclaim import ReclaimPlan
from .secrets import Secret, SecretStore
from .spokes import SpokeContext, ValidationReport
from .store import SqliteStore, Store
from .subscriptions import Subscription

__all__ = ["ENV_WORKSPACE", "Workspace", "default_workspace_path"]

ENV_WORKSPACE = "SAAS_LICENSE_WORKSPACE"


def default_workspace_path() -> Path:
    """``$SAAS_LICENSE_WORKSPACE``, else ``$XDG_DATA_HOME/saas-license/workspace.db``
    (``~/.local/share/saas-license/workspace.db``)."""
    env = os.environ.get(ENV_WORKSPACE)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "saas-license" / "workspace.db"


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
        self.prices: PriceBook = NoPrices()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        spokes: SpokeRegistry | None = None,
        http: HttpOptions | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        policy: EvaluationPolicy | None = None,
    ) -> Workspace:
        """Open (creating if needed) the workspace at ``path`` (default: :func:`default_workspace_path`).

        Secrets live beside the database in ``<name>.secrets.json``, readable only by the owner.
        """
        target = default_workspace_path() if path is None else Path(path)
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
        self.store.save_profile(new)
        self._audit(
            "profile.published",
            "profile",
            name,
            {"status": prof.status.value},
            {"status": new.status.value},
            profile=name,
        )
        return new

    # -- running ----------------------------------------------------------------------------

    def run(self, name: str, *, progress: ProgressCallback | None = None) -> RunReport:
        """Run one daily cycle of a published profile (download, activity, evaluate, plan)."""
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
        )

    def plan(self, name: str) -> ReclaimPlan:
        """The reclaim plan of a profile as it stands now (dry run: nothing is changed)."""
        prof = self.profile(name)
        return build_plan(
            self.store, prof, now=self.clock(), action=self.spoke_for(prof).info().reclaim_effect
        )

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
        """Recent job results, newest first."""
        return self.store.list_jobs(profile, limit=limit)

    def audit(self, *, profile: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        """The audit log, oldest first."""
        return self.store.list_audit(profile=profile, limit=limit)

    # -- lifecycle: rules, candidates, apply/undo, scheduling (issue 4) -------------------------

    # -- finance: entitlements, reconciliation, reports (issue 5) ------------------------------

    # -- connections: OAuth and credentials (issue 3) ------------------------------------------

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
