"""saas-license: SaaS license management as a library.

Spokes (vendor connectors) download who holds which seat and when each user was last active;
the core applies exclusion and reclamation rules, plans reclaims (dry run by default) and keeps
everything in a workspace store. Start with :class:`Workspace`.

This root holds what an application uses; spoke authors import :mod:`saas_license.spoke` and
:mod:`saas_license.http`. Names are imported on first use, so ``import saas_license`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_getattr

if TYPE_CHECKING:
    from ._audit import AuditEntry, AuditVerification
    from ._boundary import QuarantinedRecord
    from ._candidates.records import CandidateState, RemovalCandidate
    from ._errors import (
        ProfileStateError,
        RunInProgressError,
        SaasLicenseError,
        SpokeNotFoundError,
        StoreError,
        WorkspaceBusyError,
    )
    from ._evaluation import EvaluationPolicy, Verdict
    from ._finance.csv_import import CsvImportError
    from ._finance.entitlements import Entitlement
    from ._finance.pricing import UnitPrice
    from ._finance.reconciliation import Reconciliation
    from ._finance.savings import SavingsSummary
    from ._jobs import JobResult, JobStatus
    from ._links import LinkError
    from ._models import SoftwareModel, UnrecognizedIdentifier
    from ._notify import Notification
    from ._paths import default_workspace_path
    from ._pipeline import RunReport
    from ._profiles import Processes, ProfileStatus
    from ._reclaim.apply import ApplyReport
    from ._reclaim.confirm import ReconcileReport
    from ._reclaim.records import PlanItem, ReclaimPlan
    from ._reclaim.undo import UndoResult
    from ._rule_impact import BigChangeError
    from ._rules import ExclusionRule, ReclamationRule
    from ._secrets import Secret
    from ._tables import Table
    from ._workspace import Workspace
    from .hookspecs import hookimpl
    from .http import HttpOptions
    from .spoke import (
        ConfigError,
        ConnectionAlias,
        IntegrationProfile,
        Process,
        SpokeError,
        Subscription,
        ValidationReport,
        VendorError,
    )

__version__ = "0.1.0"

#: Where each public name lives (imported on first access, then cached in the module).
_HOMES = {
    "LinkError": "._links",
    "ApplyReport": "._reclaim.apply",
    "AuditEntry": "._audit",
    "AuditVerification": "._audit",
    "BigChangeError": "._rule_impact",
    "CandidateState": "._candidates.records",
    "ConfigError": ".spoke",
    "ConnectionAlias": ".spoke",
    "CsvImportError": "._finance.csv_import",
    "default_workspace_path": "._paths",
    "Entitlement": "._finance.entitlements",
    "EvaluationPolicy": "._evaluation",
    "ExclusionRule": "._rules",
    "hookimpl": ".hookspecs",
    "HttpOptions": ".http",
    "IntegrationProfile": ".spoke",
    "JobResult": "._jobs",
    "JobStatus": "._jobs",
    "Notification": "._notify",
    "PlanItem": "._reclaim.records",
    "Process": ".spoke",
    "Processes": "._profiles",
    "ProfileStateError": "._errors",
    "ProfileStatus": "._profiles",
    "QuarantinedRecord": "._boundary",
    "ReclaimPlan": "._reclaim.records",
    "ReclamationRule": "._rules",
    "ReconcileReport": "._reclaim.confirm",
    "Reconciliation": "._finance.reconciliation",
    "RemovalCandidate": "._candidates.records",
    "RunInProgressError": "._errors",
    "RunReport": "._pipeline",
    "SaasLicenseError": "._errors",
    "SavingsSummary": "._finance.savings",
    "Secret": "._secrets",
    "SoftwareModel": "._models",
    "SpokeError": ".spoke",
    "SpokeNotFoundError": "._errors",
    "StoreError": "._errors",
    "Subscription": ".spoke",
    "Table": "._tables",
    "UndoResult": "._reclaim.undo",
    "UnitPrice": "._finance.pricing",
    "UnrecognizedIdentifier": "._models",
    "ValidationReport": ".spoke",
    "VendorError": ".spoke",
    "Verdict": "._evaluation",
    "Workspace": "._workspace",
    "WorkspaceBusyError": "._errors",
}


__getattr__ = lazy_getattr(__name__, _HOMES, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ApplyReport",
    "AuditEntry",
    "AuditVerification",
    "BigChangeError",
    "CandidateState",
    "ConfigError",
    "ConnectionAlias",
    "CsvImportError",
    "Entitlement",
    "EvaluationPolicy",
    "ExclusionRule",
    "HttpOptions",
    "IntegrationProfile",
    "JobResult",
    "JobStatus",
    "LinkError",
    "Notification",
    "PlanItem",
    "Process",
    "Processes",
    "ProfileStateError",
    "ProfileStatus",
    "QuarantinedRecord",
    "ReclaimPlan",
    "ReclamationRule",
    "ReconcileReport",
    "Reconciliation",
    "RemovalCandidate",
    "RunInProgressError",
    "RunReport",
    "SaasLicenseError",
    "SavingsSummary",
    "Secret",
    "SoftwareModel",
    "SpokeError",
    "SpokeNotFoundError",
    "StoreError",
    "Subscription",
    "Table",
    "UndoResult",
    "UnitPrice",
    "UnrecognizedIdentifier",
    "ValidationReport",
    "VendorError",
    "Verdict",
    "Workspace",
    "WorkspaceBusyError",
    "__version__",
    "default_workspace_path",
    "hookimpl",
]
