"""``saas-license spoke init NAME`` writes a spoke project whose tests pass as generated.

The generated project is installed offline into a fresh virtual environment (``pip install
--no-build-isolation --no-index -e``, its build backend hatchling coming from our ``[test]``
extra) that sees this environment's packages, and its own test suite is run there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from click.testing import CliRunner

from saas_license._scaffold import project_files
from saas_license.cli import cli


def _init(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["spoke", "init", *args])
    return result.exit_code, result.output


def test_init_writes_the_whole_project(tmp_path: Path) -> None:
    code, out = _init("acme_crm", "--dir", str(tmp_path / "p"), "--display-name", "Acme CRM")
    assert code == 0, out
    root = tmp_path / "p"
    for rel in (
        "pyproject.toml",
        "README.md",
        "noxfile.py",
        ".github/workflows/ci.yml",
        "src/saas_license_acme_crm/plugin.py",
        "src/saas_license_acme_crm/spoke.py",
        "src/saas_license_acme_crm/fake.py",
        "src/saas_license_acme_crm/py.typed",
        "tests/test_conformance.py",
    ):
        assert (root / rel).is_file(), rel
    pyproject = (root / "pyproject.toml").read_text()
    assert 'name = "saas-license-acme-crm"' in pyproject
    assert 'acme_crm = "saas_license_acme_crm.plugin"' in pyproject
    spoke = (root / "src/saas_license_acme_crm/spoke.py").read_text()
    assert 'name="acme_crm"' in spoke and "display_name=VENDOR" in spoke
    assert 'VENDOR = "Acme CRM"' in spoke
    assert "${{ matrix.python-version }}" in (root / ".github/workflows/ci.yml").read_text()
    assert "{{" not in "".join(project_files("acme_crm").values()).replace("${{ matrix", "")
    assert "pip install -e '.[test]'" in out


def test_init_never_overwrites_and_refuses_bad_names(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    code, out = _init("acme", "--dir", str(target))
    assert code == 2 and "not an empty directory" in out and "nothing was written" in out
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    for bad in ("Acme", "1acme", "acme-crm", "a", "acme__crm"):
        code, out = _init(bad, "--dir", str(tmp_path / bad))
        assert code == 2 and "NAME" in out and "is not a spoke name" in out, (bad, out)
        assert not (tmp_path / bad).exists()


def test_the_generated_project_installs_offline_and_its_tests_pass(tmp_path: Path) -> None:
    project = tmp_path / "saas-license-widgetco"
    assert _init("widgetco", "--dir", str(project))[0] == 0
    venv = tmp_path / "venv"
    subprocess.run(  # noqa: S603 - our interpreter, fixed argv
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True
    )
    python = venv / "bin" / "python"
    site = subprocess.run(  # noqa: S603 - the new venv's python, fixed argv
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # the new environment sees ours (saas-license, pytest, pip, hatchling), nothing more
    parent = sysconfig.get_paths()["purelib"]
    Path(site, "_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run(*args: str, cwd: Path = tmp_path) -> str:
        done = subprocess.run(  # noqa: S603 - the new venv's python, our arguments
            [str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run("-m", "pip", "install", "-q", "--no-build-isolation", "--no-index", "-e", str(project))
    names = run(
        "-c", "from saas_license.spoke import SpokeRegistry; print(SpokeRegistry().names())"
    )
    assert "'widgetco'" in names  # found through the generated entry point
    out = run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert " passed" in out and "failed" not in out and "error" not in out.lower(), out
    # the whole conformance suite ran (one test per check), plus the project's own test
    from saas_license.testing import SpokeConformance

    checks = [n for n in dir(SpokeConformance) if n.startswith("test_")]
    assert f"{len(checks) + 1} passed" in out, out
