"""The peer for ``benchmarks.peer``: Airbyte's source-aha, set up once in a cache directory.

- ``airbyte-cdk==7.39.1`` in its own virtualenv (``<cache>/airbyte-cdk-7.39.1/``), installed
  with pip from the package index on first use;
- the declarative manifest ``source_aha/manifest.yaml`` read out of the
  ``airbyte-source-aha==0.3.14`` wheel (downloaded without dependencies), kept as JSON
  (``<cache>/source-aha-0.3.14.manifest.json``; the CDK's PyYAML parses it, so this process
  needs none).

Nothing here raises when the index or a version cannot be had: :func:`prepare` answers a
:class:`PeerUnavailable` naming the command that failed and its error, for the benchmark to print.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CDK_VERSION = "7.39.1"
CONNECTOR = "airbyte-source-aha"
CONNECTOR_VERSION = "0.3.14"
MANIFEST_IN_WHEEL = "source_aha/manifest.yaml"
ENTRY_POINT = "source-declarative-manifest"


def default_cache() -> Path:
    """``$SAAS_LICENSE_BENCH_CACHE``, else ``$XDG_CACHE_HOME/saas-license-bench`` (``~/.cache``)."""
    explicit = os.environ.get("SAAS_LICENSE_BENCH_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "saas-license-bench"


@dataclass(frozen=True)
class Peer:
    """A ready peer: the CDK's entry point and the connector's manifest."""

    venv: Path
    manifest: dict[str, Any]
    manifest_source: str

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def entry_point(self) -> Path:
        return self.venv / "bin" / ENTRY_POINT


@dataclass(frozen=True)
class PeerUnavailable:
    """Why the peer could not be set up: the command that failed and what it said."""

    command: str
    error: str

    def __str__(self) -> str:
        return f"`{self.command}` failed: {self.error}"


def _run(argv: list[str], log: list[str]) -> PeerUnavailable | None:
    log.append(" ".join(argv))
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return PeerUnavailable(" ".join(argv), str(exc))
    if proc.returncode != 0:
        lines = [
            line
            for line in (proc.stderr or proc.stdout).strip().splitlines()
            if not line.startswith("WARNING: Location")  # pip's noise about absent local indexes
        ]
        return PeerUnavailable(" ".join(argv), f"exit {proc.returncode}: " + "\n".join(lines[-12:]))
    return None


def prepare(cache: Path, *, log: list[str] | None = None) -> Peer | PeerUnavailable:
    """The peer, installed under ``cache`` on first use (pip, from the package index)."""
    log = [] if log is None else log
    cache.mkdir(parents=True, exist_ok=True)
    venv = cache / f"airbyte-cdk-{CDK_VERSION}"
    marker = venv / ".installed"
    py = venv / "bin" / "python"
    if not marker.exists():
        if not py.exists():
            failed = _run([sys.executable, "-m", "venv", str(venv)], log)
            if failed:
                return failed
        failed = _run(
            [
                str(py),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
                f"airbyte-cdk=={CDK_VERSION}",
            ],
            log,
        )
        if failed:
            return failed
        if not (venv / "bin" / ENTRY_POINT).exists():
            return PeerUnavailable(
                f"airbyte-cdk=={CDK_VERSION}", f"no {ENTRY_POINT} entry point in {venv / 'bin'}"
            )
        marker.write_text(f"airbyte-cdk=={CDK_VERSION}\n")

    manifest_json = cache / f"source-aha-{CONNECTOR_VERSION}.manifest.json"
    if not manifest_json.exists():
        wheels = cache / "wheels"
        wheel = wheels / f"{CONNECTOR.replace('-', '_')}-{CONNECTOR_VERSION}-py3-none-any.whl"
        if not wheel.exists():
            failed = _run(
                [
                    str(py),
                    "-m",
                    "pip",
                    "download",
                    "--disable-pip-version-check",
                    "--quiet",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--dest",
                    str(wheels),
                    f"{CONNECTOR}=={CONNECTOR_VERSION}",
                ],
                log,
            )
            if failed:
                return failed
            found = sorted(wheels.glob(f"{CONNECTOR.replace('-', '_')}-{CONNECTOR_VERSION}-*.whl"))
            if not found:
                return PeerUnavailable(f"pip download {CONNECTOR}", f"no wheel in {wheels}")
            wheel = found[0]
        try:
            with zipfile.ZipFile(wheel) as zf:
                yaml_text = zf.read(MANIFEST_IN_WHEEL).decode()
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            return PeerUnavailable(f"read {MANIFEST_IN_WHEEL} from {wheel.name}", str(exc))
        # PyYAML comes with the CDK: its interpreter turns the manifest into JSON for us
        convert = subprocess.run(
            [
                str(py),
                "-c",
                "import json,sys,yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
            ],
            input=yaml_text,
            capture_output=True,
            text=True,
            check=False,
        )
        if convert.returncode != 0:
            return PeerUnavailable("yaml.safe_load(manifest.yaml) in the peer venv", convert.stderr)
        manifest_json.write_text(convert.stdout)
    manifest: dict[str, Any] = json.loads(manifest_json.read_text())
    return Peer(
        venv=venv,
        manifest=manifest,
        manifest_source=f"{CONNECTOR}=={CONNECTOR_VERSION} wheel, {MANIFEST_IN_WHEEL}",
    )


def point_at(manifest: dict[str, Any], base_url: str) -> tuple[dict[str, Any], str]:
    """The config the CDK reads, pointing the manifest at ``base_url``; and how it was pointed.

    source-aha's requester is ``url_base: "{{ config['url'] }}/api/v1"``, so ``url`` in the config
    is enough. A manifest whose ``url_base`` does not read ``config['url']`` gets its url_base
    replaced in the injected copy.
    """
    injected = json.loads(json.dumps(manifest))
    requester = injected.get("definitions", {}).get("base_requester", {})
    url_base = str(requester.get("url_base", ""))
    how = f"config url={base_url} (manifest url_base {url_base!r})"
    if "config['url']" not in url_base and 'config["url"]' not in url_base:
        requester["url_base"] = f"{base_url}/api/v1"
        how = f"url_base patched to {base_url}/api/v1 (was {url_base!r})"
    return injected, how


def catalog(stream: str = "users_stream") -> dict[str, Any]:
    """A configured catalog of one stream, full refresh (source-aha has no incremental users)."""
    return {
        "streams": [
            {
                "stream": {
                    "name": stream,
                    "json_schema": {},
                    "supported_sync_modes": ["full_refresh"],
                },
                "sync_mode": "full_refresh",
                "destination_sync_mode": "overwrite",
            }
        ]
    }
