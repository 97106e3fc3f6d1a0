"""A made-up spoke that offers only a sandbox built with the kit (for the CLI's ``--spoke`` test)."""

from __future__ import annotations

from saas_license.spoke import SandboxOffer, SandboxSettings, SpokeInfo, hookimpl
from saas_license.testing import FakeAuth, FakeServer, FakeVendor, Offsets, ServedSandbox

KEY = "acme-key"


@hookimpl
def saas_license_spoke_info() -> SpokeInfo:
    """Describe the made-up Acme spoke."""
    return SpokeInfo(
        name="acme", display_name="Acme", profile_type="acme", permissions=(), identifiers=()
    )


def _open(settings: SandboxSettings) -> ServedSandbox:
    vendor = FakeVendor(
        user_count=settings.users,
        seed=7 if settings.seed is None else settings.seed,
        listing=Offsets(),
        auth=FakeAuth.api_key(KEY),
    )
    server = FakeServer(vendor, port=settings.port, verbose=settings.log_requests)
    return ServedSandbox(server, credentials={"api_key": KEY}, banner=[f"API key:  {KEY}"])


@hookimpl
def saas_license_sandbox() -> SandboxOffer:
    """A fake Acme API built with the kit."""
    return SandboxOffer(title="Acme sandbox", description="a fake Acme API", open=_open)
