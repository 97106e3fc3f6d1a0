"""Integration profiles and connection aliases: create, validate, publish, connect."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from .._candidates.records import (
    OPEN_STATES,
)
from .._candidates.states import CandidateEvent
from .._convert import converter
from .._errors import ConfigError, ProfileStateError
from .._plugins import Spoke
from .._profiles import (
    ConnectionAlias,
    IntegrationProfile,
    Processes,
    ProfileStatus,
    check_options,
)
from .._scheduling import run_lock, schedule_profile
from .._secrets import Secret
from .._spokes import SpokeContext, ValidationReport
from ..http import (
    DEFAULT_REDIRECT_URI,
    AuthorizationCodeFlow,
    OAuth2App,
    OAuth2Token,
    SecretTokenStore,
    TokenStore,
)
from ._change import changing

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["Profiles"]


class Profiles:
    """Integration profiles and connection aliases: create, validate, publish, connect (``ws.profiles``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        #: OAuth2 flows begun and not completed yet, by profile name.
        self._oauth_flows: dict[str, AuthorizationCodeFlow] = {}
        #: Where OAuth2 tokens are kept (None: the workspace's secret store).
        self._token_store_factory: Callable[[ConnectionAlias], TokenStore] | None = None

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
        self._ws.spokes.get(spoke)
        if parent is not None and self._ws.store.get_alias(parent) is None:
            raise ConfigError(f"no parent alias named {parent!r}", field="alias.parent")
        alias = ConnectionAlias(
            name=name, spoke=spoke, base_url=base_url.rstrip("/"), parent=parent
        )
        self._ws.store.save_alias(alias)
        if api_key is not None:
            self._ws.secrets.set(
                alias.secret_key("api_key"),
                api_key if isinstance(api_key, Secret) else Secret(api_key),
            )
        return alias

    def create(
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
        info = self._ws.spokes.get(spoke).info()
        found = self._ws.store.get_alias(alias)
        if found is None:
            raise ConfigError(
                f"no connection alias named {alias!r}",
                field="profile.connection_alias",
                hint="create the alias first (CLI `alias add`, Python `ws.profiles.add_alias`)",
            )
        if found.spoke != spoke:
            raise ConfigError(
                f"alias {alias!r} belongs to spoke {found.spoke!r}, not {spoke!r}",
                field="profile.connection_alias",
            )
        if self._ws.store.get_profile(name) is not None:
            raise ConfigError(f"a profile named {name!r} already exists", field="profile.name")
        profile = IntegrationProfile(
            name=name,
            display_name=display_name or f"{info.display_name} ({name})",
            spoke=spoke,
            profile_type=info.profile_type,
            connection_alias=alias,
            processes=processes or Processes(),
            activity_look_back_days=activity_look_back_days,
            created_at=self._ws.clock(),
        )
        self._ws.store.save_profile(profile)
        self._ws._audit(
            "profile.created", "profile", name, None, {"status": profile.status.value}, profile=name
        )
        return profile

    def get(self, name: str) -> IntegrationProfile:
        """The profile called ``name``."""
        found = self._ws.store.get_profile(name)
        if found is None:
            have = ", ".join(p.name for p in self._ws.store.list_profiles()) or "none"
            raise ConfigError(f"no profile named {name!r} (profiles: {have})", field="profile")
        return found

    def all(self) -> list[IntegrationProfile]:
        """All profiles."""
        return self._ws.store.list_profiles()

    def update(
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
        prof = self.get(name)
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
        before = converter.unstructure(prof)
        after = converter.unstructure(new)
        with changing(
            self._ws,
            "profile.updated",
            "profile",
            before={k: before[k] for k in after if before[k] != after[k]},
            profile=name,
            actor=actor,
            detail=(
                "activity switched off: back to draft; validate and publish again"
                if new.status is not prof.status
                else ""
            ),
        ) as change:
            self._ws.store.save_profile(new)
            schedule_profile(
                self._ws.store, new, now=self._ws.clock(), interval=self._ws.policy.job_interval
            )
            change.done(name, after={k: after[k] for k in after if before[k] != after[k]})
        return new

    def delete(self, name: str, *, actor: str = "user") -> dict[str, int]:
        """Delete a profile: its subscriptions, job results and schedule go, its open candidates
        close as skipped, reclamation rules stay. Returns what was removed or closed."""
        prof = self.get(name)
        workflow = self._ws.candidates.workflow
        # a profile that is running is busy: deleting it under the run would let it write on
        with (
            run_lock(self._ws.store, name, now=self._ws.clock(), ttl=self._ws.policy.run_lock_ttl),
            changing(
                self._ws,
                "profile.deleted",
                "profile",
                before={"status": prof.status.value},
                profile=name,
                actor=actor,
            ) as change,
        ):
            open_candidates = self._ws.store.list_candidates(name, states=OPEN_STATES)
            for candidate in open_candidates:
                workflow.move(
                    candidate,
                    CandidateEvent.PROFILE_DELETED,
                    actor=actor,
                    reason=f"profile {name} was deleted",
                )
            counts = {
                "subscriptions": self._ws.store.count_subscriptions(name)["total"],
                "candidates_skipped": len(open_candidates),
                "jobs": len(self._ws.store.list_jobs(name, limit=1_000_000)),
            }
            self._ws.store.delete_profile(name)
            change.done(name, detail=", ".join(f"{k}={v}" for k, v in counts.items()))
        return counts

    def validate(self, name: str) -> ValidationReport:
        """Check the profile's connection per process; a passing download check marks it validated."""
        prof = self.get(name)
        report = self.spoke_for(prof).validate(self.context(prof))
        updates: dict[str, Any] = {}
        if report.identity is not None:
            updates["integration_user_id"] = report.identity.external_user_id
        if report.download_ok:
            updates["validated_at"] = self._ws.clock()
            if prof.status is ProfileStatus.DRAFT:
                updates["status"] = ProfileStatus.VALIDATED
        if updates:
            new = attrs.evolve(prof, **updates)
            self._ws.store.save_profile(new)
            if new.status is not prof.status:
                self._ws._audit(
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
        prof = self.get(name)
        if prof.status is ProfileStatus.PUBLISHED:
            return prof
        if prof.status is not ProfileStatus.VALIDATED:
            raise ProfileStateError(
                f"profile {name!r} is {prof.status.value}; only a validated profile can be published",
                hint=f"validate it first (CLI `validate {name}`, Python `ws.profiles.validate({name!r})`)",
            )
        new = attrs.evolve(prof, status=ProfileStatus.PUBLISHED, published_at=self._ws.clock())
        with changing(
            self._ws,
            "profile.published",
            "profile",
            before={"status": prof.status.value},
            profile=name,
        ) as change:
            self._ws.store.save_profile(new)
            jobs = schedule_profile(
                self._ws.store, new, now=self._ws.clock(), interval=self._ws.policy.job_interval
            )
            change.done(
                name, after={"status": new.status.value, "scheduled": [j.process for j in jobs]}
            )
        return new

    def context(self, profile: IntegrationProfile | str) -> SpokeContext:
        """The context a spoke hook gets for ``profile``: alias, credentials, HTTP options."""
        prof = self.get(profile) if isinstance(profile, str) else profile
        alias = self._ws.store.get_alias(prof.connection_alias)
        if alias is None:
            raise ConfigError(
                f"profile {prof.name!r} points at a missing alias {prof.connection_alias!r}",
                field="profile.connection_alias",
            )
        credentials: dict[str, Secret] = {}
        prefix = alias.secret_key("")
        for key in self._ws.secrets.names():
            if key.startswith(prefix):
                secret = self._ws.secrets.get(key)
                if secret is not None:
                    credentials[key[len(prefix) :]] = secret
        return SpokeContext(
            profile=prof,
            alias=alias,
            credentials=credentials,
            http=self._ws.http,
            now=self._ws.clock(),
            integration_user_id=prof.integration_user_id,
            token_store=self.token_store(alias),
        )

    def spoke_for(self, profile: IntegrationProfile) -> Spoke:
        """The profile's own spoke (and only that one)."""
        return self._ws.spokes.get(profile.spoke)

    def connect_api_key(self, profile: str, api_key: str | Secret) -> ConnectionAlias:
        """Give the profile's connection alias an API key (bearer) and make it the alias's auth."""
        prof, alias = self._alias_of(profile)
        key = api_key if isinstance(api_key, Secret) else Secret(api_key)
        self._ws.secrets.set(alias.secret_key("api_key"), key)
        updated = attrs.evolve(alias, auth_type="api_key")
        self._ws.store.save_alias(updated)
        self._ws._audit(
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
                hint="use an API key instead (CLI `connect PROFILE --api-key-env VAR`, Python `ws.profiles.connect_api_key`)",
            )
        app = OAuth2App.for_account(
            alias.base_url,
            info.oauth,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
        )
        flow = AuthorizationCodeFlow(app, options=self._ws.http, vendor=info.display_name)
        pending: dict[str, AuthorizationCodeFlow] = self._oauth_flows
        pending[prof.name] = flow
        return flow.authorization_url

    def oauth_complete(self, profile: str, redirected_url: str) -> OAuth2Token:
        """Finish OAuth2: check ``state``, exchange the code, store client and token for the alias.

        The token goes to the owner-only secrets file; the alias switches to OAuth2.
        """
        prof, alias = self._alias_of(profile)
        pending: dict[str, AuthorizationCodeFlow] = self._oauth_flows
        flow = pending.get(prof.name)
        if flow is None:
            raise ConfigError(
                f"no authorization is in progress for profile {prof.name!r}",
                field="profile",
                hint="call oauth_begin first (in the same workspace object)",
            )
        token = flow.exchange(redirected_url)
        del pending[prof.name]
        self._ws.secrets.set(alias.secret_key("client_id"), Secret(flow.app.client_id))
        self._ws.secrets.set(alias.secret_key("client_secret"), flow.app.client_secret)
        self.token_store(alias).save(token)
        self._ws.store.save_alias(attrs.evolve(alias, auth_type="oauth2"))
        self._ws._audit(
            "alias.connected",
            "alias",
            alias.name,
            {"auth_type": alias.auth_type},
            {"auth_type": "oauth2", "refresh_token": token.refreshable},
            profile=prof.name,
        )
        return token

    def use_token_store(self, factory: Callable[[ConnectionAlias], TokenStore] | None) -> None:
        """Keep OAuth2 tokens elsewhere (a vault, a keyring): ``factory(alias)`` gives each alias
        its own store. None restores the default, the workspace's owner-only secrets file."""
        self._token_store_factory = factory

    def token_store(self, alias: ConnectionAlias) -> TokenStore:
        """Where the OAuth2 token of ``alias`` is kept."""
        factory = self._token_store_factory
        if factory is not None:
            store: TokenStore = factory(alias)
            return store
        return SecretTokenStore(self._ws.secrets, alias.secret_key("oauth_token"))

    def _alias_of(self, profile: str) -> tuple[IntegrationProfile, ConnectionAlias]:
        prof = self.get(profile)
        alias = self._ws.store.get_alias(prof.connection_alias)
        if alias is None:
            raise ConfigError(
                f"profile {prof.name!r} points at a missing alias {prof.connection_alias!r}",
                field="profile.connection_alias",
            )
        return prof, alias
