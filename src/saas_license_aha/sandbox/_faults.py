"""The sandbox's fault knobs: the fake-vendor kit's, under the names the Aha! sandbox has always used."""

from __future__ import annotations

from saas_license.testing import FakeTimeout, Fault, FaultPlan, Faults, LostAnswer

__all__ = ["Fault", "FaultPlan", "SandboxFaults", "SandboxLostAnswer", "SandboxTimeout"]

#: Per-request fault rates, latency and record reshaping (:class:`saas_license.testing.Faults`).
SandboxFaults = Faults
#: Raised in process for a timeout fault (:class:`saas_license.testing.FakeTimeout`).
SandboxTimeout = FakeTimeout
#: Raised in process for a lost update answer (:class:`saas_license.testing.LostAnswer`).
SandboxLostAnswer = LostAnswer
