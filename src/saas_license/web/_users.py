"""The people who may sign in to the console: a name, a role, a scrypt password hash.

They live in the workspace (its ``meta`` table, one JSON document), so the CLI manages them
without the server extra installed, and every change is audited like any other.
"""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import hmac
import json
import re
import secrets
from typing import TYPE_CHECKING, Any

import attrs

from .._errors import ConfigError

if TYPE_CHECKING:
    from .._workspace import Workspace

__all__ = ["Role", "Users", "WebUser", "hash_password", "verify_password"]

META_KEY = "web.users"

#: scrypt cost: 2**15 x 8 x 1 takes ~32 MiB and ~0.1 s per check, the cost OWASP suggests.
_N, _R, _P, _LEN = 2**15, 8, 1, 32
_MAXMEM = 64 * 1024 * 1024

_NAME = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")
MIN_PASSWORD = 12


class Role(str, enum.Enum):
    """What a signed-in person may do: ``viewer`` reads, ``approver`` also acts on candidates,
    ``admin`` also runs profiles, applies plans and edits entitlements."""

    VIEWER = "viewer"
    APPROVER = "approver"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """True when this role includes ``needed`` (admin ⊃ approver ⊃ viewer)."""
        order = [Role.VIEWER, Role.APPROVER, Role.ADMIN]
        return order.index(self) >= order.index(needed)


@attrs.frozen(kw_only=True)
class WebUser:
    """A person signed in to the console: their name (the audit log's actor) and role."""

    name: str
    role: Role


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` as one self-describing string."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_LEN, maxmem=_MAXMEM
    )
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (a :func:`hash_password` string); constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
            maxmem=_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


@functools.cache
def _dummy() -> str:
    """Checked when the name is unknown, so a wrong name costs as much time as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


class Users:
    """The console's users of one workspace: add, remove, set a role or password, check a sign-in."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def _load(self) -> dict[str, dict[str, Any]]:
        raw = self._ws.store.get_meta(META_KEY)
        data: dict[str, dict[str, Any]] = json.loads(raw) if raw else {}
        return data

    def _save(self, data: dict[str, dict[str, Any]]) -> None:
        self._ws.store.set_meta(META_KEY, json.dumps(data, sort_keys=True))

    def all(self) -> list[WebUser]:
        """Every user, by name."""
        return [WebUser(name=n, role=Role(d["role"])) for n, d in sorted(self._load().items())]

    def get(self, name: str) -> WebUser | None:
        """The user called ``name``, or None."""
        found = self._load().get(name)
        return None if found is None else WebUser(name=name, role=Role(found["role"]))

    def session_epoch(self, name: str) -> str | None:
        """A value that changes whenever the user's password or role changes (ends sessions)."""
        found = self._load().get(name)
        if found is None:
            return None
        text = f"{found['role']}|{found.get('password') or ''}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def add(
        self, name: str, *, role: Role | str, password: str | None, actor: str = "user"
    ) -> WebUser:
        """Add a user (``password`` None: can sign in only through a trusted proxy header)."""
        if not _NAME.match(name):
            raise ConfigError(
                f"{name!r} is not a usable user name",
                field="name",
                hint="use 1-64 letters, digits and . _ @ + - (an e-mail address works)",
            )
        role = _role(role)
        with self._ws.store.transaction():
            data = self._load()
            if name in data:
                raise ConfigError(
                    f"a user called {name!r} exists already",
                    field="name",
                    hint="set their role or password instead, or remove them first",
                )
            data[name] = {"role": role.value, "password": _checked_hash(password)}
            self._save(data)
            self._ws._audit(
                "web.user_added", "web_user", name, None, {"role": role.value}, actor=actor
            )
        return WebUser(name=name, role=role)

    def set_role(self, name: str, role: Role | str, *, actor: str = "user") -> WebUser:
        """Change a user's role (their open sessions end)."""
        role = _role(role)
        with self._ws.store.transaction():
            data = self._load()
            old = self._need(data, name)
            data[name] = {**old, "role": role.value}
            self._save(data)
            self._ws._audit(
                "web.user_role",
                "web_user",
                name,
                {"role": old["role"]},
                {"role": role.value},
                actor=actor,
            )
        return WebUser(name=name, role=role)

    def set_password(self, name: str, password: str | None, *, actor: str = "user") -> None:
        """Set or clear a user's password (their open sessions end)."""
        with self._ws.store.transaction():
            data = self._load()
            old = self._need(data, name)
            data[name] = {**old, "password": _checked_hash(password)}
            self._save(data)
            self._ws._audit(
                "web.user_password", "web_user", name, None, None, actor=actor, detail="changed"
            )

    def remove(self, name: str, *, actor: str = "user") -> None:
        """Remove a user (their open sessions end)."""
        with self._ws.store.transaction():
            data = self._load()
            old = self._need(data, name)
            del data[name]
            self._save(data)
            self._ws._audit(
                "web.user_removed", "web_user", name, {"role": old["role"]}, None, actor=actor
            )

    def check(self, name: str, password: str) -> WebUser | None:
        """The user when ``password`` is theirs, else None (same cost for unknown names)."""
        found = self._load().get(name)
        stored = (found or {}).get("password") or _dummy()
        ok = verify_password(password, stored)
        if found is None or not found.get("password") or not ok:
            return None
        return WebUser(name=name, role=Role(found["role"]))

    @staticmethod
    def _need(data: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
        if name not in data:
            raise ConfigError(
                f"no console user called {name!r}",
                field="name",
                hint="list the users to see their names",
            )
        return data[name]


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ConfigError(
            f"{role!r} is not a role",
            field="role",
            hint="use one of: " + ", ".join(r.value for r in Role),
        ) from None


def _checked_hash(password: str | None) -> str | None:
    if password is None:
        return None
    if len(password) < MIN_PASSWORD:
        raise ConfigError(
            f"the password is too short ({len(password)} characters)",
            field="password",
            hint=f"use at least {MIN_PASSWORD} characters (a passphrase works well)",
        )
    return hash_password(password)
