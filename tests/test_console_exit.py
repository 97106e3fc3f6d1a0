"""The console command's quick exit: the command's exit code and output, exit handlers run, and
the usual exit whenever another thread is still working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BOOT = "import sys\nfrom saas_license.cli import console\n"


def _console(tmp_path: Path, setup: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our interpreter, our CLI
        [sys.executable, "-c", BOOT + setup + "\nconsole()\n", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "code", "out", "err"),
    [
        (["--version"], 0, "saas-license, version", ""),
        (["no-such-command"], 2, "", "No such command"),
        (["--workspace", "missing.db", "models"], 2, "", "error:"),
    ],
)
def test_the_commands_exit_code_and_output_come_through(
    tmp_path: Path, args: list[str], code: int, out: str, err: str
) -> None:
    done = _console(tmp_path, "", *args)
    assert done.returncode == code, done.stderr
    assert out in done.stdout and err in done.stderr


def test_exit_handlers_run_and_a_working_thread_is_waited_for(tmp_path: Path) -> None:
    setup = (
        "import atexit, threading, time, pathlib\n"
        "atexit.register(lambda: pathlib.Path('atexit.txt').write_text('ran'))\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    pathlib.Path('thread.txt').write_text('done')\n"
        "threading.Thread(target=late).start()\n"
    )
    done = _console(tmp_path, setup, "--version")
    assert done.returncode == 0 and "version" in done.stdout
    assert (tmp_path / "atexit.txt").read_text() == "ran"
    assert (tmp_path / "thread.txt").read_text() == "done"


def test_exit_handlers_run_on_the_quick_path_too(tmp_path: Path) -> None:
    setup = (
        "import atexit, pathlib, sys\n"
        "atexit.register(lambda: print('handler output', flush=False))\n"
        "atexit.register(lambda: pathlib.Path('atexit.txt').write_text('ran'))\n"
    )
    done = _console(tmp_path, setup, "--version")
    assert done.returncode == 0
    assert (tmp_path / "atexit.txt").read_text() == "ran"
    assert done.stdout.endswith("handler output\n"), "output written at exit was lost"


def test_the_command_is_the_console() -> None:
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert 'saas-license = "saas_license.cli:console"' in text


GC_REPORT = (
    "import atexit, gc\n"
    "atexit.register(lambda: print('GC', *gc.get_threshold(), gc.isenabled(),"
    " gc.get_freeze_count() > 0, file=sys.stderr))\n"
)


def _gc_state(done: subprocess.CompletedProcess[str]) -> list[str]:
    return next(line for line in done.stderr.splitlines() if line.startswith("GC ")).split()[1:]


def test_the_collector_is_as_before_once_the_workspace_is_open(tmp_path: Path) -> None:
    # start-up collects rarely; once the command has its workspace, the thresholds are the
    # interpreter's again (what start-up made is frozen out of later full passes)
    import gc

    default = [str(n) for n in gc.get_threshold()]
    done = _console(tmp_path, GC_REPORT, "--workspace", "ws.db", "--create", "models")
    assert done.returncode == 0, done.stderr
    assert _gc_state(done) == [*default, "True", "True"]


def test_the_collector_still_runs_for_a_command_without_a_workspace(tmp_path: Path) -> None:
    done = _console(tmp_path, GC_REPORT, "--version")
    assert done.returncode == 0, done.stderr
    young, *_, enabled, frozen = _gc_state(done)
    assert enabled == "True" and frozen == "False"
    assert 700 <= int(young) <= 100_000  # raised, never off: garbage is still collected
