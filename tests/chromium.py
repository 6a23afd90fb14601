"""The headless Chromium drivers of tests/browser/, run as a test needs
them: each in a private network namespace with only loopback (unshare, as
root), printing what its pages saw as JSON on its last line. Where Chromium
or unshare is missing the test is skipped, and fails in CI (``CI`` set),
where scripts/test installs them."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def unavailable() -> str | None:
    """Why Chromium cannot run here, or None."""
    if shutil.which("chromium") is None:
        return "Debian's chromium is not installed (scripts/test installs it)"
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return "a private network namespace needs unshare as root"
    return None


def run_driver(script: str, *args: object, what: str, timeout: float = 300, missing: str | None = None) -> Any:
    """Runs tests/browser/`script` with `args` and answers the JSON it printed
    last. `what` names the test in the failure CI reports; `missing` is a
    further reason it cannot run (something to build first)."""
    reason = unavailable() or missing
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{what} must run in CI: {reason}")
        pytest.skip(reason)
    path = ROOT / "tests" / "browser" / script
    command = f"ip link set lo up && exec {sys.executable} {path} {' '.join(map(str, args))}"
    done = subprocess.run(["unshare", "-n", "sh", "-c", command], check=False, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
