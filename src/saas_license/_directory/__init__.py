"""The user directory: who a seat's e-mail address belongs to (person, manager, department, cost
centre, employment status), from a built-in CSV file or a directory plugin.

Names are imported on first use (PEP 562): the store imports :mod:`.records` for ``Person``,
and that alone must not load the CSV reader, the index or the plugin registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr

if TYPE_CHECKING:
    from .csv_source import DIRECTORY_COLUMNS, read_directory_csv
    from .errors import DirectoryError
    from .index import DirectoryIndex, Resolution
    from .records import EMPLOYMENT_STATUSES, Person
    from .registry import DIRECTORY_ENTRY_POINT_GROUP, DirectoryRegistry

_HOMES = {
    "DIRECTORY_COLUMNS": ".csv_source",
    "read_directory_csv": ".csv_source",
    "DirectoryError": ".errors",
    "DirectoryIndex": ".index",
    "Resolution": ".index",
    "EMPLOYMENT_STATUSES": ".records",
    "Person": ".records",
    "DIRECTORY_ENTRY_POINT_GROUP": ".registry",
    "DirectoryRegistry": ".registry",
}


__getattr__ = lazy_getattr(__name__, _HOMES, globals())


__all__ = [
    "DIRECTORY_COLUMNS",
    "DIRECTORY_ENTRY_POINT_GROUP",
    "EMPLOYMENT_STATUSES",
    "DirectoryError",
    "DirectoryIndex",
    "DirectoryRegistry",
    "Person",
    "Resolution",
    "read_directory_csv",
]
