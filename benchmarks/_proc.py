"""Whole-process timing and the sandbox served from its own process (for ``benchmarks.peer``)."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

#: ``SandboxApp.requests`` keeps the newest 10,000 API requests: a count that reaches it is a floor.
REQUEST_LOG_MAX = 10_000


@dataclass
class Timed:
    """One finished process: wall time from spawn to exit, the CPU it used, what it printed."""

    argv: list[str]
    wall: float
    cpu: float
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self) -> str:
        tail = (self.stderr.strip() or self.stdout.strip())[-1500:]
        return f"`{' '.join(self.argv)}` exited {self.returncode}: {tail}"


def run_timed(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdout_path: Path | None = None,
    timeout: float = 900,
    stdin: str | None = None,
    cwd: Path | None = None,
) -> Timed:
    """Run ``argv`` to completion, timing the whole process (interpreter start-up included).

    CPU time is the child's user+system time (``RUSAGE_CHILDREN`` before and after the wait; the
    sandbox process is also our child but is only waited for when it stops). ``stdout_path``
    sends standard output to a file instead of memory (a connector's record stream).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out_file = open(stdout_path, "wb") if stdout_path is not None else None  # noqa: SIM115
    try:
        start = time.perf_counter()
        proc = subprocess.run(
            list(argv),
            env=dict(env) if env is not None else None,
            input=stdin.encode() if stdin is not None else None,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            stdout=out_file if out_file is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
            cwd=cwd,
        )
        wall = time.perf_counter() - start
    finally:
        if out_file is not None:
            out_file.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(
        argv=list(argv),
        wall=wall,
        cpu=cpu,
        returncode=proc.returncode,
        stdout=(proc.stdout or b"").decode(errors="replace") if out_file is None else "",
        stderr=(proc.stderr or b"").decode(errors="replace"),
    )


def saas_license_argv() -> list[str]:
    """How a user starts ``saas-license``: the console script next to this interpreter."""
    script = Path(sys.executable).with_name("saas-license")
    if script.exists():
        return [str(script)]
    found = shutil.which("saas-license")
    if found:
        return [found]
    return [sys.executable, "-c", "from saas_license.cli import console; console()"]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of every measured process: this one's, with bytecode caching allowed.

    ``PYTHONDONTWRITEBYTECODE`` (set on some developer machines) would make every process of an
    editable install compile the whole package from source (~0.15 s here), which no installed
    copy does; the peer's virtualenv has its bytecode from pip. Loopback is never proxied.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


@dataclass
class SandboxProcess:
    """``saas-license sandbox serve`` in its own process, for the length of a ``with`` block."""

    users: int
    latency_ms: float
    api_key: str
    rate_limit: bool = False
    nodelay: bool = False
    env: Mapping[str, str] | None = None
    base_url: str = ""
    _proc: subprocess.Popen[str] | None = field(default=None, repr=False)
    _err: tempfile._TemporaryFileWrapper[str] | None = field(default=None, repr=False)

    def argv(self) -> list[str]:
        args = [
            "sandbox",
            "serve",
            f"--users={self.users}",
            f"--latency={self.latency_ms:g}",
            f"--rate-limit={'on' if self.rate_limit else 'off'}",
            "--port=0",
            f"--api-key={self.api_key}",
        ]
        if self.nodelay:  # the same command, with TCP_NODELAY on the server's sockets
            return [sys.executable, "-m", "benchmarks._nodelay_serve", *args]
        return [*saas_license_argv(), *args]

    def __enter__(self) -> SandboxProcess:
        self._err = tempfile.NamedTemporaryFile("w+", prefix="sandbox-", suffix=".err")
        self._proc = subprocess.Popen(
            self.argv(),
            stdout=subprocess.PIPE,
            stderr=self._err,
            stdin=subprocess.DEVNULL,
            text=True,
            env=dict(self.env) if self.env is not None else None,
            cwd=Path(__file__).resolve().parents[1],  # where ``benchmarks`` is importable
        )
        assert self._proc.stdout is not None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if not line:  # exited before serving
                self._err.seek(0)
                raise RuntimeError(
                    f"`{' '.join(self.argv())}` stopped before serving: {self._err.read()[-1500:]}"
                )
            if line.startswith("base URL:"):
                self.base_url = line.split(":", 1)[1].strip()
                break
        else:
            self.__exit__(None, None, None)
            raise RuntimeError("the sandbox did not print its base URL within 300 s")
        # the rest of its banner (and anything later) is read and dropped: the pipe never fills
        threading.Thread(target=self._proc.stdout.read, daemon=True).start()
        return self

    def api_requests(self) -> list[tuple[str, str]]:
        """``[method, path]`` of the API requests the sandbox has seen (its control channel)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.base_url}/__sandbox/requests", timeout=30) as resp:
            data = json.load(resp)
        return [(m, p) for m, p in data["requests"]]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None and self._proc.poll() is None:
            # SIGTERM, not Ctrl-C: a shell's background job (and its children) ignores SIGINT
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._err is not None:
            self._err.close()
