"""SDP (RFC 8866) as WebRTC endpoints write it: parsed into a session and
its media sections, and written back.

The parser keeps every line it does not interpret, in order, so what it
writes is what it read (with CRLF line ends). Each attribute remembers its
line number: an error about a value names the line, for example
``ValueError: SDP line 31: a=rtpmap:96 VP8 must be '<payload type>
<encoding name>/<clock rate>[/<channels>]'``. Only the structure is checked
when parsing (``v=0`` first, ``o=`` and ``s=`` present, well-formed ``m=``
lines, ``<letter>=<text>`` everywhere); attribute values are checked when
they are read (:meth:`MediaSection.rtpmaps`, :meth:`MediaSection.extmaps`…).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "DIRECTIONS",
    "Attribute",
    "Candidate",
    "Codec",
    "Extmap",
    "MediaSection",
    "SessionDescription",
    "parse",
    "write",
]

_LINE = re.compile(r"^([a-z])=(.*)$")
_RTPMAP = re.compile(r"^(\d{1,3}) ([^/\s]+)/(\d+)(?:/(\d+))?$")
_EXTMAP = re.compile(r"^(\d{1,3})(?:/(sendrecv|sendonly|recvonly|inactive))? (\S+)(?: (.*))?$")
#: The direction attributes of a media section.
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


@dataclass
class Attribute:
    """``a=<name>[:<value>]``, and the line it was on (0 when built here)."""

    name: str
    value: str | None = None
    line: int = 0

    def __str__(self) -> str:
        return f"a={self.name}" if self.value is None else f"a={self.name}:{self.value}"

    def error(self, expected: str) -> ValueError:
        """A ValueError naming this attribute's line and what was expected."""
        return ValueError(f"SDP line {self.line}: {self} must be {expected}")


@dataclass
class Codec:
    """One payload type of a media section: ``a=rtpmap``, ``a=fmtp`` and ``a=rtcp-fb`` together."""

    payload_type: int
    #: ``<kind>/<encoding name>``, e.g. ``video/VP8``.
    mime_type: str
    clock_rate: int
    channels: int | None
    parameters: dict[str, str]
    feedback: list[tuple[str, str]]


@dataclass
class Extmap:
    """``a=extmap:<id>[/<direction>] <uri>``."""

    id: int
    uri: str
    direction: str | None = None


@dataclass
class Candidate:
    """``a=candidate``: an ICE candidate (RFC 8839 §5.1)."""

    foundation: str
    component: int
    protocol: str
    priority: int
    ip: str
    port: int
    type: str
    tcp_type: str | None = None


