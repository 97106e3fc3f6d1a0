"""What reconciliation returns beyond :class:`~saas_license.Reconciliation` itself: its three
tiers, allocations, and remediation options with their statuses and actions (see
docs/reconciliation.md and docs/entitlements.md).

A notebook or script reads :class:`ProductResult`, :class:`ReconciliationRow` and
:class:`MetricResult` from ``ws.finance.reconcile()``, allocates rights with
``ws.finance.allocate`` (an :class:`Allocation`), and acts on :class:`RemediationOption` through
``ws.finance.remediation`` (:class:`Remediations`, returning an :class:`ActResult`).
"""

from __future__ import annotations

from ._candidates.records import Justification
from ._finance.allocations import Allocation
from ._finance.reconciliation import (
    LicenseMetric,
    MetricResult,
    ProductResult,
    ReconciliationRow,
    Remediation,
    RemediationOption,
    RemediationStatus,
    UnlicensedSubscription,
)
from ._workspace.remediation import ActResult, Remediations

__all__ = [
    "ActResult",
    "Allocation",
    "Justification",
    "LicenseMetric",
    "MetricResult",
    "ProductResult",
    "ReconciliationRow",
    "Remediation",
    "RemediationOption",
    "RemediationStatus",
    "Remediations",
    "UnlicensedSubscription",
]
