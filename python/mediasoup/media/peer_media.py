"""A Python peer's media in one call each: :func:`subscribe` decodes another
peer's stream, :func:`publish` sends a track into the room, :func:`recordPeer`
records another peer's streams into a file, all through the peer's direct
transport (``await peer.createDirectTransport()``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..peer import Peer
from .publish import TrackPublisher
from .recorder import Recorder
from .remote_track import RemoteTrack

if TYPE_CHECKING:
    from ..rtp_sender import RtpSender
    from ..transport import DirectTransport


async def subscribe(sender: RtpSender, transport: DirectTransport, **options: Any) -> RemoteTrack:
    """The decoded stream of ``sender`` (one of the Python peer's), which is
    put on ``transport`` (its direct transport). ``options``: those of
    :class:`RemoteTrack` (``maxDelay``, ``keyFrameRequestInterval``)."""
    track = RemoteTrack(sender, **options)
    await sender.setTransport(transport)
    return track


async def publish(transport: DirectTransport, track: Any, **options: Any) -> TrackPublisher:
    """Publishes ``track`` (any aiortc-compatible track) as a stream of the
    direct transport's peer: a new RtpReceiver receives it, the other peers
    get its senders, and the publisher is started. ``options``: those of
    :class:`TrackPublisher` (``mimeType``, ``bitrate``, ``ssrc``, ``cname``, ``mtu``).
    Stop it with ``publisher.stop()``; closing its receiver ends the stream."""
    peer = transport.peer
    if not isinstance(peer, Peer):
        raise TypeError(f"transport must be a peer's DirectTransport, not {type(transport).__name__}")
    receiver = peer.RtpReceiver(track.kind, transport)
    publisher: TrackPublisher | None = None
    try:
        publisher = TrackPublisher(track, receiver, **options)
        await receiver.receive(publisher.rtpParameters)
    except BaseException:
        # Bad options, a codec the room lacks, a cancelled call: the caller
        # gets neither, so the receiver goes (in the worker too).
        if publisher is not None:
            publisher.stop()
        receiver.close()
        raise
    publisher.start()
    return publisher


async def recordPeer(peer: Peer, transport: DirectTransport, path: str | os.PathLike[str], **options: Any) -> Recorder:
    """Records every stream of ``peer`` (another peer) that the direct
    transport's peer has a sender for into ``path``, started: the senders
    are put on ``transport``. ``options``: those of :class:`Recorder`
    (``format``, ``maxDelay``, ``keyFrameRequestInterval``, ``startTimeout``).
    ValueError if ``peer`` has no such stream, or one the container does not take.
    The file is finalized by ``await recorder.stop()``, or when ``peer``'s streams end."""
    me = transport.peer
    if not isinstance(me, Peer):
        raise TypeError(f"transport must be a peer's DirectTransport, not {type(transport).__name__}")
    senders = [sender for sender in me.rtpSenders if sender.associatedRtpReceiver.peer is peer and not sender.closed]
    if not senders:
        raise ValueError(f"peer {peer.name!r:.80} has no stream that {me.name!r:.80} receives")
    recorder = Recorder(path, **options)
    for sender in senders:
        recorder.addSource(sender)  # checks the codec before anything is sent
    for sender in senders:
        await sender.setTransport(transport)
    await recorder.start()
    return recorder


record_peer = recordPeer
