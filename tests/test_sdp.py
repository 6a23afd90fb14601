"""mediasoup.webrtc.sdp on real offers: Chromium 156 (captured with
tests/data/capture_offers.py) and aiortc (captured, and made live); and a
Firefox-style offer written after Firefox's format (no Firefox on these
machines): session-level fingerprint, extmap directions, bare fmtp values,
ssrc-group after the ssrc lines."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from mediasoup.webrtc import sdp

from .clients import use_loopback_only

DATA = pathlib.Path(__file__).parent / "data"


def offer(name: str) -> str:
    return (DATA / name).read_text()


def test_a_chromium_offer_parses_into_its_sections() -> None:
    description = sdp.parse(offer("chromium_offer.sdp"))
    assert description.bundle() == ["0", "1", "2", "3"]
    assert description.has("extmap-allow-mixed")
    assert [(m.kind, m.mid, m.direction) for m in description.media] == [
        ("audio", "0", "sendrecv"),
        ("video", "1", "sendrecv"),
        ("video", "2", "recvonly"),
        ("application", "3", "sendrecv"),
    ]
    audio, video, _, application = description.media
    opus = audio.codecs()[0]
    assert (opus.payload_type, opus.mime_type, opus.clock_rate, opus.channels) == (111, "audio/opus", 48000, 2)
    assert opus.parameters == {"minptime": "10", "useinbandfec": "1"}
    assert ("transport-cc", "") in opus.feedback
    assert {e.uri: e.id for e in audio.extmaps()}["urn:ietf:params:rtp-hdrext:sdes:mid"] == 4
    vp8 = next(c for c in video.codecs() if c.mime_type == "video/VP8")
    rtx = next(c for c in video.codecs() if c.mime_type == "video/rtx" and c.parameters["apt"] == str(vp8.payload_type))
    assert (vp8.payload_type, rtx.payload_type) == (96, 97)
    assert ("nack", "pli") in vp8.feedback and ("ccm", "fir") in vp8.feedback
    # The sending video stream and its RTX, by SSRC.
    (semantics, (ssrc, rtx_ssrc)), = video.ssrc_groups()
    assert semantics == "FID" and video.ssrc_attributes()[ssrc]["cname"] == video.ssrc_attributes()[rtx_ssrc]["cname"]
    assert video.fingerprints()[0][0] == "sha-256"
    candidate = video.candidates()[0]
    assert (candidate.protocol, candidate.ip, candidate.type) == ("udp", "127.0.0.1", "host")
    assert video.value("setup") == "actpass" and video.value("ice-ufrag")
    assert application.protocol == "UDP/DTLS/SCTP" and application.formats == ["webrtc-datachannel"]
    assert application.value("sctp-port") == "5000"


def test_a_chromium_simulcast_offer_names_its_layers_by_rid() -> None:
    video = sdp.parse(offer("chromium_simulcast_offer.sdp")).media[1]
    assert video.direction == "sendonly"
    assert video.rids() == [("q", "send"), ("h", "send"), ("f", "send")]
    assert video.value("simulcast") == "send q;h;f"
    uris = {e.uri for e in video.extmaps()}
    assert {"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"} <= uris


@pytest.mark.parametrize("name", ["chromium_offer.sdp", "chromium_simulcast_offer.sdp", "aiortc_offer.sdp", "firefox_style_offer.sdp"])
def test_what_is_parsed_is_written_back_line_for_line(name: str) -> None:
    text = offer(name)
    written = sdp.write(sdp.parse(text))
    assert written.splitlines() == [line for line in text.splitlines() if line]
    assert written.endswith("\r\n") and "\n" not in written.replace("\r\n", "")


async def test_a_live_aiortc_offer_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    use_loopback_only(monkeypatch)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        pc.createDataChannel("chat")
        await pc.setLocalDescription(await pc.createOffer())
        description = sdp.parse(pc.localDescription.sdp)
    finally:
        await pc.close()
    audio, video, application = description.media
    # aiortc: its own payload types, ids per kind, three fingerprints per section.
    assert audio.codecs()[0].mime_type == "audio/opus"
    assert [c.mime_type for c in audio.codecs()[1:]] == ["audio/G722", "audio/PCMU", "audio/PCMA"]
    assert {e.uri: e.id for e in video.extmaps()}["http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"] == 3
    assert [algorithm for algorithm, _ in video.fingerprints()] == ["sha-256", "sha-384", "sha-512"]
    assert video.candidates()[0].ip == "127.0.0.1"
    assert application.value("max-message-size") == "262144"


async def test_a_simulcast_offer_is_answered_receiving_each_rid_in_its_order(server: Any) -> None:
    """RFC 8853: the answer receives every encoding offered, so Chromium sends them all."""
    from mediasoup.webrtc import RTCPeerConnection

    room = server.Room()
    pc = RTCPeerConnection(await room.Peer("chromium"))
    try:
        await pc.setRemoteDescription({"type": "offer", "sdp": offer("chromium_simulcast_offer.sdp")})
        answer = sdp.parse((await pc.createAnswer()).sdp)
    finally:
        pc.close()
    audio, video = answer.media[:2]
    assert video.direction == "recvonly"
    assert video.rids() == [("q", "recv"), ("h", "recv"), ("f", "recv")]
    assert video.value("simulcast") == "recv q;h;f"
    uris = {extmap.uri for extmap in video.extmaps()}
    assert {"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"} <= uris
    assert audio.rids() == [] and audio.value("simulcast") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "SDP is empty"),
        ("o=- 1 1 IN IP4 0.0.0.0\r\n", "SDP line 1: the first line must be 'v=0'"),
        ("v=0\r\ns=-\r\n", "SDP has no o= line"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n", "SDP has no s= line"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nthis is not sdp\r\n", "SDP line 4: 'this is not sdp' is not '<letter>=<value>'"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio nine UDP/TLS/RTP/SAVPF 111\r\n", "SDP line 4: m=audio nine"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF\r\n", "SDP line 4: m=audio 9"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nv=0\r\n", "SDP line 4: a second v= line"),
    ],
)
def test_malformed_sdp_raises_value_error_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        sdp.parse(text)


def test_a_malformed_attribute_is_named_by_its_line_when_read() -> None:
    head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
    cases = [
        ("a=rtpmap:96 VP8", "codecs", r"SDP line 6: a=rtpmap:96 VP8 must be '<payload type> <encoding name>/<clock rate>"),
        ("a=extmap:300 urn:x", "extmaps", r"SDP line 6: a=extmap:300 urn:x must be '<id 1-255>"),
        ("a=ssrc:abc cname:x", "ssrc_attributes", r"SDP line 6: a=ssrc:abc cname:x must be"),
        ("a=ssrc-group:FID", "ssrc_groups", r"SDP line 6: a=ssrc-group:FID must be"),
        ("a=rid:q both", "rids", r"SDP line 6: a=rid:q both must be"),
        ("a=fingerprint:sha-256 XYZ", "fingerprints", r"SDP line 6: a=fingerprint:sha-256 XYZ must be"),
        ("a=candidate:1 1 udp high 127.0.0.1 9 typ host", "candidates", r"SDP line 6: a=candidate:1 1 udp high"),
        ("a=mid:0", "codecs", r"SDP line 5: dynamic payload type 96 of m=video has no a=rtpmap"),
    ]
    for line, reader, message in cases:
        section = sdp.parse(head + line + "\r\n").media[0]
        with pytest.raises(ValueError, match=message):
            getattr(section, reader)()
    with pytest.raises(TypeError, match="sdp must be a str, not bytes"):
        sdp.parse(b"v=0")  # type: ignore[arg-type]


def test_an_offered_section_becomes_receive_parameters_with_its_ssrc_and_rtx() -> None:
    from mediasoup.webrtc import ortc

    room_codecs = [
        {"mimeType": "audio/opus", "clockRate": 48000, "channels": 2, "preferredPayloadType": 100},
        {"mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 101},
        {"mimeType": "video/rtx", "clockRate": 90000, "preferredPayloadType": 102, "parameters": {"apt": 101}},
    ]
    audio, video, *_ = sdp.parse(offer("chromium_offer.sdp")).media
    codecs = ortc.chosen_codecs(video, room_codecs)
    assert [(c.mime_type, c.payload_type) for c in codecs] == [("video/VP8", 96), ("video/rtx", 97)]
    parameters = ortc.receive_parameters(video, codecs)
    (_, (main, rtx)), = video.ssrc_groups()
    assert parameters["encodings"] == [{"ssrc": main, "rtx": {"ssrc": rtx}}]
    assert parameters["mid"] == "1" and parameters["rtcp"]["cname"] == video.ssrc_attributes()[main]["cname"]
    assert {"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 4} in parameters["headerExtensions"]
    # Audio: opus with Chromium's parameters, no RTX.
    opus = ortc.receive_parameters(audio, ortc.chosen_codecs(audio, room_codecs))
    assert opus["codecs"] == [{
        "mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2,
        "parameters": {"minptime": 10, "useinbandfec": 1}, "rtcpFeedback": [{"type": "transport-cc", "parameter": ""}],
    }]
    assert opus["encodings"] == [{"ssrc": next(iter(audio.ssrc_attributes()))}]
    # Simulcast: encodings by rid, in the a=simulcast order.
    simulcast = sdp.parse(offer("chromium_simulcast_offer.sdp")).media[1]
    assert ortc.receive_parameters(simulcast, ortc.chosen_codecs(simulcast, room_codecs))["encodings"] == [{"rid": "q"}, {"rid": "h"}, {"rid": "f"}]


def test_codecs_are_chosen_by_the_workers_rule() -> None:
    """VP9 by profile-id and H264 by packetization-mode (the worker's
    codec_match), in the offer's order of preference."""
    from mediasoup.webrtc import ortc

    video = sdp.parse(offer("chromium_offer.sdp")).media[1]
    vp9 = [{"mimeType": "video/VP9", "clockRate": 90000, "parameters": {"profile-id": 2}}]
    assert [(c.mime_type, c.payload_type) for c in ortc.chosen_codecs(video, vp9)] == [("video/VP9", 100), ("video/rtx", 101)]
    h264 = [{"mimeType": "video/H264", "clockRate": 90000, "parameters": {"packetization-mode": 0, "profile-level-id": "42e01f"}}]
    assert [c.payload_type for c in ortc.chosen_codecs(video, h264)] == [104, 107]
    assert ortc.chosen_codecs(video, [{"mimeType": "video/H265", "clockRate": 90000}]) == []


