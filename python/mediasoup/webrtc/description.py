"""``RTCSessionDescription``: an offer, an answer or a rollback as W3C
defines it, from itself or from the ``{'type', 'sdp'}`` JSON browsers send."""

from __future__ import annotations

from typing import Any

__all__ = ["RTCSessionDescription", "type_name"]

_TYPES = ("offer", "answer", "pranswer", "rollback")


class RTCSessionDescription:
    """``{'type', 'sdp'}`` as W3C defines it: ``RTCSessionDescription(sdp=..., type=...)``."""

    def __init__(self, sdp: str, type: str) -> None:
        if not isinstance(sdp, str):
            raise TypeError(f"sdp must be a str, not {type_name(sdp)}")
        if type not in _TYPES:
            raise ValueError(f"type must be one of {', '.join(_TYPES)}, not {type!r:.80}")
        self.sdp = sdp
        self.type = type

    @classmethod
    def of(cls, description: RTCSessionDescription | dict[str, Any]) -> RTCSessionDescription:
        """A description from itself or from a ``{'type', 'sdp'}`` dict (what browsers send as JSON)."""
        if isinstance(description, RTCSessionDescription):
            return description
        if not isinstance(description, dict):
            raise TypeError(f"a description must be an RTCSessionDescription or a dict, not {type_name(description)}")
        kind = description.get("type")
        # A rollback carries no SDP (browsers send {'type': 'rollback'}).
        text = description.get("sdp", "" if kind == "rollback" else None)
        return cls(sdp=text, type=kind)  # type: ignore[arg-type]

    def toJSON(self) -> dict[str, str]:
        return {"type": self.type, "sdp": self.sdp}

    def __repr__(self) -> str:
        return f"<RTCSessionDescription type={self.type} {len(self.sdp)} bytes>"

    to_json = toJSON


def type_name(value: object) -> str:
    return type(value).__name__
