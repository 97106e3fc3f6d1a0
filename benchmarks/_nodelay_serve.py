"""``python -m benchmarks._nodelay_serve sandbox serve …``: the CLI's ``sandbox serve`` with TCP_NODELAY.

The sandbox's handler writes the status line and headers, then the body, in two ``send`` calls.
With Nagle's algorithm on (``socketserver.StreamRequestHandler.disable_nagle_algorithm`` is
False by default) a small body waits for the client's delayed ACK: ~40 ms more per small answer
on Linux, which a client paging 5 users at a time pays on every request. This wrapper turns
Nagle off for the server's connections and otherwise runs the very same command.
"""

from __future__ import annotations

import sys

from saas_license.cli import main
from saas_license_aha.sandbox import _server

if __name__ == "__main__":
    _server._Handler.disable_nagle_algorithm = True
    main(sys.argv[1:])
