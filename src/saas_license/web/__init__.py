"""The web console and answer pages: a mountable ASGI app (``pip install 'saas-license[server]'``).

``create_app(workspace, auth=...)`` returns a Starlette application; ``saas-license serve`` runs
it with the scheduler on one port. Names load on first use, so the user records (used by the
CLI's ``users`` commands) work without the server extra installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._app import create_app
    from ._auth import PasswordAuth, ProxyHeaderAuth, Throttle
    from ._users import Role, Users, WebUser

__all__ = [
    "PasswordAuth",
    "ProxyHeaderAuth",
    "Role",
    "Throttle",
    "Users",
    "WebUser",
    "create_app",
]

_WHERE = {
    "create_app": "._app",
    "PasswordAuth": "._auth",
    "ProxyHeaderAuth": "._auth",
    "Throttle": "._auth",
    "Role": "._users",
    "Users": "._users",
    "WebUser": "._users",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
