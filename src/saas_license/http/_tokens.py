"""OAuth2 tokens and where they are kept: a :class:`TokenStore` protocol and three stores.

Tokens hold their secrets as :class:`~saas_license.Secret`, so reprs, logs and errors never show
them. The default store for a workspace keeps the token in the workspace's owner-only secrets
file; :class:`FileTokenStore` is the same idea for standalone use. Both file stores serialise
refreshes across processes with an OS file lock beside the file (:func:`file_lock`, POSIX
``flock``), because a refresh rotates the refresh token: two processes spending the same one
would lose the token.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs

from .._errors import ConfigError, StoreError
from .._files import file_lock, private_dirs
from .._secrets import Secret, SecretStore

__all__ = [
    "FileTokenStore",
    "LockingTokenStore",
    "MemoryTokenStore",
    "OAuth2Token",
    "SecretTokenStore",
    "TokenStore",
    "file_lock",
]

#: What an OAuth2 error says to do when only a new authorization helps; a spoke may pass its own.
REAUTHORIZE_HINT = (
    "re-authorize this profile (CLI `connect PROFILE`, "
    "Python `ws.profiles.oauth_begin` then `ws.profiles.oauth_complete`)"
)


def _optional_secret(value: Any) -> Secret | None:
    return value if value is None or isinstance(value, Secret) else Secret(value)


def _secret(value: Any) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


@attrs.frozen(kw_only=True)
class OAuth2Token:
    """An access token, perhaps a refresh token, and when the access token expires (epoch s)."""

    access_token: Secret = attrs.field(converter=_secret)
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a password
    refresh_token: Secret | None = attrs.field(default=None, converter=_optional_secret)
    expires_at: float | None = None
    scope: tuple[str, ...] = ()
    obtained_at: float | None = None

    @property
    def refreshable(self) -> bool:
        """True when the server gave a refresh token."""
        return self.refresh_token is not None

    def expires_within(self, seconds: float, *, now: float | None = None) -> bool:
        """True when the access token expires in less than ``seconds`` (never, if no expiry)."""
        if self.expires_at is None:
            return False
        return self.expires_at - (time.time() if now is None else now) < seconds

    def dumps(self) -> str:
        """JSON with the secrets in clear, for a store to keep; never log it."""
        return json.dumps(
            {
                "access_token": self.access_token.reveal(),
                "token_type": self.token_type,
                "refresh_token": self.refresh_token.reveal() if self.refresh_token else None,
                "expires_at": self.expires_at,
                "scope": list(self.scope),
                "obtained_at": self.obtained_at,
            },
            sort_keys=True,
        )

    @classmethod
    def loads(cls, text: str, *, where: str = "token") -> OAuth2Token:
        """Read what :meth:`dumps` wrote; a damaged token is a :class:`ConfigError` naming ``where``."""
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise ConfigError(
                "the stored OAuth token is unreadable",
                field=where,
                hint=REAUTHORIZE_HINT,
            )
        expires = data.get("expires_at")
        obtained = data.get("obtained_at")
        scope = data.get("scope") or []
        return cls(
            access_token=data["access_token"],
            token_type=str(data.get("token_type") or "Bearer"),
            refresh_token=data.get("refresh_token") or None,
            expires_at=float(expires) if isinstance(expires, (int, float)) else None,
            scope=tuple(str(s) for s in scope) if isinstance(scope, list) else (),
            obtained_at=float(obtained) if isinstance(obtained, (int, float)) else None,
        )


@runtime_checkable
class TokenStore(Protocol):
    """Somewhere to keep one connection's OAuth2 token between runs."""

    def load(self) -> OAuth2Token | None:
        """The stored token, or None when there is none yet."""

    def save(self, token: OAuth2Token) -> None:
        """Replace the stored token (atomically: a crash leaves the old or the new one)."""


@runtime_checkable
class LockingTokenStore(TokenStore, Protocol):
    """A :class:`TokenStore` other processes share: refreshes happen under its lock.

    :class:`OAuth2Auth` takes the lock, re-reads the token, and refreshes only when no other
    process did so meanwhile; otherwise it uses the token the other process stored.
    """

    def refresh_lock(self) -> AbstractContextManager[None]:
        """An exclusive lock, across processes, for the read-refresh-save of this token."""


class MemoryTokenStore:
    """Keeps the token in this process only (tests, notebooks, one-off scripts)."""

    def __init__(self, token: OAuth2Token | None = None) -> None:
        self._token = token

    def __repr__(self) -> str:
        return f"MemoryTokenStore(has_token={self._token is not None})"

    def load(self) -> OAuth2Token | None:
        """The token, if any."""
        return self._token

    def save(self, token: OAuth2Token) -> None:
        """Replace the token."""
        self._token = token


class SecretTokenStore:
    """Keeps the token under ``key`` in a workspace :class:`~saas_license.SecretStore` (mode 0600)."""

    def __init__(self, secrets: SecretStore, key: str) -> None:
        self.secrets = secrets
        self.key = key

    def __repr__(self) -> str:
        return f"SecretTokenStore(key={self.key!r})"

    def load(self) -> OAuth2Token | None:
        """The token, if any."""
        secret = self.secrets.get(self.key)
        return None if secret is None else OAuth2Token.loads(secret.reveal(), where=self.key)

    def save(self, token: OAuth2Token) -> None:
        """Replace the token."""
        self.secrets.set(self.key, Secret(token.dumps()))

    def refresh_lock(self) -> AbstractContextManager[None]:
        """``flock`` on ``<secrets file>.lock``: one refresh at a time across processes."""
        path = self.secrets.path
        return file_lock(path.with_name(path.name + ".lock"))


class FileTokenStore:
    """Keeps the token in its own JSON file that only its owner may read (mode 0600).

    A file that others can read is refused rather than used: fix it with ``chmod 600``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"FileTokenStore(path={str(self.path)!r})"

    def load(self) -> OAuth2Token | None:
        """The token, if the file exists."""
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return None
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"the token file {self.path} is readable by other users",
                field="token_store.path",
                hint=f"run `chmod 600 {self.path}` or re-authorize to write it again",
            )
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"cannot read the token file {self.path}: {exc.strerror}") from None
        return OAuth2Token.loads(text, where=str(self.path))

    def save(self, token: OAuth2Token) -> None:
        """Write the token atomically with mode 0600."""
        private_dirs(self.path.parent)  # owner-only when we create it; never chmod an existing one
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".token-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(token.dumps())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def refresh_lock(self) -> AbstractContextManager[None]:
        """``flock`` on ``<token file>.lock``: one refresh at a time across processes."""
        return file_lock(self.path.with_name(self.path.name + ".lock"))
