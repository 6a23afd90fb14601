"""Between SDP and the ORTC-style parameters the rest of the package speaks:
what an offer's sections publish (mediasoup ``RtpParameters`` for
``rtpReceiver.receive()``), what the endpoint can receive (``RtpCapabilities``
for ``peer.setCapabilities()``), and the sections of an answer.

The codec a publishing section will send is chosen here: the first of the
offer's media codecs that the room has (mime type, clock rate, channels; for
H264 also packetization-mode), with its RTX. The answer names only that one,
so the endpoint sends nothing else.
"""

from __future__ import annotations

from typing import Any

from .. import _mediasoup
from .sdp import DIRECTIONS, Attribute, Codec, MediaSection, is_number

__all__ = [
    "add_stream_lines",
    "answer_section",
    "capabilities_of",
    "chosen_codecs",
    "offers_codec",
    "receive_parameters",
    "rejected_section",
    "sender_codecs",
    "sender_section",
    "with_setup",
    "without_stream",
]

#: Codecs that are not media of their own: they never lead a choice.
_NOT_MEDIA = ("rtx", "red", "ulpfec", "flexfec-03", "cn", "telephone-event")


def _name(codec: Codec) -> str:
    return codec.mime_type.split("/", 1)[1].lower()


def _fmtp_value(value: str) -> int | str:
    return int(value) if is_number(value) else value


def _parameters(codec: Codec) -> dict[str, int | str]:
    return {key: _fmtp_value(value) for key, value in codec.parameters.items() if key}


def _room_has(codec: Codec, room_codecs: list[dict[str, Any]]) -> bool:
    """Whether the room has `codec`, by the worker's own rule (mime type,
    clock rate, channels; H264 packetization-mode, VP9 profile-id)."""
    offered = {
        "mimeType": codec.mime_type,
        "clockRate": codec.clock_rate,
        "channels": codec.channels,
        "parameters": _parameters(codec),
    }
    return any(_mediasoup.codec_match(room_codec, offered) is not None for room_codec in room_codecs)


def chosen_codecs(section: MediaSection, room_codecs: list[dict[str, Any]]) -> list[Codec]:
    """The offer's first media codec the room has, then its RTX; [] if none."""
    codecs = section.codecs()
    for codec in codecs:
        if _name(codec) in _NOT_MEDIA or not _room_has(codec, room_codecs):
            continue
        rtx = [c for c in codecs if _name(c) == "rtx" and c.parameters.get("apt") == str(codec.payload_type)]
        return [codec, *rtx[:1]]
    return []


def sender_codecs(section: MediaSection, sender_parameters: dict[str, Any]) -> list[Codec]:
    """The offered codecs a sender sends (its codec, then its RTX) at the
    payload types it writes, as the offer describes them; [] if the section
    does not offer its codec there."""
    offered = {codec.payload_type: codec for codec in section.codecs()}
    codecs: list[Codec] = []
    for codec in sender_parameters["codecs"]:
        match = offered.get(codec["payloadType"])
        if match is None or match.mime_type.lower() != codec["mimeType"].lower() or match.clock_rate != codec["clockRate"]:
            if not codecs:
                return []
            continue
        codecs.append(match)
    return codecs


def offers_codec(section: MediaSection, sender_parameters: dict[str, Any]) -> bool:
    """Whether `section` can carry a sender's stream (its codec at its payload type)."""
    return bool(sender_codecs(section, sender_parameters))


