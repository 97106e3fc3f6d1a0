"""Where the workspace lives by default: one small module, so the CLI can show it without importing the store."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_WORKSPACE", "default_workspace_path"]

ENV_WORKSPACE = "SAAS_LICENSE_WORKSPACE"


def default_workspace_path() -> Path:
    """``$SAAS_LICENSE_WORKSPACE``, else ``$XDG_DATA_HOME/saas-license/workspace.db``
    (``~/.local/share/saas-license/workspace.db``)."""
    env = os.environ.get(ENV_WORKSPACE)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "saas-license" / "workspace.db"
