"""The Aha! spoke for saas-license: seats from Aha! account users, reclaim by disabling users."""

__version__ = "0.1.0"

from ._payloads import AhaPagination, AhaProductRole, AhaUser
from .client import MAX_PER_PAGE, AhaClient
from .mapping import IDENTIFIERS, identifiers_for, subscription_records
from .spoke import INFO, AhaSpoke

__all__ = [
    "IDENTIFIERS",
    "INFO",
    "MAX_PER_PAGE",
    "AhaClient",
    "AhaPagination",
    "AhaProductRole",
    "AhaSpoke",
    "AhaUser",
    "__version__",
    "identifiers_for",
    "subscription_records",
]
