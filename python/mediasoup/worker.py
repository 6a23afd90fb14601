"""The worker program: ``python -m mediasoup.worker``.

A wheel cannot carry a second executable beside the extension module, so a
worker is the extension re-entered: ``mediasoup.Server`` starts this module
with the Channel socket as stdin, and :func:`run_worker` runs the Rust worker
loop until the Channel closes. It never calls back into Python.
"""

from __future__ import annotations

import sys

from mediasoup._mediasoup import run_worker

if __name__ == "__main__":
    sys.exit(run_worker())
