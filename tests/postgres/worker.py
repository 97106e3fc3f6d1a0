"""One worker "host" of the many-workers test: ``run --due`` rounds on a shared PostgreSQL
workspace until nothing is due. Run as ``python -m tests.postgres.worker``.

Each worker pretends to be its own host (``WORKER_HOST``), so a dead worker's run lock is
recognised only by its expired heartbeat, as across machines. All workers read one clock: the
pinned ``WORKERS_T0`` moving on in real time from ``WORKERS_WALL0``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
import time

HOST = os.environ["WORKER_HOST"]
socket.gethostname = lambda: HOST  # one process per "host"

from saas_license import EvaluationPolicy, Workspace  # noqa: E402
from saas_license._time import parse_instant  # noqa: E402

T0 = parse_instant(os.environ["WORKERS_T0"])
WALL0 = float(os.environ["WORKERS_WALL0"])


def clock() -> dt.datetime:
    return T0 + dt.timedelta(seconds=time.time() - WALL0)


def main() -> int:
    policy = EvaluationPolicy(
        timezone=os.environ["WORKERS_TZ"], run_lock_ttl=dt.timedelta(seconds=5)
    )
    ws = Workspace.open(os.environ["WORKERS_URL"], clock=clock, policy=policy, create=False)
    deadline = time.monotonic() + float(os.environ.get("WORKERS_TIMEOUT", "90"))
    try:
        while time.monotonic() < deadline:
            if not ws.jobs.due():
                return 0
            for run in ws.jobs.run_due():
                print(json.dumps({"host": HOST, "profile": run.profile, "status": run.status}))
                sys.stdout.flush()
            time.sleep(0.2)
        return 3
    finally:
        ws.close()


if __name__ == "__main__":
    sys.exit(main())
