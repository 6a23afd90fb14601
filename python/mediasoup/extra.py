"""Helpers of the seed's ``extra`` module: DTLS fingerprint forms.

>>> fingerprintFromSDP('75:1B:9F')
'751b9f'
>>> fingerprintToSDP('751b9f')
'75:1B:9F'
"""

from __future__ import annotations

from . import _mediasoup

__all__ = ["fingerprintFromSDP", "fingerprintToSDP", "fingerprint_from_sdp", "fingerprint_to_sdp"]


def _require_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        shown = repr(value) if isinstance(value, str) else type(value).__name__
        raise TypeError(f"{name}() takes a non-empty str, not {shown}")
    return value


def fingerprintFromSDP(fingerprint: str) -> str:
    """``'75:1B:…'`` (SDP form) → ``'751b…'`` (lower-case hex, no colons).

    Raises ``TypeError`` for anything but a non-empty str, ``ValueError`` for
    a str that is not hex pairs joined by colons.
    """
    return _mediasoup.fingerprint_from_sdp(_require_text("fingerprintFromSDP", fingerprint))


def fingerprintToSDP(fingerprint: str) -> str:
    """``'751b…'`` → ``'75:1B:…'`` (upper-case hex pairs joined by colons).

    Raises ``TypeError`` for anything but a non-empty str, ``ValueError`` for
    a str that is not an even number of hex digits.
    """
    return _mediasoup.fingerprint_to_sdp(_require_text("fingerprintToSDP", fingerprint))


fingerprint_from_sdp = fingerprintFromSDP
fingerprint_to_sdp = fingerprintToSDP
