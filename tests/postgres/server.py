"""A throwaway PostgreSQL server for the tests: initdb in a temporary directory, run as an
unprivileged user (the server refuses root), on 127.0.0.1 and a free port, with an owner role
(runs migrations, owns the tables) and a restricted application role (what the tests use).

``python tests/postgres/server.py start`` prints shell ``export`` lines (``.ci/postgres.sh``
evaluates them and stops the server by a trap); ``stop DIR`` stops it and removes ``DIR``. The
tests' session fixture uses :func:`start` / :func:`stop` directly when no server is given.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DATABASE = "saas_license"
OWNER, APP = "saas_owner", "saas_app"


@dataclass(frozen=True)
class Server:
    """A running server: where it lives and the URLs of its two roles (passwords included)."""

    directory: str
    port: int
    owner_url: str
    app_url: str


def binaries() -> Path | None:
    """The newest PostgreSQL server binaries on this machine (Debian layout), or PATH's."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_user() -> str | None:
    """Who runs the server when we are root: ``postgres`` if the package made it, else ``nobody``."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


def _run(argv: list[str], user: str | None, **kw: object) -> subprocess.CompletedProcess[str]:
    if user is not None:
        argv = ["runuser", "-u", user, "--", *argv]
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload, no-any-return]  # noqa: S603 - the server's own tools


def start() -> Server:
    """Start a fresh server; raises RuntimeError (with the server's log) if it cannot."""
    bindir = binaries()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries (apt-get install postgresql)")
    user = _server_user()
    # outside any folder private to root: the unprivileged server user must reach it
    directory = tempfile.mkdtemp(prefix="saas-license-pg-", dir="/tmp" if user else None)
    os.chmod(directory, 0o755)  # noqa: S103 - the server user must enter; nothing secret in it
    data = Path(directory) / "data"
    pwfile = Path(directory) / "pw"
    superpw = secrets.token_hex(12)
    pwfile.write_text(superpw + "\n")
    if user is not None:
        uid = pwd.getpwnam(user).pw_uid
        gid = pwd.getpwnam(user).pw_gid
        os.chown(directory, uid, gid)
        os.chown(pwfile, uid, gid)
    port = _free_port()
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            user,
        )
        pwfile.unlink()
        opts = (
            f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                f"{directory}/log",
                "-o",
                opts,
                "-w",
                "-t",
                "30",
                "start",
            ],
            user,
        )
    except subprocess.CalledProcessError as exc:
        log = Path(directory, "log")
        detail = log.read_text() if log.exists() else ""
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr}{detail}") from None
    owner_pw, app_pw = secrets.token_hex(12), secrets.token_hex(12)
    env = {**os.environ, "PGPASSWORD": superpw}
    sql = (
        f"CREATE ROLE {OWNER} LOGIN CREATEDB PASSWORD '{owner_pw}';"
        f"CREATE ROLE {APP} LOGIN PASSWORD '{app_pw}';"
        f"CREATE DATABASE {DATABASE} OWNER {OWNER};"
        f"REVOKE ALL ON DATABASE {DATABASE} FROM PUBLIC;"
        f"GRANT CONNECT, TEMPORARY ON DATABASE {DATABASE} TO {APP};"
    )
    for statement in sql.split(";")[:-1]:
        subprocess.run(  # noqa: S603 - psql with fixed arguments
            [
                str(bindir.parent / "bin" / "psql") if (bindir / "psql").exists() else "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                statement,
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
    base = f"127.0.0.1:{port}/{DATABASE}"
    return Server(
        directory=directory,
        port=port,
        owner_url=f"postgresql://{OWNER}:{owner_pw}@{base}",
        app_url=f"postgresql://{APP}:{app_pw}@{base}",
    )


def stop(directory: str) -> None:
    """Stop the server living in ``directory`` (fast shutdown) and remove it."""
    bindir = binaries()
    data = Path(directory) / "data"
    if bindir is not None and data.exists():
        with contextlib.suppress(subprocess.CalledProcessError):
            _run(
                [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                _server_user(),
            )
    for _ in range(50):
        try:
            shutil.rmtree(directory)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"]:
        server = start()
        print(f"export SAAS_LICENSE_TEST_POSTGRES_DIR='{server.directory}'")
        print(f"export SAAS_LICENSE_TEST_POSTGRES_URL='{server.app_url}'")
        print(f"export SAAS_LICENSE_TEST_POSTGRES_OWNER_URL='{server.owner_url}'")
        return 0
    if argv[:1] == ["stop"] and len(argv) == 2:
        stop(argv[1])
        return 0
    print("usage: server.py start | stop DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
