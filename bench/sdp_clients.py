"""The load generator's clients in SDP, for the SFUs spoken to with offers
and answers (Janus's videoroom, the aiortc relay): the publisher's offer,
a subscriber's answer to the SFU's offer, and what the load generator is
told of the SFU's side of each."""

from __future__ import annotations

import secrets
from typing import Any

from mediasoup.webrtc import sdp

from .loadgen import AUDIO_SSRC, MID_URI, VIDEO_RTX_SSRC, VIDEO_SSRC, Loadgen

#: What the publisher sends, in the load generator's terms.
PUBLISHER_CODECS: list[dict[str, Any]] = [
    {"pt": 96, "rtx": 97, "mime": "video/VP8", "clock": 90000, "channels": None},
    {"pt": 111, "rtx": None, "mime": "audio/opus", "clock": 48000, "channels": 2},
]
PUBLISHER_STREAMS: list[dict[str, Any]] = [
    {"mid": "0", "kind": "video", "ssrc": VIDEO_SSRC, "rtx": VIDEO_RTX_SSRC, "pt": 96},
    {"mid": "1", "kind": "audio", "ssrc": AUDIO_SSRC, "rtx": None, "pt": 111},
]


def ice() -> dict[str, str]:
    """Fresh ICE credentials for a client."""
    return {"ufrag": secrets.token_hex(4), "pwd": secrets.token_hex(12)}


def _transport_lines(local: dict[str, str], fingerprint: str, setup: str, candidate: str) -> list[sdp.Attribute]:
    host, port = candidate.rsplit(":", 1)
    return [
        sdp.Attribute("ice-ufrag", local["ufrag"]),
        sdp.Attribute("ice-pwd", local["pwd"]),
        sdp.Attribute("fingerprint", fingerprint),
        sdp.Attribute("setup", setup),
        sdp.Attribute("rtcp-mux"),
        sdp.Attribute("rtcp-rsize"),
        sdp.Attribute("candidate", f"1 1 udp 2130706431 {host} {port} typ host"),
        sdp.Attribute("end-of-candidates"),
    ]


def _description(sections: list[sdp.MediaSection], address: str) -> str:
    description = sdp.SessionDescription(origin=f"- {secrets.randbelow(2**31)} 1 IN IP4 {address}")
    description.attributes = [sdp.Attribute("group", "BUNDLE " + " ".join(s.mid or "" for s in sections)),
                              sdp.Attribute("msid-semantic", " WMS *")]
    description.media = sections
    return sdp.write(description)


def server_side(parsed: sdp.SessionDescription) -> tuple[dict[str, Any], str]:
    """The SFU's ICE, candidate and fingerprint from its SDP, and its a=setup."""
    first = next(section for section in parsed.media if section.port != 0)
    ufrag = first.value("ice-ufrag") or parsed.value("ice-ufrag")
    pwd = first.value("ice-pwd") or parsed.value("ice-pwd")
    algorithm, value = (first.fingerprints() or parsed.fingerprints())[0]
    candidate = next(c for section in parsed.media for c in section.candidates() if c.protocol.lower() == "udp")
    setup = first.value("setup") or parsed.value("setup") or "actpass"
    return {"address": f"{candidate.ip}:{candidate.port}", "ufrag": ufrag, "pwd": pwd,
            "fingerprint": f"{algorithm} {value}"}, setup


def extensions(parsed: sdp.SessionDescription) -> list[list[Any]]:
    """The header extensions an SDP maps: [[id, uri], …]."""
    seen: dict[str, int] = {}
    for section in parsed.media:
        for extmap in section.extmaps():
            seen.setdefault(extmap.uri, extmap.id)
    return [[extension_id, uri] for uri, extension_id in seen.items()]


def publisher_offer(loadgen: Loadgen, local: dict[str, str], address: str) -> str:
    """The publisher's offer: VP8 (+ RTX) and Opus, sendonly, on the load
    generator's first thread's socket."""
    candidate = loadgen.addresses[0]
    video = sdp.MediaSection("video", 9, "UDP/TLS/RTP/SAVPF", ["96", "97"], [f"c=IN IP4 {address}"])
    video.attributes = [sdp.Attribute("mid", "0"), sdp.Attribute("sendonly"),
                        *_transport_lines(local, loadgen.fingerprint, "actpass", candidate),
                        sdp.Attribute("extmap", f"1 {MID_URI}"),
                        sdp.Attribute("rtpmap", "96 VP8/90000"), sdp.Attribute("rtcp-fb", "96 nack"),
                        sdp.Attribute("rtcp-fb", "96 nack pli"), sdp.Attribute("rtcp-fb", "96 ccm fir"),
                        sdp.Attribute("rtpmap", "97 rtx/90000"), sdp.Attribute("fmtp", "97 apt=96"),
                        sdp.Attribute("msid", "loadgen video"),
                        sdp.Attribute("ssrc-group", f"FID {VIDEO_SSRC} {VIDEO_RTX_SSRC}"),
                        sdp.Attribute("ssrc", f"{VIDEO_SSRC} cname:loadgen"), sdp.Attribute("ssrc", f"{VIDEO_RTX_SSRC} cname:loadgen")]
    audio = sdp.MediaSection("audio", 9, "UDP/TLS/RTP/SAVPF", ["111"], [f"c=IN IP4 {address}"])
    audio.attributes = [sdp.Attribute("mid", "1"), sdp.Attribute("sendonly"),
                        *_transport_lines(local, loadgen.fingerprint, "actpass", candidate),
                        sdp.Attribute("extmap", f"1 {MID_URI}"),
                        sdp.Attribute("rtpmap", "111 opus/48000/2"), sdp.Attribute("msid", "loadgen audio"),
                        sdp.Attribute("ssrc", f"{AUDIO_SSRC} cname:loadgen")]
    return _description([video, audio], address)


