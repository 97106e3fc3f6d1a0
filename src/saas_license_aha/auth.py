"""How the Aha! spoke authenticates: an API key (bearer) or an OAuth2 token, per connection alias.

Each alias has its own credentials (``alias/<name>/…`` in the workspace's secret store), so two
profiles on two Aha! accounts never share a key or a token.
"""

from __future__ import annotations

import httpx

from saas_license.http import (
    BearerAuth,
    MemoryTokenStore,
    OAuth2App,
    OAuth2Auth,
    OAuth2Endpoints,
    OAuth2Token,
    TokenStore,
)
from saas_license.spoke import ConfigError, SpokeContext

__all__ = ["AHA_OAUTH", "auth_for"]

#: Aha!'s OAuth2 endpoints on every account (``https://<account>.aha.io``); Aha! has no scopes.
AHA_OAUTH = OAuth2Endpoints(
    authorize_path="/oauth/authorize",
    token_path="/oauth/token",  # noqa: S106 - a URL path, not a password
)


def _connect_hint(ctx: SpokeContext) -> str:
    return (
        f"connect profile {ctx.profile.name!r} (CLI `connect {ctx.profile.name}`, Python "
        "`ws.profiles.oauth_begin` then `oauth_complete`, or `ws.profiles.connect_api_key`)"
    )


def _oauth(ctx: SpokeContext) -> OAuth2Auth:
    creds = ctx.credentials
    client_id, client_secret = creds.get("client_id"), creds.get("client_secret")
    if client_id is None or client_secret is None:
        missing = "client_id" if client_id is None else "client_secret"
        raise ConfigError(
            f"connection alias {ctx.alias.name!r} uses OAuth2 but has no {missing}",
            field=f"alias.{missing}",
            hint=_connect_hint(ctx),
        )
    store: TokenStore | None = ctx.token_store
    if store is None:
        raw = creds.get("oauth_token")
        token = (
            None
            if raw is None
            else OAuth2Token.loads(raw.reveal(), where=ctx.alias.secret_key("oauth_token"))
        )
        store = MemoryTokenStore(token)
    if store.load() is None:
        raise ConfigError(
            f"connection alias {ctx.alias.name!r} has no OAuth2 token yet",
            field="alias.oauth_token",
            hint=_connect_hint(ctx),
        )
    app = OAuth2App.for_account(
        ctx.alias.base_url,
        AHA_OAUTH,
        client_id=client_id.reveal(),
        client_secret=client_secret,
    )
    return OAuth2Auth(
        app,
        store,
        vendor="Aha!",
        reauthorize_hint=(
            f"re-authorize profile {ctx.profile.name!r} (CLI `connect {ctx.profile.name}`, "
            "Python `ws.profiles.oauth_begin` then `ws.profiles.oauth_complete`)"
        ),
    )


def auth_for(ctx: SpokeContext) -> httpx.Auth:
    """The alias's auth: OAuth2 when it was connected that way, else its API key."""
    creds = ctx.credentials
    oauth = ctx.alias.auth_type == "oauth2" or ("api_key" not in creds and "oauth_token" in creds)
    if oauth:
        return _oauth(ctx)
    key = creds.get("api_key")
    if key is None:
        raise ConfigError(
            f"connection alias {ctx.alias.name!r} has no API key or OAuth2 token",
            field="alias.api_key",
            hint=_connect_hint(ctx),
        )
    return BearerAuth(key)
