"""A faithful fake of the Aha! v1 API subset license management uses: users, me, audits, OAuth2.

One request handler (:class:`SandboxApp`), two ways to reach it: an in-process httpx transport
(``app.transport()``) for tests, and a real HTTP server on 127.0.0.1 (:class:`SandboxServer`)
for the demo, benchmarks and any third-party Aha! client. Rate limits and faults are opt-in.
"""

from ._accounts import INTEGRATION_USER_ID, generate_audits, generate_users, iter_users
from ._app import DEFAULT_OAUTH_CLIENT, SandboxApp, SandboxStats
from ._faults import Fault, SandboxFaults, SandboxTimeout
from ._limits import AHA_LIMITS, ServerRateLimiter
from ._server import SandboxServer

__all__ = [
    "AHA_LIMITS",
    "DEFAULT_OAUTH_CLIENT",
    "INTEGRATION_USER_ID",
    "Fault",
    "SandboxApp",
    "SandboxFaults",
    "SandboxServer",
    "SandboxStats",
    "SandboxTimeout",
    "ServerRateLimiter",
    "generate_audits",
    "generate_users",
    "iter_users",
]
