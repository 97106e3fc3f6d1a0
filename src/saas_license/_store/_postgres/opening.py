"""Opening a PostgreSQL workspace from a URL: where its secrets live, its passwords, its owner.

- secrets (vendor credentials): ``$SAAS_LICENSE_SECRETS``, else an owner-only file per server
  and database under the data directory (``postgres-<host>-<port>-<db>.secrets.json``); every
  worker host needs its own copy, as it needs the URL;
- the application role's password: in the URL, else ``PGPASSWORD`` / ``~/.pgpass`` (libpq),
  else the secret ``postgres/password`` of that secret store;
- the owner role that runs migrations: ``$SAAS_LICENSE_POSTGRES_OWNER_URL`` (its password, if
  not in it, from libpq's sources or the secret ``postgres/owner_password``), else the
  application's own role migrates.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from ..._secrets import SecretStore
from .._pgurl import repair

__all__ = [
    "ENV_OWNER_URL",
    "ENV_SECRETS",
    "OWNER_PASSWORD_KEY",
    "PASSWORD_KEY",
    "open_postgres_store",
    "secrets_path_for",
]

ENV_OWNER_URL = "SAAS_LICENSE_POSTGRES_OWNER_URL"
ENV_SECRETS = "SAAS_LICENSE_SECRETS"
PASSWORD_KEY = "postgres/password"  # noqa: S105 - the name a secret is stored under
OWNER_PASSWORD_KEY = "postgres/owner_password"  # noqa: S105 - the name a secret is stored under


def secrets_path_for(url: str) -> Path:
    """The secret store of the workspace at ``url`` (see the module docstring)."""
    env = os.environ.get(ENV_SECRETS)
    if env:
        return Path(env).expanduser()
    parts = urlsplit(repair(url))
    db = parts.path.lstrip("/") or "postgres"
    name = f"postgres-{parts.hostname or 'local'}-{parts.port or 5432}-{db}"
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "saas-license" / f"{name}.secrets.json"


def open_postgres_store(url: str, secrets: SecretStore, *, create: bool = True) -> object:
    """A :class:`~saas_license._store._postgres.PostgresStore` for ``url`` (see module docstring)."""
    try:
        import psycopg  # noqa: F401

        from . import PostgresStore
    except ImportError:
        from ..._errors import ConfigError

        raise ConfigError(
            "a PostgreSQL workspace needs the driver, which is not installed",
            field="workspace",
            hint="pip install 'saas-license[postgres]'",
        ) from None
    libpq_password = bool(os.environ.get("PGPASSWORD"))
    owner_url = os.environ.get(ENV_OWNER_URL) or None
    return PostgresStore(
        url,
        owner_url=owner_url,
        password=None if libpq_password else secrets.get(PASSWORD_KEY),
        owner_password=None if libpq_password else secrets.get(OWNER_PASSWORD_KEY),
        create=create,
    )
