"""What an endpoint's offer must be before anything is made for it: its
live sections (each with a unique mid, the agreed ones kept in order), the
DTLS role and fingerprints of its first section, and the limits on its size.
Functions of the parsed offer (which :func:`live_sections` changes in one
way: bundle-only sections get the live port): :class:`RTCPeerConnection`
acts on what they return."""

from __future__ import annotations

from . import sdp

__all__ = ["MAX_PUBLISHED_STREAMS", "MAX_SECTIONS", "check_publishing", "dtls_of", "live_sections"]

# An endpoint's offer has at most this many m-sections, and publishes at
# most this many streams on one connection: each stream it publishes is a
# receiver that every other peer of the room gets a sender of, so one
# unauthenticated WHIP POST could otherwise fan out thousands.
MAX_SECTIONS = 1024
MAX_PUBLISHED_STREAMS = 32


def live_sections(offer: sdp.SessionDescription, agreed: list[sdp.MediaSection]) -> list[sdp.MediaSection]:
    """The offer's sections with a port, once the offer is found sound
    against the sections `agreed` so far (ValueError naming what is not)."""
    if len(offer.media) > MAX_SECTIONS:
        raise ValueError(f"an offer has at most {MAX_SECTIONS} media sections, not {len(offer.media)}")
    # RFC 8843: a section marked bundle-only has port 0 and lives on the
    # BUNDLE group's transport (a max-bundle offerer's): not an ended one.
    bundled = set(offer.bundle())
    live_port = next((section.port for section in offer.media if section.port != 0), 9)
    for section in offer.media:
        if section.port == 0 and section.has("bundle-only") and section.mid in bundled:
            section.port = live_port
    media = [section for section in offer.media if section.port != 0]
    if not media and not agreed:
        raise ValueError("the offer has no media section with a port")
    seen: set[str] = set()
    for section in media:
        if section.mid is None:
            raise ValueError(f"SDP line {section.line}: m={section.kind} has no a=mid (unified plan and BUNDLE need one)")
        if section.mid in seen:
            raise ValueError(f"SDP line {section.line}: a second section with a=mid:{section.mid:.80}")
        seen.add(section.mid)
    kept = len(offer.media) >= len(agreed) and all(
        # A section ended (port 0) may be reused for another, under a new mid (JSEP).
        offered.mid == section.mid or section.port == 0 for offered, section in zip(offer.media, agreed)
    )
    if not kept:
        mids = ", ".join(str(section.mid) for section in agreed)
        raise ValueError(f"a new offer keeps the sections agreed so far, in their order (mids {mids})")
    return media


def dtls_of(offer: sdp.SessionDescription, first: sdp.MediaSection) -> tuple[str, list[tuple[str, str]]]:
    """The endpoint's ``a=setup`` and fingerprints, from its first live
    section or else the session (ValueError if ICE or DTLS is missing)."""
    if not (first.value("ice-ufrag") or offer.value("ice-ufrag")) or not (first.value("ice-pwd") or offer.value("ice-pwd")):
        raise ValueError(f"SDP line {first.line}: the first media section has no a=ice-ufrag / a=ice-pwd")
    fingerprints = first.fingerprints() or offer.fingerprints()
    if not fingerprints:
        raise ValueError(f"SDP line {first.line}: the first media section has no a=fingerprint (nor the session)")
    setup = first.value("setup") or offer.value("setup") or "actpass"
    if setup not in ("actpass", "active", "passive"):
        raise ValueError(f"SDP line {first.line}: a=setup:{setup} must be actpass, active or passive")
    return setup, fingerprints


def check_publishing(publishing: list[sdp.MediaSection]) -> None:
    """The sections an offer publishes streams on stay within the limit."""
    if len(publishing) > MAX_PUBLISHED_STREAMS:
        raise ValueError(f"an endpoint publishes at most {MAX_PUBLISHED_STREAMS} streams on one connection, not {len(publishing)}")
