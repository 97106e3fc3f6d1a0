"""A faithful fake of the Aha! v1 users API: in-process (httpx transport) or real HTTP on 127.0.0.1."""

from ._accounts import INTEGRATION_USER_ID, generate_users
from ._app import SandboxApp
from ._server import SandboxServer

__all__ = ["INTEGRATION_USER_ID", "SandboxApp", "SandboxServer", "generate_users"]
