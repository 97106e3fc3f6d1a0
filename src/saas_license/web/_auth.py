"""Who is asking: signed session cookies that expire, throttled sign-in, a trusted proxy header,
and the CSRF token every form carries."""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Union

from starlette.requests import Request

from .._secrets import Secret
from ._users import Role, Users, WebUser

if TYPE_CHECKING:
    from .._workspace import Workspace

__all__ = [
    "Authenticator",
    "Keys",
    "PasswordAuth",
    "ProxyHeaderAuth",
    "Throttle",
]

SESSION_COOKIE = "sl_session"
CSRF_COOKIE = "sl_csrf"
_KEY_NAME = "web.session_key"


class Keys:
    """The workspace's signing key (kept in its secret store, made on first use) and what it signs."""

    def __init__(self, ws: Workspace) -> None:
        found = ws.secrets.get(_KEY_NAME)
        if found is None:
            found = Secret(secrets.token_urlsafe(32))
            ws.secrets.set(_KEY_NAME, found)
        self._key = found.reveal().encode()

    def sign(self, purpose: str, text: str) -> str:
        """An HMAC of ``text`` for one ``purpose`` (session, csrf…), URL-safe."""
        mac = hmac.new(self._key, f"{purpose}|{text}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def check(self, purpose: str, text: str, mac: str) -> bool:
        """True when ``mac`` is :meth:`sign` of ``text`` for ``purpose`` (constant time)."""
        return hmac.compare_digest(self.sign(purpose, text), mac)

    def csrf_token(self, browser_nonce: str) -> str:
        """The token a form carries, bound to the browser's CSRF cookie."""
        return self.sign("csrf", browser_nonce)


class Throttle:
    """Failed sign-ins per name and per client address; too many in ``window`` seconds blocks
    further attempts until the oldest failure ages out."""

    def __init__(
        self,
        *,
        per_name: int = 5,
        per_address: int = 20,
        window: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_name, self.per_address, self.window, self._clock = (
            per_name,
            per_address,
            window,
            clock,
        )
        self._fails: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> collections.deque[float]:
        found = self._fails.setdefault(key, collections.deque())
        while found and found[0] <= now - self.window:
            found.popleft()
        return found

    def wait(self, name: str, address: str) -> float:
        """Seconds until ``name`` from ``address`` may try again (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [0.0]
            for key, limit in (
                (f"n:{name.lower()}", self.per_name),
                (f"a:{address}", self.per_address),
            ):
                recent = self._recent(key, now)
                if len(recent) >= limit:
                    waits.append(recent[0] + self.window - now)
            return max(waits)

    def failed(self, name: str, address: str) -> None:
        """Count one failed attempt."""
        now = self._clock()
        with self._lock:
            for key in (f"n:{name.lower()}", f"a:{address}"):
                self._recent(key, now).append(now)

    def succeeded(self, name: str) -> None:
        """Forget the name's failures after a good sign-in."""
        with self._lock:
            self._fails.pop(f"n:{name.lower()}", None)


class PasswordAuth:
    """Sign-in with a name and password (users from the workspace), a signed session cookie
    that expires after ``session_hours``, and throttled attempts."""

    sign_in_page = True

    def __init__(
        self,
        *,
        session_hours: float = 8.0,
        throttle: Throttle | None = None,
        secure_cookies: bool | None = None,
    ) -> None:
        self.session_seconds = int(session_hours * 3600)
        self.throttle = throttle or Throttle()
        #: None: mark cookies Secure when the request came over https.
        self.secure_cookies = secure_cookies

    def session_value(self, keys: Keys, users: Users, user: WebUser, *, now: float) -> str:
        """The cookie value of a new session for ``user``."""
        body = json.dumps(
            {
                "u": user.name,
                "e": users.session_epoch(user.name),
                "x": int(now) + self.session_seconds,
            },
            separators=(",", ":"),
        )
        text = base64.urlsafe_b64encode(body.encode()).decode()
        return f"{text}.{keys.sign('session', text)}"

    def identify(self, request: Request, keys: Keys, users: Users) -> WebUser | None:
        """The user of a valid, unexpired session whose password and role did not change since."""
        raw = request.cookies.get(SESSION_COOKIE, "")
        text, _, mac = raw.partition(".")
        if not text or not mac or not keys.check("session", text, mac):
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(text.encode()))
            name, epoch, expires = str(body["u"]), body["e"], int(body["x"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires <= time.time():
            return None
        if users.session_epoch(name) != epoch:
            return None
        return users.get(name)


class ProxyHeaderAuth:
    """Single sign-on through a reverse proxy that authenticates people and passes their name in
    ``header``. Trusted only from ``trusted`` client addresses (the proxy); the role comes from
    the workspace's users, or ``default_role`` for names not listed (None: refused)."""

    sign_in_page = False

    def __init__(
        self,
        header: str = "X-Forwarded-User",
        *,
        trusted: tuple[str, ...] = ("127.0.0.1", "::1"),
        default_role: Role | None = None,
    ) -> None:
        self.header = header
        self.trusted = trusted
        self.default_role = default_role

    def identify(self, request: Request, keys: Keys, users: Users) -> WebUser | None:
        """The user the proxy names, when the request came from the proxy."""
        # the proxy's own address when create_app(trusted_proxies=...) rewrote the client's
        client = request.scope.get("saas_license.peer") or (
            request.client.host if request.client else ""
        )
        if client not in self.trusted:
            return None
        name = request.headers.get(self.header, "").strip()
        if not name:
            return None
        found = users.get(name)
        if found is not None:
            return found
        return None if self.default_role is None else WebUser(name=name, role=self.default_role)


#: An application's own authentication: given the request, the signed-in person or None.
IdentifyCallable = Callable[[Request], WebUser | None]

#: What ``create_app(auth=...)`` takes.
Authenticator = Union[PasswordAuth, ProxyHeaderAuth, IdentifyCallable]  # noqa: UP007 - a runtime alias on 3.10