def receive_parameters(section: MediaSection, codecs: list[Codec]) -> dict[str, Any]:
    """mediasoup ``RtpParameters`` of what a sending section publishes with `codecs`."""
    encodings: list[dict[str, Any]]
    rids = [rid for rid, direction in section.rids() if direction == "send"]
    ssrcs = section.ssrc_attributes()
    if rids:
        order = (section.value("simulcast") or "").removeprefix("send ").replace(",", ";").split(";")
        rids.sort(key=lambda rid: order.index(rid) if rid in order else len(order))
        encodings = [{"rid": rid} for rid in rids]
    elif ssrcs:
        # FID groups: RTX SSRC → the SSRC it repairs.
        repairs = {group[1]: group[0] for semantics, group in section.ssrc_groups() if semantics == "FID" and len(group) == 2}
        main = next((ssrc for ssrc in ssrcs if ssrc not in repairs), None)
        if main is None:
            raise ValueError(f"SDP line {section.line}: m={section.kind} names only SSRCs that a=ssrc-group:FID makes repairs")
        encoding: dict[str, Any] = {"ssrc": main}
        rtx = next((repair for repair, original in repairs.items() if original == main), None)
        if rtx is not None and len(codecs) > 1:
            encoding["rtx"] = {"ssrc": rtx}
        encodings = [encoding]
    else:
        raise ValueError(f"SDP line {section.line}: m={section.kind} sends but names its stream by neither a=ssrc nor a=rid")
    cname = next((attributes["cname"] for attributes in ssrcs.values() if "cname" in attributes), None)
    parameters: dict[str, Any] = {
        "mid": section.mid,
        "codecs": [
            {
                "mimeType": codec.mime_type,
                "payloadType": codec.payload_type,
                "clockRate": codec.clock_rate,
                **({"channels": codec.channels} if codec.channels else {}),
                "parameters": _parameters(codec),
                "rtcpFeedback": [{"type": kind, "parameter": parameter} for kind, parameter in codec.feedback],
            }
            for codec in codecs
        ],
        "headerExtensions": [{"uri": extmap.uri, "id": extmap.id} for extmap in section.extmaps()],
        "encodings": encodings,
        "rtcp": {"cname": cname, "reducedSize": section.has("rtcp-rsize")} if cname else {"reducedSize": section.has("rtcp-rsize")},
    }
    return parameters


def capabilities_of(sections: list[MediaSection]) -> dict[str, Any]:
    """``RtpCapabilities`` of an endpoint from its audio and video sections:
    its payload types, feedback and header-extension ids."""
    codecs: list[dict[str, Any]] = []
    extensions: list[dict[str, Any]] = []
    for section in sections:
        if section.kind not in ("audio", "video") or section.port == 0:
            continue
        for codec in section.codecs():
            if any(c["preferredPayloadType"] == codec.payload_type and c["kind"] == section.kind for c in codecs):
                continue
            entry: dict[str, Any] = {
                "kind": section.kind,
                "mimeType": codec.mime_type,
                "preferredPayloadType": codec.payload_type,
                "clockRate": codec.clock_rate,
                "parameters": _parameters(codec),
                "rtcpFeedback": [{"type": kind, "parameter": parameter} for kind, parameter in codec.feedback],
            }
            if codec.channels:
                entry["channels"] = codec.channels
            codecs.append(entry)
        for extmap in section.extmaps():
            if not any(e["uri"] == extmap.uri and e["kind"] == section.kind for e in extensions):
                extensions.append({"kind": section.kind, "uri": extmap.uri, "preferredId": extmap.id})
    return {"codecs": codecs, "headerExtensions": extensions}


def rejected_section(offered: MediaSection, transport: dict[str, Any]) -> MediaSection:
    """An answer section refusing `offered` (port 0, RFC 8843 §7.3.3). It
    still names the transport's ICE and DTLS parameters: some endpoints
    (aiortc) check them on every section."""
    attributes = [Attribute("mid", offered.mid)] if offered.mid is not None else []
    attributes += _transport_attributes(transport)
    return MediaSection(offered.kind, 0, offered.protocol, offered.formats, ["c=IN IP4 0.0.0.0"], attributes)


def _transport_attributes(transport: dict[str, Any]) -> list[Attribute]:
    """ICE credentials, the fingerprint, and this side's DTLS role (``a=setup``:
    'active', the DTLS client, unless the endpoint offered 'active' itself)."""
    fingerprint = transport["dtlsLocalParameters"]["fingerprints"][0]
    return [
        Attribute("ice-ufrag", transport["iceLocalParameters"]["usernameFragment"]),
        Attribute("ice-pwd", transport["iceLocalParameters"]["password"]),
        Attribute("fingerprint", f"{fingerprint['algorithm']} {fingerprint['value']}"),
        Attribute("setup", transport.get("setup", "active")),
    ]


