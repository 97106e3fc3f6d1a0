"""The user directory: people behind the seats' e-mail addresses, directory plugins, the
resolution of seats to people, and the showback by department and cost centre
(see docs/directory.md).

A workspace holds its directory as ``ws.directory`` (:class:`Directory`); a directory plugin
yields :class:`Person` records from the ``saas_license_directory_people`` hook.
"""

from __future__ import annotations

from ._directory import (
    DIRECTORY_COLUMNS,
    DIRECTORY_ENTRY_POINT_GROUP,
    EMPLOYMENT_STATUSES,
    DirectoryError,
    DirectoryIndex,
    DirectoryRegistry,
    Person,
    Resolution,
    read_directory_csv,
)
from ._directory.facts import LEAVER, manager_address, reclaim_priority, with_directory
from ._directory.resolution import DirectoryLoad, SeatResolution, UnresolvedUser
from ._finance.showback import (
    NO_VALUE,
    NOT_IN_DIRECTORY,
    SHOWBACK_DIMENSIONS,
    Showback,
    ShowbackRow,
)
from ._workspace.directory import Directory

__all__ = [
    "DIRECTORY_COLUMNS",
    "DIRECTORY_ENTRY_POINT_GROUP",
    "EMPLOYMENT_STATUSES",
    "LEAVER",
    "NOT_IN_DIRECTORY",
    "NO_VALUE",
    "SHOWBACK_DIMENSIONS",
    "Directory",
    "DirectoryError",
    "DirectoryIndex",
    "DirectoryLoad",
    "DirectoryRegistry",
    "Person",
    "Resolution",
    "SeatResolution",
    "Showback",
    "ShowbackRow",
    "UnresolvedUser",
    "manager_address",
    "read_directory_csv",
    "reclaim_priority",
    "with_directory",
]
