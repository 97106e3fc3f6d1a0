"""Start-up of a daily run: a SQLite workspace never loads the PostgreSQL store's package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_PG = "saas_license._store._postgres"


def _python(code: str, *args: str) -> str:
    return subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_opening_a_workspace_file_imports_no_postgres_store(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from saas_license import Workspace\n"
        "Workspace.open(sys.argv[1]).close()\n"
        f"print({_PG!r} in sys.modules)\n"
    )
    assert _python(code, str(tmp_path / "ws.db")) == "False"


def test_the_cli_on_a_workspace_file_imports_no_postgres_store(tmp_path: Path) -> None:
    from saas_license import Workspace

    Workspace.open(tmp_path / "ws.db").close()
    code = (
        "import sys\n"
        "from saas_license.cli import main\n"
        "sys.argv = ['saas-license', '--workspace', sys.argv[1], 'models']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print({_PG!r} in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code, str(tmp_path / "ws.db")], capture_output=True, text=True
    )
    assert done.stderr.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize(
    "text", ["postgresql://u@h/db", "POSTGRES://h/db", "postgresql:/h/db", "postgres:"]
)
def test_a_postgres_url_is_still_recognised(text: str) -> None:
    from saas_license._store._pgurl import is_postgres_url

    assert is_postgres_url(text) is True
    assert is_postgres_url("/tmp/ws.db") is False
