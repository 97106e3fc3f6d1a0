"""Owner-only files and directories for what a workspace keeps (database, secrets, tokens).

Only what we create is made private: a directory or file that already existed keeps its mode.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from ._errors import StoreError

__all__ = ["LOCK_TIMEOUT", "create_private_file", "file_lock", "private_dirs"]

#: How long a process waits for another one's lock (a token refresh, a secrets write).
LOCK_TIMEOUT = 120.0


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


@contextlib.contextmanager
def file_lock(
    path: str | os.PathLike[str], *, timeout: float = LOCK_TIMEOUT, poll: float = 0.05
) -> Iterator[None]:
    """Hold an exclusive OS lock on ``path`` (created owner-only) across processes and threads.

    POSIX ``flock``: released by the OS when the holder dies, so a crash never leaves it stuck.
    Elsewhere (Windows) it does not lock: keep one writing process per file there.
    """
    lock_path = Path(path)
    if sys.platform == "win32":  # pragma: no cover - POSIX only, documented
        yield
        return
    import fcntl

    private_dirs(lock_path.parent)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"another process has held the lock {lock_path} for over {timeout:g}s",
                        hint="check for a hung process holding the lock, then run again",
                    ) from None
                time.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
