"""A faithful fake of the Aha! v1 API subset license management uses: users, me, audits, OAuth2.

One request handler (:class:`SandboxApp`), two ways to reach it: an in-process httpx transport
(``app.transport()``) for tests, and a real HTTP server on 127.0.0.1 (:class:`SandboxServer`)
for the demo, benchmarks and any third-party Aha! client. Rate limits and faults are opt-in;
``strict_shapes=True`` refuses every request Aha! does not document; ``/__sandbox/…`` is the
control channel for tests in other processes.
"""

from ._accounts import INTEGRATION_USER_ID, generate_audits, generate_users, iter_users
from ._app import DEFAULT_OAUTH_CLIENT, SandboxApp, SandboxStats
from ._faults import Fault, SandboxFaults, SandboxLostAnswer, SandboxTimeout
from ._limits import AHA_LIMITS, ServerRateLimiter
from ._server import SandboxServer

__all__ = [
    "AHA_LIMITS",
    "DEFAULT_OAUTH_CLIENT",
    "INTEGRATION_USER_ID",
    "Fault",
    "SandboxApp",
    "SandboxFaults",
    "SandboxLostAnswer",
    "SandboxServer",
    "SandboxStats",
    "SandboxTimeout",
    "ServerRateLimiter",
    "generate_audits",
    "generate_users",
    "iter_users",
]
