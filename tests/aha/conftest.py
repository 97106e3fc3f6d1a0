"""Every strict sandbox made in these tests must end without refusals (our requests are all
documented), except where a test refuses on purpose (its name says ``refuse``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from saas_license_aha.sandbox import SandboxApp


@pytest.fixture(autouse=True)
def _no_undocumented_requests(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    made: list[SandboxApp] = []
    original = SandboxApp.__init__

    def tracking(self: SandboxApp, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(self)

    monkeypatch.setattr(SandboxApp, "__init__", tracking)
    yield
    if "refuse" not in request.node.name:
        refused = [r for app in made for r in app.refusals]
        assert not refused, f"undocumented requests reached a strict sandbox: {refused}"