def answer_section(
    offered: MediaSection,
    codecs: list[Codec],
    direction: str,
    transport: dict[str, Any],
    room_extensions: list[dict[str, Any]],
) -> MediaSection:
    """The answer to an audio or video section: `codecs`, `direction`, the
    transport's ICE and DTLS parameters (``a=setup`` from ``transport['setup']``)
    and candidates, and the offered extensions the room
    forwards, at the offer's ids."""
    candidates = transport["iceLocalCandidates"]
    port = candidates[0]["port"] if candidates else 9
    attributes = [Attribute("mid", offered.mid), Attribute(direction), *_transport_attributes(transport)]
    attributes += [Attribute("rtcp-mux"), Attribute("rtcp-rsize")]
    forwarded = {extension["uri"] for extension in room_extensions if extension["kind"] == offered.kind}
    attributes += [Attribute("extmap", f"{extmap.id} {extmap.uri}") for extmap in offered.extmaps() if extmap.uri in forwarded]
    for codec in codecs:
        encoding = codec.mime_type.split("/", 1)[1]
        rtpmap = f"{codec.payload_type} {encoding}/{codec.clock_rate}" + (f"/{codec.channels}" if codec.channels else "")
        attributes.append(Attribute("rtpmap", rtpmap))
        for kind, parameter in codec.feedback:
            attributes.append(Attribute("rtcp-fb", f"{codec.payload_type} {kind}" + (f" {parameter}" if parameter else "")))
        if codec.parameters:
            text = ";".join(f"{key}={value}" if key else value for key, value in codec.parameters.items())
            attributes.append(Attribute("fmtp", f"{codec.payload_type} {text}"))
    attributes += _simulcast_attributes(offered, direction)
    attributes += _candidate_attributes(candidates)
    formats = [str(codec.payload_type) for codec in codecs]
    return MediaSection(offered.kind, port, offered.protocol, formats, [_connection_line(candidates)], attributes)


def answered(
    offered: MediaSection,
    chosen: list[Codec],
    receiving: bool,
    sending: tuple[dict[str, Any], tuple[str, str]] | None,
    transport: dict[str, Any],
    room_extensions: list[dict[str, Any]],
) -> MediaSection:
    """The answer to `offered`, whatever it is: a data-channel section if the
    transport has SCTP; an audio or video one with the `chosen` codecs if
    this side receives on it (`receiving`) and a sender's codecs if one
    sends on it (`sending`: its parameters and ``a=msid``), the endpoint's
    first (the one it sends on a sendrecv section leads); else refused."""
    if offered.kind == "application":
        data = offered.port and is_data_section(offered) and transport["sctpParameters"] is not None
        return data_section(offered, transport) if data else rejected_section(offered, transport)
    codecs = chosen if offered.port else []
    if sending is not None and offered.port:
        known = {codec.payload_type for codec in codecs} if receiving else set()
        codecs = [*(codecs if receiving else []), *(c for c in sender_codecs(offered, sending[0]) if c.payload_type not in known)]
    if not codecs:
        return rejected_section(offered, transport)
    direction = {(True, True): "sendrecv", (True, False): "recvonly", (False, True): "sendonly"}.get((receiving, sending is not None), "inactive")
    section = answer_section(offered, codecs, direction, transport, room_extensions)
    if sending is not None:
        add_stream_lines(section, sending[0], *sending[1])
    return section


def _simulcast_attributes(offered: MediaSection, direction: str) -> list[Attribute]:
    """Simulcast offered (``a=rid:<id> send`` and ``a=simulcast:send``) and
    received: each rid answered ``recv`` and ``a=simulcast:recv`` in the
    offer's order (RFC 8853), so that the endpoint sends every encoding."""
    rids = [rid for rid, rid_direction in offered.rids() if rid_direction == "send"]
    if not rids or direction not in ("recvonly", "sendrecv"):
        return []
    offered_order = offered.value("simulcast") or ""
    order = offered_order.removeprefix("send ") if offered_order.startswith("send ") else ";".join(rids)
    return [*(Attribute("rid", f"{rid} recv") for rid in rids), Attribute("simulcast", f"recv {order}")]


def is_data_section(section: MediaSection) -> bool:
    """An ``m=application … webrtc-datachannel`` section over DTLS/SCTP (RFC 8841)."""
    return section.kind == "application" and "SCTP" in section.protocol.upper() and "webrtc-datachannel" in section.formats


def data_section(offered: MediaSection, transport: dict[str, Any]) -> MediaSection:
    """The answer to a data-channel section: the transport's SCTP port and
    ``maxMessageSize``, ICE, DTLS and candidates."""
    candidates = transport["iceLocalCandidates"]
    sctp = transport["sctpParameters"]
    attributes = [Attribute("mid", offered.mid), *_transport_attributes(transport)]
    attributes += [Attribute("sctp-port", str(sctp["port"])), Attribute("max-message-size", str(sctp["maxMessageSize"]))]
    attributes += _candidate_attributes(candidates)
    port = candidates[0]["port"] if candidates else 9
    return MediaSection(offered.kind, port, offered.protocol, ["webrtc-datachannel"], [_connection_line(candidates)], attributes)


