"""The user directory: who a seat's e-mail address belongs to (person, manager, department, cost
centre, employment status), from a built-in CSV file or a directory plugin."""

from .csv_source import DIRECTORY_COLUMNS, read_directory_csv
from .errors import DirectoryError
from .index import DirectoryIndex, Resolution
from .records import EMPLOYMENT_STATUSES, Person
from .registry import DIRECTORY_ENTRY_POINT_GROUP, DirectoryRegistry

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
