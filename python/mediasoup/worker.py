"""The worker program: ``python -m mediasoup.worker``.

A wheel cannot carry a second executable beside the extension module, so a
worker is the extension re-entered: ``mediasoup.Server`` starts this module
with the Channel socket as stdin, and :func:`run_worker` runs the Rust worker
loop until the Channel closes. It never calls back into Python.
"""

from __future__ import annotations

import signal
import sys

from mediasoup._mediasoup import run_worker

if __name__ == "__main__":
    # The server's process ends its workers (the Channel's end; the parent's
    # death, by PR_SET_PDEATHSIG). A SIGINT or SIGTERM sent to the whole
    # process group (Ctrl-C in a terminal, systemd stopping the service) is
    # for the application, which closes its calls first: a worker that died
    # of it would have its rooms closed as by a crash and be replaced.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(run_worker())
