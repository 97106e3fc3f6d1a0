"""Secrets that cannot leak by accident, and the owner-only file that keeps them between runs."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path

from ._errors import ConfigError, StoreError
from ._files import file_lock, private_dirs

__all__ = ["Secret", "SecretStore"]


class Secret:
    """A credential value whose ``repr``/``str`` never show it; call :meth:`reveal` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ConfigError("a secret must be a non-empty string", field="secret")
        self._value = value

    def reveal(self) -> str:
        """The raw value, for the one place that must send it (an Authorization header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> str | tuple[object, ...]:  # keep secrets out of pickles too
        raise TypeError("Secret values cannot be pickled")


class SecretStore:
    """Named secrets in a JSON file readable only by its owner (mode 0600), written atomically.

    Keys look like ``alias/<name>/api_key``. Nothing here is ever logged; values come back as
    :class:`Secret`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"SecretStore(path={str(self.path)!r})"

    def _read(self) -> dict[str, str]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise StoreError(
                f"the secrets file {self.path} is not valid JSON",
                hint="restore it from backup or delete it and enter the credentials again",
            ) from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise StoreError(f"the secrets file {self.path} has an unexpected shape")
        return data

    def _write(self, data: Mapping[str, str]) -> None:
        private_dirs(self.path.parent)  # owner-only when we create it; never chmod an existing one
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".secrets-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(dict(data), fh, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> Secret | None:
        """The secret stored under ``key``, or None."""
        value = self._read().get(key)
        return Secret(value) if value else None

    def _locked(self) -> AbstractContextManager[None]:
        """Serialise read-modify-write across processes, so two writers never lose each other's key.

        Not ``<file>.lock``: a token refresh holds that one while it saves through :meth:`set`.
        """
        return file_lock(self.path.with_name(self.path.name + ".write-lock"))

    def set(self, key: str, value: Secret) -> None:
        """Store (or replace) one secret."""
        with self._locked():
            data = self._read()
            data[key] = value.reveal()
            self._write(data)

    def delete(self, key: str) -> None:
        """Forget one secret; a missing key is fine."""
        with self._locked():
            data = self._read()
            if data.pop(key, None) is not None:
                self._write(data)

    def names(self) -> Iterator[str]:
        """The names of the stored secrets (never the values)."""
        return iter(sorted(self._read()))
