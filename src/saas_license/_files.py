"""Owner-only files and directories for what a workspace keeps (database, secrets, tokens).

Only what we create is made private: a directory or file that already existed keeps its mode.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["create_private_file", "private_dirs"]


def private_dirs(directory: str | os.PathLike[str]) -> Path:
    """Create ``directory`` and any missing parents with mode 0700; existing ones are left alone."""
    target = Path(directory)
    missing = []
    for candidate in (target, *target.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for path in reversed(missing):
        # created meanwhile by another process: not ours to change
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
    return target


def create_private_file(path: str | os.PathLike[str]) -> bool:
    """Create an empty file with mode 0600 (and private parents) unless it exists; True if created."""
    target = Path(path)
    if target.exists():
        return False
    private_dirs(target.parent)
    try:
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True