@dataclass
class MediaSection:
    """An ``m=`` line and what follows it up to the next one."""

    kind: str
    port: int
    protocol: str
    formats: list[str]
    #: Lines other than ``a=`` (``c=``, ``b=``, ``i=``…), as written.
    lines: list[str] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    #: The line number of the ``m=`` line.
    line: int = 0

    def values(self, name: str) -> list[str]:
        """The values of every ``a=<name>`` (an empty string for a flag)."""
        return [a.value or "" for a in self.attributes if a.name == name]

    def value(self, name: str) -> str | None:
        """The value of the first ``a=<name>``, or None."""
        return next((a.value or "" for a in self.attributes if a.name == name), None)

    def has(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    @property
    def mid(self) -> str | None:
        return self.value("mid")

    @property
    def direction(self) -> str:
        """``sendrecv`` unless the section says otherwise (RFC 8866 §6.7)."""
        return next((a.name for a in self.attributes if a.name in DIRECTIONS), "sendrecv")

    def codecs(self) -> list[Codec]:
        """The payload types of ``m=``, in its order, with their rtpmap,
        fmtp and rtcp-fb. A static payload type without rtpmap gets its
        RFC 3551 name."""
        rtpmaps: dict[int, Attribute] = {}
        for attribute in self._named("rtpmap"):
            match = _RTPMAP.match(attribute.value or "")
            if match is None:
                raise attribute.error("'<payload type> <encoding name>/<clock rate>[/<channels>]'")
            rtpmaps[int(match.group(1))] = attribute
        parameters: dict[int, dict[str, str]] = {}
        for attribute in self._named("fmtp"):
            payload_type, _, text = (attribute.value or "").partition(" ")
            if not is_number(payload_type):
                raise attribute.error("'<payload type> <parameters>'")
            parameters[int(payload_type)] = _fmtp_parameters(text)
        feedback: dict[str, list[tuple[str, str]]] = {}
        for attribute in self._named("rtcp-fb"):
            payload_type, _, text = (attribute.value or "").partition(" ")
            if not text:
                raise attribute.error("'<payload type or *> <type> [<parameter>]'")
            kind, _, parameter = text.partition(" ")
            feedback.setdefault(payload_type, []).append((kind, parameter))
        codecs = []
        for text in self.formats:
            if not is_number(text) or int(text) > 127:
                raise ValueError(f"SDP line {self.line}: payload type '{text}' of m={self.kind} is not 0-127")
            number = int(text)
            rtpmap = rtpmaps.get(number)
            if rtpmap is not None:
                match = _RTPMAP.match(rtpmap.value or "")
                assert match is not None
                name, clock_rate, channels = match.group(2), int(match.group(3)), match.group(4)
            elif number in _STATIC_PAYLOAD_TYPES:
                name, clock_rate, channels = _STATIC_PAYLOAD_TYPES[number]
            else:
                raise ValueError(f"SDP line {self.line}: dynamic payload type {number} of m={self.kind} has no a=rtpmap")
            codecs.append(
                Codec(
                    payload_type=number,
                    mime_type=f"{self.kind}/{name}",
                    clock_rate=clock_rate,
                    channels=int(channels) if channels else None,
                    parameters=parameters.get(number, {}),
                    feedback=feedback.get(text, []) + feedback.get("*", []),
                )
            )
        return codecs

    def extmaps(self) -> list[Extmap]:
        extmaps = []
        for attribute in self._named("extmap"):
            match = _EXTMAP.match(attribute.value or "")
            if match is None or not 1 <= int(match.group(1)) <= 255:
                raise attribute.error("'<id 1-255>[/<direction>] <uri>'")
            extmaps.append(Extmap(id=int(match.group(1)), uri=match.group(3), direction=match.group(2)))
        return extmaps

    def ssrc_attributes(self) -> dict[int, dict[str, str]]:
        """``a=ssrc:<ssrc> <name>[:<value>]`` by SSRC, in order of appearance."""
        ssrcs: dict[int, dict[str, str]] = {}
        for attribute in self._named("ssrc"):
            ssrc, _, text = (attribute.value or "").partition(" ")
            if not is_number(ssrc) or int(ssrc) >= 2**32:
                raise attribute.error("'<ssrc 0-4294967295> <attribute>[:<value>]'")
            name, _, value = text.partition(":")
            entry = ssrcs.setdefault(int(ssrc), {})
            if name:
                entry[name] = value
        return ssrcs

    def ssrc_groups(self) -> list[tuple[str, list[int]]]:
        """``a=ssrc-group:<semantics> <ssrc>…`` (FID pairs a stream with its RTX)."""
        groups = []
        for attribute in self._named("ssrc-group"):
            semantics, *ssrcs = (attribute.value or "").split(" ")
            if not ssrcs or not all(is_number(s) and int(s) < 2**32 for s in ssrcs):
                raise attribute.error("'<semantics> <ssrc> <ssrc>…'")
            groups.append((semantics, [int(s) for s in ssrcs]))
        return groups

    def rids(self) -> list[tuple[str, str]]:
        """``a=rid:<id> <send|recv>[ <restrictions>]``: (rid, direction)."""
        rids = []
        for attribute in self._named("rid"):
            parts = (attribute.value or "").split(" ")
            if len(parts) < 2 or parts[1] not in ("send", "recv") or not parts[0]:
                raise attribute.error("'<rid> send|recv [<restrictions>]'")
            rids.append((parts[0], parts[1]))
        return rids

    def fingerprints(self) -> list[tuple[str, str]]:
        return _fingerprints(self._named("fingerprint"))

    def candidates(self) -> list[Candidate]:
        candidates = []
        for attribute in self._named("candidate"):
            parts = (attribute.value or "").split(" ")
            try:
                if len(parts) < 8 or parts[6] != "typ":
                    raise ValueError
                extras = dict(zip(parts[8::2], parts[9::2]))
                candidates.append(
                    Candidate(
                        foundation=parts[0],
                        component=int(parts[1]),
                        protocol=parts[2].lower(),
                        priority=int(parts[3]),
                        ip=parts[4],
                        port=int(parts[5]),
                        type=parts[7],
                        tcp_type=extras.get("tcptype"),
                    )
                )
            except ValueError:
                raise attribute.error("'<foundation> <component> <transport> <priority> <address> <port> typ <type> …'") from None
        return candidates

    def _named(self, name: str) -> list[Attribute]:
        return [a for a in self.attributes if a.name == name]


@dataclass
class SessionDescription:
    """A whole SDP: session-level lines and attributes, then the media sections."""

    #: ``o=`` without the prefix: ``<username> <sess-id> <sess-version> IN IP4 <address>``.
    origin: str = "- 0 0 IN IP4 127.0.0.1"
    session_name: str = "-"
    #: Session-level lines other than v=, o=, s= and a= (``t=``, ``c=``, ``b=``…), as written.
    lines: list[str] = field(default_factory=lambda: ["t=0 0"])
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaSection] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        """The value of the first session-level ``a=<name>``, or None."""
        return next((a.value or "" for a in self.attributes if a.name == name), None)

    def has(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    def bundle(self) -> list[str]:
        """The mids of the first ``a=group:BUNDLE``, if any."""
        for attribute in self.attributes:
            if attribute.name == "group" and (attribute.value or "").startswith("BUNDLE"):
                return (attribute.value or "").split()[1:]
        return []

    def fingerprints(self) -> list[tuple[str, str]]:
        """Session-level ``a=fingerprint`` (media sections may carry their own)."""
        return _fingerprints([a for a in self.attributes if a.name == "fingerprint"])


def is_number(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` takes "²" too, which int() refuses."""
    return text.isascii() and text.isdigit()


def parse(sdp: str) -> SessionDescription:
    """Parses SDP text (CRLF or LF line ends). Raises ValueError naming the line."""
    if not isinstance(sdp, str):
        raise TypeError(f"sdp must be a str, not {type(sdp).__name__}")
    description = SessionDescription(lines=[])
    section: MediaSection | None = None
    seen_version = seen_origin = seen_name = False
    for number, raw in enumerate(sdp.replace("\r\n", "\n").split("\n"), start=1):
        text = raw.rstrip("\r")
        if not text:
            continue
        match = _LINE.match(text)
        if match is None:
            raise ValueError(f"SDP line {number}: {text!r:.80} is not '<letter>=<value>'")
        letter, value = match.group(1), match.group(2)
        if not seen_version:
            if text != "v=0":
                raise ValueError(f"SDP line {number}: the first line must be 'v=0', not {text!r:.80}")
            seen_version = True
            continue
        if letter == "m":
            section = _media_line(value, number)
            description.media.append(section)
        elif letter == "a":
            name, separator, attribute_value = value.partition(":")
            attribute = Attribute(name, attribute_value if separator else None, number)
            (section.attributes if section is not None else description.attributes).append(attribute)
        elif section is not None:
            section.lines.append(text)
        elif letter == "o":
            description.origin, seen_origin = value, True
        elif letter == "s":
            description.session_name, seen_name = value, True
        elif letter == "v":
            raise ValueError(f"SDP line {number}: a second v= line")
        else:
            description.lines.append(text)
    if not seen_version:
        raise ValueError("SDP is empty: it must start with 'v=0'")
    if not seen_origin or not seen_name:
        raise ValueError(f"SDP has no {'o=' if not seen_origin else 's='} line")
    return description


def write(description: SessionDescription) -> str:
    """The SDP text of `description`, CRLF-terminated lines."""
    lines = ["v=0", f"o={description.origin}", f"s={description.session_name}", *description.lines]
    lines += [str(attribute) for attribute in description.attributes]
    for section in description.media:
        lines.append(f"m={section.kind} {section.port} {section.protocol} {' '.join(section.formats)}")
        lines += section.lines
        lines += [str(attribute) for attribute in section.attributes]
    return "\r\n".join(lines) + "\r\n"


def _media_line(value: str, number: int) -> MediaSection:
    parts = value.split(" ")
    port = parts[1].partition("/")[0] if len(parts) > 1 else ""
    if len(parts) < 4 or not is_number(port) or int(port) > 65535 or not parts[0]:
        raise ValueError(f"SDP line {number}: m={value} must be 'm=<media> <port> <protocol> <format> …'")
    return MediaSection(kind=parts[0], port=int(port), protocol=parts[2], formats=parts[3:], line=number)


def _fmtp_parameters(text: str) -> dict[str, str]:
    """``key=value;key=value`` (a bare value, such as RED's ``111/111``, keeps its text under '')."""
    parameters: dict[str, str] = {}
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        key, separator, value = item.partition("=")
        if separator:
            parameters[key.strip()] = value.strip()
        else:
            parameters[""] = item
    return parameters


def _fingerprints(attributes: list[Attribute]) -> list[tuple[str, str]]:
    fingerprints = []
    for attribute in attributes:
        algorithm, _, value = (attribute.value or "").partition(" ")
        if not algorithm or not re.fullmatch(r"([0-9A-Fa-f]{2}:)*[0-9A-Fa-f]{2}", value):
            raise attribute.error("'<hash function> <hex pairs joined by colons>'")
        fingerprints.append((algorithm.lower(), value.upper()))
    return fingerprints


#: RFC 3551 static payload types a WebRTC offer may list without a=rtpmap.
_STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, str | None]] = {
    0: ("PCMU", 8000, "1"),
    8: ("PCMA", 8000, "1"),
    9: ("G722", 8000, "1"),
    13: ("CN", 8000, "1"),
}
