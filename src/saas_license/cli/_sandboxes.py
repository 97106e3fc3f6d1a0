"""Finding the fake vendor account a spoke offers (the ``sandbox`` hook) for ``demo`` and ``sandbox serve``."""

from __future__ import annotations

from .._errors import SpokeNotFoundError
from .._plugins import Spoke, SpokeRegistry
from .._sandbox import SandboxOffer

__all__ = ["find_sandbox", "offering"]


def offering(registry: SpokeRegistry) -> list[tuple[Spoke, SandboxOffer]]:
    """The installed spokes that offer a sandbox, by name."""
    found = []
    for spoke in registry:
        offer = spoke.sandbox()
        if offer is not None:
            found.append((spoke, offer))
    return found


def find_sandbox(registry: SpokeRegistry, name: str | None) -> tuple[Spoke, SandboxOffer]:
    """The sandbox of spoke ``name``, or of the first spoke (by name) that offers one."""
    if name is not None:
        spoke = registry.get(name)
        offer = spoke.sandbox()
        if offer is None:
            raise SpokeNotFoundError(
                f"spoke {name!r} offers no sandbox",
                hint="pick another --spoke; `saas-license spokes` lists what is installed",
            )
        return spoke, offer
    found = offering(registry)
    if not found:
        raise SpokeNotFoundError(
            "no installed spoke offers a sandbox",
            hint="install a spoke that implements the saas_license_sandbox hook",
        )
    return found[0]
