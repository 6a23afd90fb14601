"""Data channels between aiortc and Chromium through the server, by SDP:
an aiortc RTCPeerConnection and a headless Chromium page join one room
through ``mediasoup.webrtc.RTCPeerConnection``, each opening a 'chat'
channel before its offer; the label relay carries each side's text and
binary messages to the other's own channel, equal and in order. Python
hears the page (``datachannelmessage``) and writes to it (``sendData``).
One run of tests/browser/data_channels_in_chromium.py, in a network
namespace with only loopback, serves the tests below."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
MESSAGES = 40  # each side sends, as in the script
Exchange = dict[str, Any]


@pytest.fixture(scope="module")
def exchange() -> Exchange:
    if shutil.which("chromium") is None:
        reason = "Debian's chromium is not installed (scripts/test installs it)"
    elif shutil.which("unshare") is None or os.geteuid() != 0:
        reason = "a private network namespace needs unshare as root"
    else:
        reason = ""
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the Chromium data channel test must run in CI: {reason}")
        pytest.skip(reason)
    script = ROOT / "tests" / "browser" / "data_channels_in_chromium.py"
    command = f"ip link set lo up && exec {sys.executable} {script}"
    run = subprocess.run(["unshare", "-n", "sh", "-c", command], check=False, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    result: Exchange = json.loads(run.stdout.strip().splitlines()[-1])
    assert "error" not in result, result["error"]
    assert result["page_open"] is True
    return result


def payload(message: dict[str, str]) -> bytes:
    return message["text"].encode() if "text" in message else base64.b64decode(message["binary"])


def assert_text_and_binary_in_turns(sent: list[dict[str, str]]) -> None:
    """`sent` is what the script means to send: text and bytes from 1 B to 64 KiB, one text of 60,000 UTF-8 bytes."""
    assert len(sent) == MESSAGES
    assert [next(iter(message)) for message in sent] == ["text", "binary"] * (MESSAGES // 2)
    assert {len(payload(message)) for message in sent if "binary" in message} == {1, 1000, 16384, 65536}
    assert max(len(payload(message)) for message in sent if "text" in message) > 60_000


def test_aiortcs_messages_arrive_at_the_chromium_page_equal_and_in_order(exchange: Exchange) -> None:
    assert_text_and_binary_in_turns(exchange["aiortc_sent"])
    # On the page's own 'chat' channel, then what Python wrote on it.
    assert exchange["page_received"][:MESSAGES] == exchange["aiortc_sent"]


def test_the_pages_messages_arrive_at_aiortc_equal_and_in_order(exchange: Exchange) -> None:
    assert_text_and_binary_in_turns(exchange["page_sent"])
    assert exchange["aiortc_received"] == exchange["page_sent"]


def test_python_hears_the_page_and_its_send_data_reaches_the_page(exchange: Exchange) -> None:
    assert exchange["python_heard"] == [["chat", message] for message in exchange["page_sent"]]
    assert exchange["python_sent"] == [{"text": "from python ✓"}, {"binary": base64.b64encode(b"\x00\xff from python").decode()}]
    assert exchange["page_received"][MESSAGES:] == exchange["python_sent"]
