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
    AliasDetails,
    ConnectionAlias,
    CredentialInfo,
    IntegrationProfile,
    Processes,
    ProfileStatus,
    check_options,
)
from .._scheduling import run_lock, schedule_profile
from .._secrets import Secret
from .._spokes import EXPECTED_RECORDS_META, SpokeContext, ValidationReport
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
        spoke: str | None = None,
        base_url: str | None = None,
        api_key: str | Secret | None = None,
        parent: str | None = None,
    ) -> ConnectionAlias:
        """Create or update a connection alias; an ``api_key`` goes to the secret store, never the DB.

        A child alias (``parent`` given) belongs to its parent's spoke (``spoke`` may be left
        out; a different one is refused) and inherits its parent's URL and credentials unless
        it is given its own.
        """
        existing = self._ws.store.get_alias(name)
        parent_alias = self._parent_for(name, parent)
        if spoke is None:
            if parent_alias is None:
                raise ConfigError(
                    "no spoke given", field="alias.spoke", hint="name the spoke, e.g. spoke='aha'"
                )
            spoke = parent_alias.spoke
        self._ws.spokes.get(spoke)
        if parent_alias is not None and parent_alias.spoke != spoke:
            raise ConfigError(
                f"alias {name!r} is for spoke {spoke!r} but its parent {parent_alias.name!r} is "
                f"for spoke {parent_alias.spoke!r}",
                field="alias.spoke",
                hint=f"a child alias uses its parent's spoke: give {parent_alias.spoke!r} or leave it out",
            )
        if base_url is None and parent_alias is None:
            raise ConfigError(
                "no base URL given",
                field="alias.base_url",
                hint="give the account's base URL (only a child alias may inherit its parent's)",
            )
        if existing is not None and existing.spoke != spoke:
            users = self._users_of(name)
            if users:
                raise ConfigError(
                    f"alias {name!r} is for spoke {existing.spoke!r} and is used by "
                    f"{', '.join(users)}; it cannot move to spoke {spoke!r}",
                    field="alias.spoke",
                    hint="create a new alias for the other spoke",
                )
        alias = ConnectionAlias(
            name=name,
            spoke=spoke,
            base_url=(base_url or "").rstrip("/"),
            parent=parent,
            auth_type=existing.auth_type if existing is not None and api_key is None else "api_key",
        )
        self._ws.store.save_alias(alias)
        if api_key is not None:
            self._ws.secrets.set(
                alias.secret_key("api_key"),
                api_key if isinstance(api_key, Secret) else Secret(api_key),
            )
        return alias

    def _parent_for(self, name: str, parent: str | None) -> ConnectionAlias | None:
        """The parent a new child alias names, checked: it exists, is not the alias itself and
        is not a child itself (one level, as with the reference's parent and child aliases)."""
        if parent is None:
            return None
        if parent == name:
            raise ConfigError(f"alias {name!r} cannot be its own parent", field="alias.parent")
        found = self._ws.store.get_alias(parent)
        if found is None:
            have = ", ".join(a.name for a in self._ws.store.list_aliases()) or "none"
            raise ConfigError(
                f"no parent alias named {parent!r} (aliases: {have})", field="alias.parent"
            )
        if found.parent is not None:
            raise ConfigError(
                f"alias {parent!r} is itself a child of {found.parent!r}",
                field="alias.parent",
                hint=f"give the top-level alias {found.parent!r} as parent",
            )
        return found

    def aliases(self) -> list[ConnectionAlias]:
        """All connection aliases, by name (as stored: a child's inherited URL shows empty)."""
        return self._ws.store.list_aliases()

    def alias(self, name: str) -> ConnectionAlias:
        """The connection alias called ``name``."""
        found = self._ws.store.get_alias(name)
        if found is None:
            have = ", ".join(a.name for a in self._ws.store.list_aliases()) or "none"
            raise ConfigError(
                f"no connection alias named {name!r} (aliases: {have})", field="alias"
            )
        return found

    def describe_alias(self, name: str) -> AliasDetails:
        """One alias as it is used: effective URL and auth, where each comes from, which
        credentials are set (never their values), its children and the profiles using it."""
        alias = self.alias(name)
        effective, source = self._resolve(alias)
        stored_in = f"secrets file {self._ws.secrets.path}"
        credentials = tuple(
            CredentialInfo(
                kind=kind, alias=source.name, inherited=source is not alias, stored_in=stored_in
            )
            for kind in self._credential_kinds(source)
        )
        return AliasDetails(
            alias=alias,
            base_url=effective.base_url,
            url_from=alias.parent if alias.inherits_url and alias.parent else alias.name,
            auth_type=effective.auth_type,
            credentials=credentials,
            children=tuple(a.name for a in self._ws.store.list_aliases() if a.parent == name),
            profiles=tuple(self._users_of(name)),
        )

    def delete_alias(self, name: str, *, actor: str = "user") -> ConnectionAlias:
        """Delete a connection alias and its stored secrets. An alias a profile uses, or the
        parent of a child alias, is refused with those named."""
        alias = self.alias(name)
        with changing(
            self._ws, "alias.deleted", "alias", before=alias, actor=actor, entity_id=name
        ) as change:
            users = self._users_of(name)
            if users:
                raise ConfigError(
                    f"alias {name!r} is used by profile(s) {', '.join(users)}",
                    field="alias",
                    hint="delete those profiles first (or keep the alias)",
                )
            children = [a.name for a in self._ws.store.list_aliases() if a.parent == name]
            if children:
                raise ConfigError(
                    f"alias {name!r} is the parent of child alias(es) {', '.join(children)}",
                    field="alias",
                    hint="delete the child aliases first",
                )
            self._ws.store.delete_alias(name)
            change.done(name)
        prefix = alias.secret_key("")
        for key in [k for k in self._ws.secrets.names() if k.startswith(prefix)]:
            self._ws.secrets.delete(key)
        return alias

    def _users_of(self, alias: str) -> list[str]:
        return [p.name for p in self._ws.store.list_profiles() if p.connection_alias == alias]

    def _credential_kinds(self, alias: ConnectionAlias) -> list[str]:
        prefix = alias.secret_key("")
        return sorted(k[len(prefix) :] for k in self._ws.secrets.names() if k.startswith(prefix))

    def _resolve(self, alias: ConnectionAlias) -> tuple[ConnectionAlias, ConnectionAlias]:
        """``alias`` as a spoke sees it (its parent's URL and auth filled in where it inherits
        them) and the alias whose credentials it uses (its own when it has any)."""
        if alias.parent is None:
            return alias, alias
        parent = self._ws.store.get_alias(alias.parent)
        if parent is None:
            raise ConfigError(
                f"alias {alias.name!r} names a missing parent alias {alias.parent!r}",
                field="alias.parent",
                hint=f"create {alias.parent!r} again, or give {alias.name!r} its own URL and credentials",
            )
        source = alias if self._credential_kinds(alias) else parent
        effective = attrs.evolve(
            alias, base_url=alias.base_url or parent.base_url, auth_type=source.auth_type
        )
        return effective, source

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

    def validate(self, name: str, *, actor: str = "user") -> ValidationReport:
        """Check the profile's connection per process; a passing download check marks it validated."""
        prof = self.get(name)
        report = self.spoke_for(prof).validate(self.context(prof))
        updates: dict[str, Any] = {}
        if report.identity is not None:
            updates["integration_user_id"] = report.identity.external_user_id
        if report.download_ok:
            if report.expected_records is not None:  # sizes the first run's listing
                self._ws.store.set_meta(
                    EXPECTED_RECORDS_META + name, str(max(0, report.expected_records))
                )
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
                    actor=actor,
                )
        return report

    def publish(self, name: str, *, actor: str = "user") -> IntegrationProfile:
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
            actor=actor,
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
        alias, source = self._resolve(alias)
        credentials: dict[str, Secret] = {}
        prefix = source.secret_key("")
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
            token_store=self.token_store(source),
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
            self._resolve(alias)[0].base_url,
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
