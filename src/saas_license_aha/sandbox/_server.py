"""Serve a :class:`SandboxApp` over real HTTP on 127.0.0.1 (the kit's server, with the control channel)."""

from __future__ import annotations

from saas_license.testing import FakeServer

from ._app import CONTROL_PREFIX, SandboxApp

__all__ = ["SandboxServer"]


class SandboxServer(FakeServer):
    """A real HTTP server on ``host`` (loopback only) in a background thread; use as a context manager.

    Besides Aha!'s API it answers the control channel (``/__sandbox/…``, see
    :meth:`SandboxApp.control`), so tests in other processes can change the account and the
    fault knobs while it runs.
    """

    app: SandboxApp

    def __init__(
        self, app: SandboxApp, *, host: str = "127.0.0.1", port: int = 0, verbose: bool = False
    ) -> None:
        super().__init__(
            app,
            host=host,
            port=port,
            verbose=verbose,
            control_prefix=CONTROL_PREFIX,
            name="aha-sandbox",
        )

    def __enter__(self) -> SandboxServer:
        self.start()
        return self
