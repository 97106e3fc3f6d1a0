"""saas-license: SaaS license management as a library.

Spokes (vendor connectors) download who holds which seat and when each user was last active;
the core applies exclusion and reclamation rules, plans reclaims (dry run by default) and keeps
everything in a workspace store.
"""

from ._plugins import PluginProblem, Spoke, SpokeRegistry, make_plugin_manager
from .apply import ApplyOutcome, ApplyReport, ReconcileReport, ResolvedReclaim, UndoResult
from .audit import AuditEntry, AuditProblem, AuditVerification
from .boundary import QuarantinedRecord
from .candidates import (
    OPEN_STATES,
    CandidateState,
    Justification,
    RemovalCandidate,
    UserResponse,
)
from .entitlements import (
    Entitlement,
    EntitlementPriceBook,
    EntitlementState,
    SubscriptionPeriod,
)
from .entitlements_csv import CsvImportError, RowProblem, read_entitlements_csv
from .errors import (
    AuthenticationError,
    BadPayloadError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    ProfileStateError,
    RateLimitedError,
    RunInProgressError,
    SaasLicenseError,
    ServerError,
    SpokeError,
    SpokeNotFoundError,
    StoreError,
    VendorConnectionError,
    VendorError,
    VendorTimeoutError,
    WorkspaceBusyError,
)
from .evaluation import Assessment, Evaluation, EvaluationPolicy, Verdict, assess, evaluate
from .hookspecs import hookimpl
from .http import HttpOptions, InconsistentListingError, OAuth2Token, RateLimit, TokenStore
from .jobs import JobResult, JobStatus, RunLock, ScheduledJob
from .lifecycle import CandidateEvent, InvalidTransitionError, Route
from .models import UnrecognizedIdentifier
from .notify import DeliveryStatus, Notification, NotificationKind, NotifierRegistry
from .pipeline import RunReport, ScheduledRun, build_plan, run_profile
from .pricing import NoPrices, PriceBook, UnitPrice
from .profiles import (
    ConnectionAlias,
    IntegrationProfile,
    OptionSpec,
    Process,
    Processes,
    ProfileStatus,
)
from .reclaim import HeldItem, PlanAction, PlanItem, ReclaimAction, ReclaimPlan
from .reconciliation import (
    ActivityBuckets,
    ReclaimOpportunity,
    Reconciliation,
    ReconciliationRow,
    Remediation,
    RemediationOption,
    UnlicensedSubscription,
    UnmappedIdentifier,
    reconcile,
)
from .rules import (
    ExclusionEffect,
    ExclusionKind,
    ExclusionRule,
    ReclamationRule,
    RuleSet,
    load_rule_set,
)
from .savings import SavingsSummary
from .secrets import Secret, SecretStore
from .spokes import (
    Identity,
    ProcessPermission,
    ReclaimResult,
    ReclaimStatus,
    SpokeContext,
    SpokeInfo,
    ValidationCheck,
    ValidationReport,
)
from .store import SqliteStore, Store
from .subscriptions import (
    ActivityRecord,
    CurrentUser,
    KnownIdentifier,
    SoftwareModel,
    Subscription,
    SubscriptionRecord,
)
from .tables import Table
from .workflow import CandidateWorkflow
from .workspace import Workspace, default_workspace_path

__version__ = "0.1.0"

__all__ = [
    "OPEN_STATES",
    "ActivityBuckets",
    "ActivityRecord",
    "ApplyOutcome",
    "ApplyReport",
    "Assessment",
    "AuditEntry",
    "AuditProblem",
    "AuditVerification",
    "AuthenticationError",
    "BadPayloadError",
    "CandidateEvent",
    "CandidateState",
    "CandidateWorkflow",
    "ConfigError",
    "ConnectionAlias",
    "CsvImportError",
    "CurrentUser",
    "DeliveryStatus",
    "Entitlement",
    "EntitlementPriceBook",
    "EntitlementState",
    "Evaluation",
    "EvaluationPolicy",
    "ExclusionEffect",
    "ExclusionKind",
    "ExclusionRule",
    "HeldItem",
    "HttpOptions",
    "Identity",
    "InconsistentListingError",
    "IntegrationProfile",
    "InvalidTransitionError",
    "JobResult",
    "JobStatus",
    "Justification",
    "KnownIdentifier",
    "NoPrices",
    "NotFoundError",
    "Notification",
    "NotificationKind",
    "NotifierRegistry",
    "OAuth2Token",
    "OptionSpec",
    "PermissionDeniedError",
    "PlanAction",
    "PlanItem",
    "PluginProblem",
    "PriceBook",
    "Process",
    "ProcessPermission",
    "Processes",
    "ProfileStateError",
    "ProfileStatus",
    "QuarantinedRecord",
    "RateLimit",
    "RateLimitedError",
    "ReclaimAction",
    "ReclaimOpportunity",
    "ReclaimPlan",
    "ReclaimResult",
    "ReclaimStatus",
    "ReclamationRule",
    "ReconcileReport",
    "Reconciliation",
    "ReconciliationRow",
    "Remediation",
    "RemediationOption",
    "RemovalCandidate",
    "ResolvedReclaim",
    "Route",
    "RowProblem",
    "RuleSet",
    "RunInProgressError",
    "RunLock",
    "RunReport",
    "SaasLicenseError",
    "SavingsSummary",
    "ScheduledJob",
    "ScheduledRun",
    "Secret",
    "SecretStore",
    "ServerError",
    "SoftwareModel",
    "Spoke",
    "SpokeContext",
    "SpokeError",
    "SpokeInfo",
    "SpokeNotFoundError",
    "SpokeRegistry",
    "SqliteStore",
    "Store",
    "StoreError",
    "Subscription",
    "SubscriptionPeriod",
    "SubscriptionRecord",
    "Table",
    "TokenStore",
    "UndoResult",
    "UnitPrice",
    "UnlicensedSubscription",
    "UnmappedIdentifier",
    "UnrecognizedIdentifier",
    "UserResponse",
    "ValidationCheck",
    "ValidationReport",
    "VendorConnectionError",
    "VendorError",
    "VendorTimeoutError",
    "Verdict",
    "Workspace",
    "WorkspaceBusyError",
    "__version__",
    "assess",
    "build_plan",
    "default_workspace_path",
    "evaluate",
    "hookimpl",
    "load_rule_set",
    "make_plugin_manager",
    "read_entitlements_csv",
    "reconcile",
    "run_profile",
]