def _data_section(local: dict[str, str], loadgen: Loadgen, setup: str, address: str, mid: str) -> sdp.MediaSection:
    section = sdp.MediaSection("application", 9, "UDP/DTLS/SCTP", ["webrtc-datachannel"], [f"c=IN IP4 {address}"])
    transport = [line for line in _transport_lines(local, loadgen.fingerprint, setup, loadgen.addresses[0])
                 if line.name not in ("rtcp-mux", "rtcp-rsize")]
    section.attributes = [sdp.Attribute("mid", mid), *transport,
                          sdp.Attribute("sctp-port", "5000"), sdp.Attribute("max-message-size", "262144")]
    return section


def data_offer(loadgen: Loadgen, local: dict[str, str], address: str) -> str:
    """A data-only publisher's offer: one `m=application` section (its
    channels are opened in band once connected)."""
    return _description([_data_section(local, loadgen, "actpass", address, "0")], address)


def data_answer(offer: sdp.SessionDescription, loadgen: Loadgen, local: dict[str, str], address: str) -> str:
    """A data-only subscriber's answer to the SFU's offer (`a=setup:passive`)."""
    section = next(section for section in offer.media if section.kind == "application")
    return _description([_data_section(local, loadgen, "passive", address, section.mid or "0")], address)


def subscriber_answer(offer: sdp.SessionDescription, loadgen: Loadgen, local: dict[str, str],
                      address: str) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """A subscriber's answer to the SFU's offer (each section's first codec
    and its RTX, recvonly, `a=setup:passive`), and the codecs and streams
    the load generator expects from it."""
    sections: list[sdp.MediaSection] = []
    streams: list[dict[str, Any]] = []
    codecs: list[dict[str, Any]] = []
    for section in offer.media:
        if section.port == 0 or section.kind not in ("audio", "video"):
            continue
        offered = section.codecs()
        main = offered[0]
        rtx = next((c for c in offered if c.mime_type.lower().endswith("/rtx") and c.parameters.get("apt") == str(main.payload_type)), None)
        ssrcs = list(section.ssrc_attributes())
        repairs = {group[1]: group[0] for semantics, group in section.ssrc_groups() if semantics == "FID" and len(group) == 2}
        ssrc = next(s for s in ssrcs if s not in repairs)
        rtx_ssrc = next((repair for repair, original in repairs.items() if original == ssrc), None)
        streams.append({"mid": section.mid, "kind": section.kind, "ssrc": ssrc, "rtx": rtx_ssrc if rtx else None})
        codecs.append({"pt": main.payload_type, "rtx": rtx.payload_type if rtx else None, "mime": main.mime_type,
                       "clock": main.clock_rate, "channels": main.channels})
        chosen = [main, *([rtx] if rtx else [])]
        answer = sdp.MediaSection(section.kind, 9, section.protocol, [str(c.payload_type) for c in chosen], [f"c=IN IP4 {address}"])
        answer.attributes = [sdp.Attribute("mid", section.mid), sdp.Attribute("recvonly"),
                             *_transport_lines(local, loadgen.fingerprint, "passive", loadgen.addresses[0])]
        answer.attributes += [sdp.Attribute("extmap", f"{e.id} {e.uri}") for e in section.extmaps() if e.uri == MID_URI]
        for codec in chosen:
            name = codec.mime_type.split("/", 1)[1]
            answer.attributes.append(sdp.Attribute("rtpmap", f"{codec.payload_type} {name}/{codec.clock_rate}" + (f"/{codec.channels}" if codec.channels else "")))
            if codec is rtx:
                answer.attributes.append(sdp.Attribute("fmtp", f"{codec.payload_type} apt={main.payload_type}"))
            elif section.kind == "video":
                answer.attributes += [sdp.Attribute("rtcp-fb", f"{codec.payload_type} nack"), sdp.Attribute("rtcp-fb", f"{codec.payload_type} nack pli")]
        sections.append(answer)
    return _description(sections, address), codecs, streams
