"""saas-license: SaaS license management as a library.

Spokes (vendor connectors) download who holds which seat and when each user was last active;
the core applies exclusion and reclamation rules, plans reclaims (dry run by default) and keeps
everything in a workspace store.
"""

from ._plugins import PluginProblem, Spoke, SpokeRegistry, make_plugin_manager
from .audit import AuditEntry
from .candidates import OPEN_STATES, CandidateState, Justification, RemovalCandidate
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
)
from .evaluation import Assessment, Evaluation, EvaluationPolicy, Verdict, assess, evaluate
from .hookspecs import hookimpl
from .http import HttpOptions
from .jobs import JobResult, JobStatus
from .pipeline import RunReport, build_plan, run_profile
from .pricing import NoPrices, PriceBook, UnitPrice
from .profiles import ConnectionAlias, IntegrationProfile, Process, Processes, ProfileStatus
from .reclaim import PlanItem, ReclaimPlan
from .rules import ExclusionEffect, ExclusionKind, ExclusionRule, ReclamationRule
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
    KnownIdentifier,
    SoftwareModel,
    Subscription,
    SubscriptionRecord,
)
from .workspace import Workspace, default_workspace_path

__version__ = "0.1.0"

__all__ = [
    "OPEN_STATES",
    "ActivityRecord",
    "Assessment",
    "AuditEntry",
    "AuthenticationError",
    "BadPayloadError",
    "CandidateState",
    "ConfigError",
    "ConnectionAlias",
    "Evaluation",
    "EvaluationPolicy",
    "ExclusionEffect",
    "ExclusionKind",
    "ExclusionRule",
    "HttpOptions",
    "Identity",
    "IntegrationProfile",
    "JobResult",
    "JobStatus",
    "Justification",
    "KnownIdentifier",
    "NoPrices",
    "NotFoundError",
    "PermissionDeniedError",
    "PlanItem",
    "PluginProblem",
    "PriceBook",
    "Process",
    "ProcessPermission",
    "Processes",
    "ProfileStateError",
    "ProfileStatus",
    "RateLimitedError",
    "ReclaimPlan",
    "ReclaimResult",
    "ReclaimStatus",
    "ReclamationRule",
    "RemovalCandidate",
    "RunInProgressError",
    "RunReport",
    "SaasLicenseError",
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
    "SubscriptionRecord",
    "UnitPrice",
    "ValidationCheck",
    "ValidationReport",
    "VendorConnectionError",
    "VendorError",
    "VendorTimeoutError",
    "Verdict",
    "Workspace",
    "__version__",
    "assess",
    "build_plan",
    "default_workspace_path",
    "evaluate",
    "hookimpl",
    "make_plugin_manager",
    "run_profile",
]
