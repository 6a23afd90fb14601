"""The browser demo in headless Chromium (Debian's, driven by Playwright),
in a network namespace that has only loopback: two pages decode each other's
audio and video, a third joins late and sees both, the first two see it too
(by renegotiation, without reconnecting). The screenshot of the first page
is kept in tests/artifacts/browser_demo.png. Then a page publishes with WHIP
(``fetch``), and a page of its room and a WHEP page decode it."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "tests" / "artifacts" / "browser_demo.png"


def _unavailable() -> str | None:
    if shutil.which("chromium") is None:
        return "Debian's chromium is not installed (scripts/test installs it)"
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return "a private network namespace needs unshare as root"
    return None


def test_two_pages_decode_each_other_and_a_third_joins_late() -> None:
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    SCREENSHOT.unlink(missing_ok=True)
    script = ROOT / "tests" / "browser" / "demo_in_chromium.py"
    command = f"ip link set lo up && exec {sys.executable} {script} {SCREENSHOT}"
    run = subprocess.run(["unshare", "-n", "sh", "-c", command], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])

    def decoded(stats: dict[str, object], kind: str) -> list[dict[str, int]]:
        return [s for s in stats["inbound"].values() if s["kind"] == kind]  # type: ignore[attr-defined]

    for stats in result["two"]:
        assert stats["connectionState"] == "connected" and len(stats["streams"]) == 1
        assert all(s["framesDecoded"] >= 10 for s in decoded(stats, "video"))
        assert all(s["totalSamplesReceived"] > 0 for s in decoded(stats, "audio"))
    late = result["late"]
    assert sorted(late["streams"]) == ["participant-1", "participant-2"]
    assert len(decoded(late, "video")) == 2 and all(s["framesDecoded"] >= 10 for s in decoded(late, "video"))
    for stats in result["three"]:
        assert len(stats["streams"]) == 2 and len(decoded(stats, "video")) == 2
    assert SCREENSHOT.stat().st_size > 10_000
    # WHIP from a page (fetch): a page of the room and a WHEP page decode it.
    assert result["whip"]["session"].startswith("/session/") and result["whip"]["connectionState"] == "connected"
    # The WHIP session and the room's page take their numbers in either order.
    streams = result["whip_in_room"]["streams"]
    assert len(streams) == 1 and streams[0].startswith("whip-"), streams
    whep = result["whep"]
    assert whep["session"].startswith("/session/") and len(whep["streams"]) == 1
    assert all(s["framesDecoded"] >= 10 for s in decoded(whep, "video")) and len(decoded(whep, "video")) == 1
    assert all(s["totalSamplesReceived"] > 0 for s in decoded(whep, "audio")) and len(decoded(whep, "audio")) == 1