def _candidate_attributes(candidates: list[dict[str, Any]]) -> list[Attribute]:
    attributes = []
    for candidate in candidates:
        line = f"{candidate['foundation']} 1 {candidate['protocol']} {candidate['priority']} {candidate['ip']} {candidate['port']} typ host"
        if candidate.get("tcpType"):
            line += f" tcptype {candidate['tcpType']}"
        attributes.append(Attribute("candidate", line))
    attributes.append(Attribute("end-of-candidates"))
    return attributes


def _connection_line(candidates: list[dict[str, Any]]) -> str:
    first_ip = candidates[0]["ip"] if candidates else "0.0.0.0"
    return f"c=IN {'IP6' if ':' in first_ip else 'IP4'} {first_ip}"


def sender_section(sender_parameters: dict[str, Any], kind: str, stream_id: str, track_id: str, transport: dict[str, Any]) -> MediaSection:
    """A ``sendonly`` section of a server-made offer for one RtpSender: its
    consumer parameters (mid, the room's payload types, its SSRCs and RTX,
    the subscriber's header-extension ids, cname) and ``a=msid`` naming the
    publisher's stream, so the endpoint groups its audio and video."""
    codecs = [
        Codec(
            payload_type=codec["payloadType"],
            mime_type=codec["mimeType"],
            clock_rate=codec["clockRate"],
            channels=codec.get("channels"),
            parameters={key: str(value) for key, value in codec.get("parameters", {}).items()},
            feedback=[(feedback["type"], feedback.get("parameter", "")) for feedback in codec.get("rtcpFeedback", [])],
        )
        for codec in sender_parameters["codecs"]
    ]
    offered = MediaSection(kind, 9, "UDP/TLS/RTP/SAVPF", [str(codec.payload_type) for codec in codecs])
    offered.attributes = [Attribute("mid", sender_parameters["mid"])]
    offered.attributes += [Attribute("extmap", f"{extension['id']} {extension['uri']}") for extension in sender_parameters["headerExtensions"]]
    every_extension = [{"kind": kind, "uri": extension["uri"]} for extension in sender_parameters["headerExtensions"]]
    section = answer_section(offered, codecs, "sendonly", transport, every_extension)
    add_stream_lines(section, sender_parameters, stream_id, track_id)
    return section


#: The lines that name the stream a section sends.
_STREAM_LINES = ("msid", "ssrc-group", "ssrc")


def add_stream_lines(section: MediaSection, sender_parameters: dict[str, Any], stream_id: str, track_id: str) -> None:
    """Names a sender's stream in `section`, before its candidates:
    ``a=msid:<stream> <track>`` (the endpoint groups a publisher's audio and
    video by stream), its SSRC and RTX SSRC (FID) with their cname."""
    encoding = sender_parameters["encodings"][0]
    cname = sender_parameters["rtcp"]["cname"]
    ssrcs = [encoding["ssrc"]] + ([encoding["rtx"]["ssrc"]] if "rtx" in encoding else [])
    at = next((index for index, attribute in enumerate(section.attributes) if attribute.name == "candidate"), len(section.attributes))
    lines = [Attribute("msid", f"{stream_id} {track_id}")]
    if len(ssrcs) == 2:
        lines.append(Attribute("ssrc-group", f"FID {ssrcs[0]} {ssrcs[1]}"))
    for ssrc in ssrcs:
        lines += [Attribute("ssrc", f"{ssrc} cname:{cname}"), Attribute("ssrc", f"{ssrc} msid:{stream_id} {track_id}")]
    section.attributes[at:at] = lines


def without_stream(section: MediaSection, direction: str) -> MediaSection:
    """`section` with `direction` and no stream of this side named (a
    ``sendrecv`` section whose sender is gone goes on receiving)."""
    attributes = [a for a in section.attributes if a.name not in _STREAM_LINES and a.name not in DIRECTIONS]
    at = next((index + 1 for index, attribute in enumerate(attributes) if attribute.name == "mid"), 0)
    attributes.insert(at, Attribute(direction))
    return MediaSection(section.kind, section.port, section.protocol, section.formats, section.lines, attributes)


def with_setup(section: MediaSection, setup: str) -> MediaSection:
    """`section` with ``a=setup:<setup>`` (the DTLS role once it is settled)."""
    attributes = [Attribute("setup", setup) if a.name == "setup" else a for a in section.attributes]
    return MediaSection(section.kind, section.port, section.protocol, section.formats, section.lines, attributes)
