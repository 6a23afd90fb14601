"""Forwarding: what one peer publishes, the others decode."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import mediasoup

from .clients import MediasoupClient, Subscriber, until, use_loopback_only



async def test_a_publisher_s_audio_and_video_are_decoded_by_two_subscribers(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice, bob = await room.Peer("alice"), await room.Peer("bob")
    bob_client = Subscriber(room, bob)
    await bob_client.start()
    publisher = MediasoupClient(room, alice)
    await publisher.load()
    carol_client = None
    try:
        publishing = await alice.createTransport()
        receivers = await publisher.publish(publishing, [AudioStreamTrack(), VideoStreamTrack()])
        await until(lambda: len(bob.rtpSenders) == 2, 5, lambda: bob.rtpSenders)
        for sender, receiver in zip(bob.rtpSenders, receivers):
            assert sender.associatedRtpReceiver is receiver and sender.kind == receiver.kind
            parameters = sender.rtpParameters
            room_payload_types = [c["preferredPayloadType"] for c in room.rtpCapabilities["codecs"]]
            assert parameters["codecs"][0]["payloadType"] in room_payload_types
            assert parameters["encodings"][0]["ssrc"] != receiver.rtpParameters["encodings"][0]["ssrc"]
            assert parameters["rtcp"]["cname"]
        video_sender = next(s for s in bob.rtpSenders if s.kind == "video")
        assert "rtx" in video_sender.rtpParameters["encodings"][0]
        await until(lambda: bob_client.frames.get("audio", 0) >= 50 and bob_client.frames.get("video", 0) >= 20, 20, lambda: bob_client.frames)
        # A peer that joins later receives too.
        carol = await room.Peer("carol")
        carol_client = Subscriber(room, carol)
        await carol_client.start()
        await until(lambda: carol_client.frames.get("audio", 0) >= 50 and carol_client.frames.get("video", 0) >= 20, 20, lambda: carol_client.frames)
        stats = await video_sender.getStats()
        assert stats[0]["packetsSent"] > 0
        # disable() pauses the flow, enable() resumes it (with a keyframe).
        changes: list[bool] = []
        video_sender.on("activechange", changes.append)
        assert video_sender.active
        await video_sender.disable()
        assert not video_sender.active and (await video_sender.dump())["paused"] is True
        await asyncio.sleep(0.5)
        paused_at = bob_client.frames["video"]
        sent_while_paused = (await video_sender.getStats())[0]["packetsSent"]
        await asyncio.sleep(0.7)
        assert (await video_sender.getStats())[0]["packetsSent"] == sent_while_paused
        assert bob_client.frames["video"] <= paused_at + 1
        await video_sender.enable()
        await until(lambda: bob_client.frames["video"] >= paused_at + 10, 10, lambda: bob_client.frames)
        assert changes == [False, True]
        # The room's dump maps each published stream to the senders forwarding it.
        routes = (await room.dump())["rtpReceivers"]
        for receiver in receivers:
            expected = {s.id for s in bob.rtpSenders + carol.rtpSenders if s.associatedRtpReceiver is receiver}
            assert set(routes[receiver.id]) == expected and len(expected) == 2
        # Closing alice closes the senders of her streams.
        closed: list[Any] = []
        for sender in bob.rtpSenders:
            sender.on("close", closed.append)
        alice.close()
        assert len(closed) == 2 and bob.rtpSenders == [] and carol.rtpSenders == []
    finally:
        await publisher.close()
        await bob_client.close()
        if carol_client is not None:
            await carol_client.close()


async def test_a_three_party_call_where_everyone_publishes_and_receives(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    use_loopback_only(monkeypatch)
    room = await server.Room()
    names = ["alice", "bob", "carol"]
    peers = {name: await room.Peer(name) for name in names}
    subscribers = {name: Subscriber(room, peer) for name, peer in peers.items()}
    publishers = {name: MediasoupClient(room, peer) for name, peer in peers.items()}
    try:
        for name in names:
            await subscribers[name].start()
            await publishers[name].load()
            await publishers[name].publish(await peers[name].createTransport(), [AudioStreamTrack(), VideoStreamTrack()])

        def everyone_decodes() -> bool:
            return all(
                subscribers[name].frames_from.get((other, "audio"), 0) >= 50 and subscribers[name].frames_from.get((other, "video"), 0) >= 20
                for name in names
                for other in names
                if other != name
            )

        await until(everyone_decodes, 30, lambda: {name: subscribers[name].frames_from for name in names})
        for name in names:
            # Two streams of each other peer; none of its own.
            assert sorted((s.associatedRtpReceiver.peer.name, s.kind) for s in peers[name].rtpSenders) == sorted(
                (other, kind) for other in names if other != name for kind in ("audio", "video")
            )
            assert {name_ for name_, _ in subscribers[name].frames_from} == set(names) - {name}
        # mids are unique per subscriber.
        for peer in peers.values():
            mids = [s.rtpParameters["mid"] for s in peer.rtpSenders]
            assert len(set(mids)) == len(mids) == 4
    finally:
        for name in names:
            await publishers[name].close()
            await subscribers[name].close()
