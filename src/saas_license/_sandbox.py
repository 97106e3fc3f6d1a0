"""The sandbox contract: how a spoke offers a fake account of its vendor for ``demo`` and ``sandbox serve``.

A spoke answers the ``saas_license_sandbox`` hook with a :class:`SandboxOffer`; the core starts it
with :class:`SandboxSettings` and talks to the :class:`RunningSandbox` it gets back. The core
never names a vendor: everything vendor-specific (keys, limits, fault knobs) stays in the spoke.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

__all__ = ["RunningSandbox", "SandboxOffer", "SandboxSettings"]


@attrs.frozen(kw_only=True)
class SandboxSettings:
    """What the core asks of a sandbox: account size, seed, where to listen, spoke options.

    ``options`` holds the values of the spoke's own ``sandbox serve`` options (see the
    ``saas_license_cli_options`` hook), keyed by parameter name; empty for ``demo``. ``anchor``
    is the instant the account's dates count back from (None: now), so a pinned clock gives
    the same account every day.
    """

    users: int
    seed: int | None = None
    port: int = 0
    log_requests: bool = False
    options: Mapping[str, Any] = attrs.field(factory=dict)
    anchor: dt.datetime | None = None


class RunningSandbox(Protocol):
    """A fake vendor account listening on 127.0.0.1 (bound, not yet serving)."""

    @property
    def base_url(self) -> str:
        """Where a connection alias should point."""
        ...

    @property
    def credentials(self) -> Mapping[str, str]:
        """Keyword arguments for ``ws.profiles.add_alias`` that let the spoke in (e.g. ``api_key``)."""
        ...

    def banner(self) -> list[str]:
        """Lines ``sandbox serve`` prints after the base URL: credentials, limits, how to try it."""
        ...

    def start(self) -> None:
        """Serve in a background thread (the demo)."""
        ...

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (``sandbox serve``)."""
        ...

    def stop(self) -> None:
        """Stop serving and release the port."""
        ...


@attrs.frozen(kw_only=True)
class SandboxOffer:
    """A spoke's fake vendor account: a title for people and how to start one.

    ``open`` binds the port (an ``OSError`` when it is taken) and returns the sandbox unstarted.
    """

    title: str
    description: str
    open: Callable[[SandboxSettings], RunningSandbox]
