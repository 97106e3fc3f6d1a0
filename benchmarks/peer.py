"""``python -m benchmarks.peer``: one whole daily cycle of saas-license against Airbyte's source-aha.

Both sides read the same seeded Aha! account (2,000 users by default) from the bundled sandbox,
served by ``saas-license sandbox serve`` in a separate process with 50 ms added to every request
and the rate limits off; every run gets a freshly started sandbox, and its request log
(``GET /__sandbox/requests``) gives the requests each run made. Both are timed as whole
processes, interpreter start-up included:

- **saas-license**: in a fresh workspace, ``alias add``, ``profile create``, ``validate`` and
  ``publish`` (set-up, timed apart), then the timed ``saas-license run PROFILE``: the daily
  cycle (download, activity, evaluate, plan; dry run) as cron would start it.
- **the peer**: ``airbyte-cdk==7.39.1`` in its own virtualenv (made on first use in a cache
  directory, pip from the package index) running the declarative manifest
  ``source_aha/manifest.yaml`` of the ``airbyte-source-aha==0.3.14`` wheel through the CDK's
  ``source-declarative-manifest read``, the manifest injected into its config
  (``__injected_declarative_manifest``), reading the ``users_stream`` stream.

Figures are printed (medians of ``--repeat`` runs), never asserted. When the peer cannot be set
up (no package index, a version gone), the reason is printed and our side is still measured.
"""

from __future__ import annotations

import argparse
import compileall
import json
import re
import secrets
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import _peer_env
from ._proc import REQUEST_LOG_MAX, SandboxProcess, Timed, child_env, run_timed, saas_license_argv

PROFILE = "bench"
KEY_ENV = "SAAS_LICENSE_BENCH_AHA_KEY"
TARGET_RATIO = 50.0


class BenchError(RuntimeError):
    """A measured process failed: the benchmark prints this and moves on."""


def _requests(sandbox: SandboxProcess) -> int:
    return len(sandbox.api_requests())


def _count(before: int, after: int) -> dict[str, Any]:
    return {"requests": after - before, "request_log_full": after >= REQUEST_LOG_MAX}


def _setup_workspace(sandbox: SandboxProcess, ws: Path, env: dict[str, str]) -> list[Timed]:
    base = [*saas_license_argv(), f"--workspace={ws}"]
    steps = [
        [
            "alias",
            "add",
            PROFILE,
            "--spoke=aha",
            f"--url={sandbox.base_url}",
            f"--api-key-env={KEY_ENV}",
        ],
        ["profile", "create", PROFILE, "--spoke=aha", f"--alias={PROFILE}"],
        ["validate", PROFILE],
        ["publish", PROFILE],
    ]
    done = []
    for step in steps:
        timed = run_timed([*base, *step], env=env)
        if not timed.ok:
            raise BenchError(timed.failure())
        done.append(timed)
    return done


def ours(sandbox: SandboxProcess, tmp: Path, env: dict[str, str]) -> dict[str, Any]:
    """Set up a fresh workspace, then time ``saas-license run`` (the daily cycle)."""
    ws = tmp / "workspace.db"
    env = {**env, KEY_ENV: sandbox.api_key}
    n0 = _requests(sandbox)
    setup = _setup_workspace(sandbox, ws, env)
    n1 = _requests(sandbox)
    run = run_timed([*saas_license_argv(), f"--workspace={ws}", "run", PROFILE], env=env)
    n2 = _requests(sandbox)
    if not run.ok:
        raise BenchError(run.failure())
    records = re.search(r"^\s*download\s+complete\s.*?\brecords=(\d+)", run.stdout, re.M)
    return {
        "wall": run.wall,
        "cpu": run.cpu,
        **_count(n1, n2),
        "seats": int(records.group(1)) if records else None,
        "setup": {
            name: t.wall
            for name, t in zip(
                ("alias add", "profile create", "validate", "publish"), setup, strict=True
            )
        },
        "setup_wall": sum(t.wall for t in setup),
        "setup_requests": n1 - n0,
    }


