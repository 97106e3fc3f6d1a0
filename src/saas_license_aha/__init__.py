"""The Aha! spoke for saas-license: seats from Aha! account users, reclaim by disabling users."""

__version__ = "0.1.0"

from ._payloads import AhaAudit, AhaPagination, AhaProductRole, AhaUser
from .auth import AHA_OAUTH, auth_for
from .client import AHA_RATE_LIMITS, MAX_PER_PAGE, AhaClient
from .mapping import IDENTIFIERS, activity_record, identifiers_for, subscription_records
from .spoke import AUDITS_OPTION, INFO, AhaSpoke

__all__ = [
    "AHA_OAUTH",
    "AHA_RATE_LIMITS",
    "AUDITS_OPTION",
    "IDENTIFIERS",
    "INFO",
    "MAX_PER_PAGE",
    "AhaAudit",
    "AhaClient",
    "AhaPagination",
    "AhaProductRole",
    "AhaSpoke",
    "AhaUser",
    "__version__",
    "activity_record",
    "auth_for",
    "identifiers_for",
    "subscription_records",
]
