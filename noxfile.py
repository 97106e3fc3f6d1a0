"""Developer sessions: ``nox`` runs tests, lint and typecheck; ``nox -s benchmarks`` prints figures."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint", "typecheck", "examples"]

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite (pytest + hypothesis + respx), offline."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over both packages."""
    session.install("-e", ".[lint]")
    session.run("mypy")


@nox.session
def examples(session: nox.Session) -> None:
    """Run every script in examples/ (they use the bundled sandbox, no network)."""
    session.install("-e", ".")
    for path in sorted(__import__("pathlib").Path("examples").glob("*.py")):
        session.run("python", str(path))


@nox.session(default=False)
def benchmarks(session: nox.Session) -> None:
    """Speed and memory figures (see benchmarks/README.md)."""
    session.install("-e", ".")
    session.run("python", "-m", "benchmarks", *session.posargs)
    session.run("python", "-m", "benchmarks.pipeline")