def test_a_firefox_style_offer_parses_with_its_session_level_fingerprint() -> None:
    from mediasoup.webrtc import ortc

    description = sdp.parse(offer("firefox_style_offer.sdp"))
    assert description.fingerprints()[0][0] == "sha-256" and not description.media[0].fingerprints()
    audio, video = description.media
    assert [(e.id, e.direction) for e in audio.extmaps()] == [(1, None), (2, "recvonly"), (3, None)]
    telephone_event = next(c for c in audio.codecs() if c.mime_type == "audio/telephone-event")
    assert telephone_event.parameters == {"": "0-15"}
    assert [c.mime_type for c in audio.codecs()][:4] == ["audio/opus", "audio/G722", "audio/PCMU", "audio/PCMA"]
    room_codecs = [{"mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 101}]
    codecs = ortc.chosen_codecs(video, room_codecs)
    assert [(c.mime_type, c.payload_type) for c in codecs] == [("video/VP8", 120), ("video/rtx", 124)]
    assert ortc.receive_parameters(video, codecs)["encodings"] == [{"ssrc": 3358114380, "rtx": {"ssrc": 1917445618}}]


def test_digits_are_ascii_digits() -> None:
    # "²" is a digit to str.isdigit(), not to int(): refused naming the line.
    text = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 1²\r\na=mid:0\r\na=rtpmap:1² opus/48000/2\r\n"
    with pytest.raises(ValueError, match="SDP line"):
        sdp.parse(text).media[0].codecs()
    with pytest.raises(ValueError, match="SDP line 5"):
        sdp.parse(text.replace("m=audio 9 ", "m=audio 9² "))
