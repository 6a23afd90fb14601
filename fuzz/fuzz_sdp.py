"""The SDP target: what a browser's or a WHIP client's offer goes through in
Python before it reaches a worker (``mediasoup.webrtc.sdp`` and the ORTC
conversion), on arbitrary text. It must raise ``ValueError`` or
``TypeError`` naming what is wrong, or succeed; what it parsed writes out
as SDP that parses back the same.

The suite runs it on Hypothesis' SDP (tests/test_sdp_fuzz.py); the long,
coverage-guided run is atheris (PyPI)::

    .venv/bin/python -m pip install atheris
    .venv/bin/python fuzz/fuzz_sdp.py -runs=10000000 fuzz/work/sdp fuzz/corpus/sdp
    .venv/bin/python fuzz/fuzz_sdp.py -merge=1 fuzz/corpus/sdp fuzz/work/sdp
"""

from __future__ import annotations

import shlex
import sys
from typing import Any, Callable

if __name__ == "__main__":  # pragma: no cover - the long run: coverage of mediasoup's modules alone
    import atheris  # type: ignore[import-not-found]

    with atheris.instrument_imports():
        from mediasoup.webrtc import ortc, sdp
else:
    from mediasoup.webrtc import ortc, sdp

#: The codecs a room has by default (mediasoup's Room.rtpCapabilities shape).
ROOM_CODECS: list[dict[str, Any]] = [
    {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2, "preferredPayloadType": 100, "parameters": {}},
    {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 101, "parameters": {}},
    {"kind": "video", "mimeType": "video/rtx", "clockRate": 90000, "preferredPayloadType": 102, "parameters": {"apt": 101}},
    {
        "kind": "video",
        "mimeType": "video/H264",
        "clockRate": 90000,
        "preferredPayloadType": 103,
        "parameters": {"packetization-mode": 1, "profile-level-id": "42e01f", "level-asymmetry-allowed": 1},
    },
]


def one_input(text: str) -> None:
    """Parses `text` and reads all of it as an offer's answer would: each
    reading either succeeds or raises ValueError/TypeError."""
    try:
        description = sdp.parse(text)
    except (ValueError, TypeError):
        return
    readings: list[Callable[[], object]] = [description.bundle, description.fingerprints, lambda: ortc.capabilities_of(description.media)]
    for section in description.media:
        readings += [lambda section=section: (section.mid, section.direction), section.codecs, section.extmaps, section.ssrc_attributes, section.ssrc_groups]
        readings += [section.rids, section.fingerprints, section.candidates, lambda section=section: answer_parameters(section)]
    for read in readings:
        try:
            read()
        except (ValueError, TypeError):
            pass
    written = sdp.write(description)
    assert sdp.write(sdp.parse(written)) == written, "what was parsed writes out as SDP that parses back the same"


def answer_parameters(section: sdp.MediaSection) -> object:
    """What an answer to `section` takes from it: its codecs in the room's, then the receive parameters."""
    if ortc.is_data_section(section):
        return None
    return ortc.receive_parameters(section, ortc.chosen_codecs(section, ROOM_CODECS))


def _atheris_main() -> None:  # pragma: no cover - the long run only
    def test_one(data: bytes) -> None:
        # As text arrives over HTTP: UTF-8, undecodable bytes replaced (the seeds stay readable offers).
        one_input(data.decode("utf-8", "replace"))

    # libFuzzer runs itself again through a shell for -merge and -fork, as
    # argv[0]: this script, through the interpreter running it now.
    argv = [f"{shlex.quote(sys.executable)} {shlex.quote(sys.argv[0])}", *sys.argv[1:]]
    atheris.Setup(argv, test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    _atheris_main()