def peer(
    sandbox: SandboxProcess, tmp: Path, env: dict[str, str], the_peer: _peer_env.Peer
) -> dict[str, Any]:
    """Time ``source-declarative-manifest read`` of the users stream, manifest injected."""
    injected, how = _peer_env.point_at(the_peer.manifest, sandbox.base_url)
    config = {
        "api_key": sandbox.api_key,
        "url": sandbox.base_url,
        "__injected_declarative_manifest": injected,
    }
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "catalog.json").write_text(json.dumps(_peer_env.catalog()))
    out = tmp / "messages.jsonl"
    n0 = _requests(sandbox)
    timed = run_timed(
        [str(the_peer.entry_point), "read", "--config=config.json", "--catalog=catalog.json"],
        env=env,
        stdout_path=out,
        cwd=tmp,
    )
    n1 = _requests(sandbox)
    kinds: Counter[str] = Counter()
    ids: set[str] = set()
    errors: list[str] = []
    with out.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                message = json.loads(line)
            except ValueError:
                kinds["not JSON"] += 1
                continue
            kinds[str(message.get("type"))] += 1
            if message.get("type") == "RECORD":
                ids.add(str(message["record"]["data"].get("id")))
            elif message.get("type") == "TRACE" and message["trace"].get("type") == "ERROR":
                errors.append(str(message["trace"]["error"].get("message"))[:300])
    if not timed.ok or errors:
        raise BenchError((errors[0] if errors else timed.failure()) + f" (messages: {dict(kinds)})")
    return {
        "wall": timed.wall,
        "cpu": timed.cpu,
        **_count(n0, n1),
        "records": kinds["RECORD"],
        "users": len(ids),
        "pointed": how,
    }


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows) if rows else float("nan")


def _importtime_run(
    sandbox: SandboxProcess, ws: Path, env: dict[str, str], target: list[str]
) -> dict[str, Any]:
    """One ``run`` in a fresh workspace under ``-X importtime``; its imports and job spans."""
    _setup_workspace(sandbox, ws, env)
    timed = run_timed(
        [sys.executable, "-X", "importtime", *target, f"--workspace={ws}", "run", PROFILE],
        env=env,
    )
    if not timed.ok:
        raise BenchError(timed.failure())
    imports = own = 0
    by_kind: Counter[str] = Counter()
    for line in timed.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not match:
            continue
        top = match.group(4).split(".")[0]
        kind = (
            "saas_license"
            if top.startswith("saas_license")
            else "stdlib"
            if top in sys.stdlib_module_names or top.lstrip("_") in sys.stdlib_module_names
            else "third-party"
        )
        by_kind[kind] += int(match.group(1))  # each module's own time, by where it lives
        if len(match.group(3)) == 1:  # top-level imports: their cumulative time
            imports += int(match.group(2))
            if top.startswith("saas_license"):
                own += int(match.group(2))
    jobs_out = run_timed(
        [*saas_license_argv(), f"--workspace={ws}", "jobs", f"--profile={PROFILE}", "--json"],
        env=env,
    )
    jobs: dict[str, float] = {}
    if jobs_out.ok:
        for job in json.loads(jobs_out.stdout)["jobs"]:
            jobs[job["process"]] = _span(job["started_at"], job["finished_at"])
    return {
        "wall": timed.wall,
        "imports": imports / 1e6,
        "imports_under_saas_license": own / 1e6,
        "import_self_time": {k: v / 1e6 for k, v in by_kind.items()},
        "jobs": jobs,
    }


