"""The Python API: a workspace (one store, its secrets, the installed spokes) and its parts."""

from .facade import Workspace, check_workspace_path

__all__ = ["Workspace", "check_workspace_path"]
