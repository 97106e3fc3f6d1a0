"""Storage: the :class:`Store` protocol and its embedded SQLite implementation."""

from ._protocol import StagedDownload, Store
from ._sqlite import SqliteStore

__all__ = ["SqliteStore", "StagedDownload", "Store"]