def breakdown(
    sandbox: SandboxProcess, tmp: Path, env: dict[str, str], *, runs: int = 3
) -> dict[str, Any]:
    """Where our run's wall time goes (medians of ``runs``): ``run`` under ``-X importtime``
    (imports) with its job durations from the workspace, bare interpreter start, and a
    cProfile of one more run."""
    env = {**env, KEY_ENV: sandbox.api_key}
    script = saas_license_argv()
    bare = statistics.median(
        run_timed([sys.executable, "-I", "-S", "-c", "pass"], env=env).wall for _ in range(5)
    )
    version = statistics.median(run_timed([*script, "--version"], env=env).wall for _ in range(3))
    # the console script is a Python file: run it under this interpreter's flags
    target = script if script[0].endswith("saas-license") else script[1:]
    rows = [_importtime_run(sandbox, tmp / f"importtime-{i}.db", env, target) for i in range(runs)]

    def med(key: str, sub: str | None = None) -> float:
        return statistics.median(
            float(r[key] if sub is None else r[key].get(sub, 0.0)) for r in rows
        )

    job_names = sorted({name for r in rows for name in r["jobs"]})
    jobs = {name: med("jobs", name) for name in job_names}
    kinds = sorted({k for r in rows for k in r["import_self_time"]})
    wall, imports = med("wall"), med("imports")
    ws2 = tmp / "cprofile.db"
    _setup_workspace(sandbox, ws2, env)
    prof = tmp / "run.prof"
    profiled = run_timed(
        [
            sys.executable,
            "-m",
            "cProfile",
            "-o",
            str(prof),
            *target,
            f"--workspace={ws2}",
            "run",
            PROFILE,
        ],
        env=env,
    )
    top: dict[str, list[tuple[str, float]]] = {}
    if profiled.ok and prof.exists():
        top = _top_functions(prof)
    return {
        "runs": runs,
        "wall_importtime_run": wall,
        "interpreter_bare": bare,
        "cli_version": version,
        "imports": imports,
        "imports_saas_license": med("imports_under_saas_license"),
        "import_self_time": {k: med("import_self_time", k) for k in kinds},
        "jobs": jobs,
        "rest": wall - bare - imports - sum(jobs.values()),
        "cprofile_wall": profiled.wall,
        "cprofile_top": top,
    }


def _span(start: str, end: str) -> float:
    import datetime as dt

    def parse(s: str) -> dt.datetime:
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))

    return (parse(end) - parse(start)).total_seconds()


def _top_functions(path: Path, n: int = 12) -> dict[str, list[tuple[str, float]]]:
    """The project's functions with the most cumulative time (imports left out), and the
    functions of any module with the most time of their own (e.g. waiting on a lock: the
    network)."""
    import pstats

    stats = pstats.Stats(str(path))
    cumulative, own = [], []
    for (filename, lineno, name), value in stats.stats.items():  # type: ignore[attr-defined]
        at = filename.find("saas_license")
        where = f"{filename[at:]}:{lineno}({name})" if at >= 0 else f"{filename}:{lineno}({name})"
        if filename == "~":
            where = name
        own.append((where, value[2]))
        if at >= 0 and name != "<module>":
            cumulative.append((where, value[3]))
    cumulative.sort(key=lambda r: -r[1])
    own.sort(key=lambda r: -r[1])
    return {"cumulative": cumulative[:n], "own": own[:n]}


def _compile_ours() -> None:
    """Write the bytecode an installed copy has (an editable install may have none yet)."""
    import saas_license
    import saas_license_aha

    for package in (saas_license, saas_license_aha):
        for directory in package.__path__:
            compileall.compile_dir(directory, quiet=1, workers=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.peer", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--users", type=int, default=2000, help="Sandbox account size.")
    parser.add_argument("--latency", type=float, default=50, help="Milliseconds per request.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each side (median).")
    parser.add_argument(
        "--rate-limit", choices=["on", "off"], default="off", help="Aha!'s limits in the sandbox."
    )
    parser.add_argument(
        "--tcp-nodelay",
        action="store_true",
        help="Serve with Nagle's algorithm off (see benchmarks/_nodelay_serve.py).",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="Where the peer's virtualenv and manifest live "
        "[default: $SAAS_LICENSE_BENCH_CACHE or ~/.cache/saas-license-bench].",
    )
    parser.add_argument("--ours-only", action="store_true", help="Do not set up or run the peer.")
    parser.add_argument(
        "--no-breakdown", action="store_true", help="Skip the where-the-time-goes runs."
    )
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args(argv)
    say: Callable[[str], None] = (lambda _: None) if args.json else print

    env = child_env()
    _compile_ours()
    result: dict[str, Any] = {
        "users": args.users,
        "latency_ms": args.latency,
        "rate_limit": args.rate_limit,
        "tcp_nodelay": args.tcp_nodelay,
        "repeat": args.repeat,
    }
    say(
        f"sandbox: {args.users:,} users, {args.latency:g} ms per request, rate limits "
        f"{args.rate_limit}, {'TCP_NODELAY' if args.tcp_nodelay else 'default sockets'}; "
        f"a fresh `saas-license sandbox serve` process per run; medians of {args.repeat}"
    )

    the_peer: _peer_env.Peer | _peer_env.PeerUnavailable | None = None
    if not args.ours_only:
        cache = args.cache_dir or _peer_env.default_cache()
        say(f"peer: airbyte-cdk=={_peer_env.CDK_VERSION} in {cache} (set up on first use) ...")
        log: list[str] = []
        the_peer = _peer_env.prepare(cache, log=log)
        if isinstance(the_peer, _peer_env.PeerUnavailable):
            say(f"PEER UNAVAILABLE: {the_peer}")
            say("  (measuring saas-license only; the ratio cannot be given)")
            result["peer_unavailable"] = {"command": the_peer.command, "error": the_peer.error}
        else:
            result["peer_setup_commands"] = log

    sides: dict[str, list[dict[str, Any]]] = {"saas-license": [], "peer": []}
    failures: dict[str, list[str]] = {"saas-license": [], "peer": []}

    def one(side: str) -> None:
        with _sandbox(args, env) as sandbox, _scratch() as tmp:
            try:
                if side == "saas-license":
                    row = ours(sandbox, Path(tmp), env)
                    say(
                        f"  saas-license run: {row['wall']:.2f}s wall ({row['cpu']:.2f}s CPU), "
                        f"{row['requests']} requests, {row['seats']} seats "
                        f"(set-up {row['setup_wall']:.2f}s, {row['setup_requests']} requests)"
                    )
                else:
                    assert isinstance(the_peer, _peer_env.Peer)
                    row = peer(sandbox, Path(tmp), env, the_peer)
                    say(
                        f"  peer read:        {row['wall']:.2f}s wall ({row['cpu']:.2f}s CPU), "
                        f"{row['requests']} requests, {row['records']} records "
                        f"({row['users']} distinct users)"
                    )
                sides[side].append(row)
            except BenchError as exc:
                failures[side].append(str(exc))
                say(f"  {side} FAILED: {exc}")

    run_peer = isinstance(the_peer, _peer_env.Peer)
    for i in range(args.repeat):
        order = ["saas-license", "peer"] if i % 2 == 0 else ["peer", "saas-license"]
        for side in order:
            if side == "peer" and not run_peer:
                continue
            one(side)

    summary: dict[str, Any] = {}
    for side, rows in sides.items():
        if rows:
            summary[side] = {
                "wall_median": _median(rows, "wall"),
                "cpu_median": _median(rows, "cpu"),
                "requests_median": _median(rows, "requests"),
                "walls": [r["wall"] for r in rows],
                "runs": rows,
            }
    if sides["peer"] and isinstance(the_peer, _peer_env.Peer):
        # the peer's start-up alone: the CDK answering `spec` (no config, no network)
        summary["peer"]["startup_median"] = statistics.median(
            run_timed([str(the_peer.entry_point), "spec"], env=env).wall for _ in range(3)
        )
    if sides["saas-license"]:
        summary["saas-license"]["setup_wall_median"] = _median(sides["saas-license"], "setup_wall")
    result["sides"] = summary
    result["failures"] = {k: v for k, v in failures.items() if v}

    if args.json:
        if sides["saas-license"] and not args.no_breakdown:
            result["breakdown"] = _breakdown(args, env)
        print(json.dumps(result, indent=2))
        return 0

    print()
    mine = summary.get("saas-license")
    theirs = summary.get("peer")
    if mine:
        print(
            f"saas-license (whole `saas-license run` process): median {mine['wall_median']:.2f}s "
            f"wall, {mine['cpu_median']:.2f}s CPU, {mine['requests_median']:g} requests "
            f"(runs: {', '.join(f'{w:.2f}' for w in mine['walls'])}); one-time set-up "
            f"(alias add, profile create, validate, publish) {mine['setup_wall_median']:.2f}s"
        )
    if theirs:
        print(
            f"peer (whole `source-declarative-manifest read` process): median "
            f"{theirs['wall_median']:.2f}s wall, {theirs['cpu_median']:.2f}s CPU, "
            f"{theirs['requests_median']:g} requests "
            f"(runs: {', '.join(f'{w:.2f}' for w in theirs['walls'])}); "
            f"network floor {theirs['requests_median'] * args.latency / 1000:.1f}s "
            f"(sequential requests x latency); its start-up alone "
            f"(`source-declarative-manifest spec`) {theirs['startup_median']:.2f}s"
        )
    if mine and theirs:
        speed = theirs["wall_median"] / mine["wall_median"]
        fewer = theirs["requests_median"] / max(mine["requests_median"], 1)
        with_setup = theirs["wall_median"] / (mine["wall_median"] + mine["setup_wall_median"])
        print(
            f"ratio: saas-license {speed:.1f}x faster (target {TARGET_RATIO:g}x: "
            f"{'met' if speed >= TARGET_RATIO else 'not met'}), {fewer:.1f}x fewer requests; "
            f"{with_setup:.1f}x counting the one-time set-up processes too"
        )
        if not args.tcp_nodelay:
            print(
                "note: the sandbox answers small pages ~40 ms late (Nagle + delayed ACK); the "
                "peer's 5-user pages pay it on every request: compare with --tcp-nodelay"
            )
    elif mine and "peer_unavailable" in result:
        print(f"peer not measured: {result['peer_unavailable']['command']} failed")
    for side, errors in result["failures"].items():
        print(f"{side}: {len(errors)} failed run(s): {errors[0]}")
    if mine and not args.no_breakdown:
        _print_breakdown(_breakdown(args, env))
    return 0


def _sandbox(args: argparse.Namespace, env: dict[str, str]) -> SandboxProcess:
    """A fresh sandbox process as the command line asks for (a new key each time)."""
    return SandboxProcess(
        users=args.users,
        latency_ms=args.latency,
        api_key=secrets.token_urlsafe(16),
        rate_limit=args.rate_limit == "on",
        nodelay=args.tcp_nodelay,
        env=env,
    )


def _scratch() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="saas-license-peer-bench-")


def _breakdown(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    with _sandbox(args, env) as sandbox, _scratch() as tmp:
        try:
            return breakdown(sandbox, Path(tmp), env)
        except BenchError as exc:
            return {"error": str(exc)}


def _print_breakdown(b: dict[str, Any]) -> None:
    print()
    if "error" in b:
        print(f"breakdown failed: {b['error']}")
        return
    jobs = ", ".join(f"{k} {v:.3f}s" for k, v in b["jobs"].items())
    kinds = ", ".join(f"{k} {v:.3f}s" for k, v in b["import_self_time"].items())
    print(
        f"where our run's time goes (medians of {b['runs']} runs under -X importtime, "
        f"{b['wall_importtime_run']:.2f}s wall): interpreter {b['interpreter_bare']:.3f}s; "
        f"imports {b['imports']:.3f}s (under saas_license {b['imports_saas_license']:.3f}s; "
        f"modules' own time by origin: {kinds}); jobs: {jobs}; the rest (CLI, workspace "
        f"open, plan, output, exit) {b['rest']:.3f}s; `saas-license --version` "
        f"{b['cli_version']:.3f}s"
    )
    if b["cprofile_top"]:
        print(
            f"cProfile of another run ({b['cprofile_wall']:.2f}s wall under the profiler); "
            "the project's functions by cumulative time:"
        )
        for name, seconds in b["cprofile_top"]["cumulative"]:
            print(f"  {seconds:7.3f}s  {name}")
        print("  functions of any module by their own time:")
        for name, seconds in b["cprofile_top"]["own"]:
            print(f"  {seconds:7.3f}s  {name}")


if __name__ == "__main__":
    raise SystemExit(main())
