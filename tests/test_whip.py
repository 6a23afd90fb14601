"""WHIP (RFC 9725) publish and WHEP play in the example app
(mediasoup.demo.app, `python -m mediasoup demo`), with aiortc as the HTTP clients' WebRTC side:
a WHIP publisher is decoded by WHEP viewers and by a peer of the room; the
endpoints answer bad requests with the status codes the RFC names."""

from __future__ import annotations

from typing import Any

import pytest

from mediasoup.webrtc import sdp

from .clients import Subscriber, Viewer, offer_sdp, until, use_loopback_only

app_module = pytest.importorskip("mediasoup.demo.app")


async def test_a_whip_publisher_is_played_by_whep_viewers_and_the_rooms_peers(http: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    use_loopback_only(monkeypatch)
    publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    viewers = [Viewer(), Viewer()]
    subscriber: Subscriber | None = None
    try:
        publisher.addTrack(AudioStreamTrack())
        publisher.addTrack(VideoStreamTrack())
        response = await http.post("/whip/live", data=await offer_sdp(publisher), headers={"Content-Type": "application/sdp"})
        assert response.status == 201, await response.text()
        assert response.content_type == "application/sdp"
        whip_session = response.headers["Location"]
        assert whip_session.startswith("/session/") and response.headers["ETag"]
        answer = await response.text()
        parsed = sdp.parse(answer)
        assert parsed.has("ice-lite") and [m.direction for m in parsed.media] == ["recvonly", "recvonly"]
        await publisher.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

        demo = http.app[app_module.DEMO]
        room = demo.rooms["live"]
        (whip_peer,) = room.peers
        await until(lambda: len(whip_peer.rtpReceivers) == 2, 5, lambda: whip_peer.rtpReceivers)

        # A peer of the room (a pymediasoup client) decodes it.
        subscriber = Subscriber(room, await room.Peer("watcher"))
        await subscriber.start()

        # WHEP viewers get it in the answer, on their recvonly sections.
        sessions = []
        for viewer in viewers:
            response = await http.post("/whep/live", data=await offer_sdp(viewer.pc), headers={"Content-Type": "application/sdp"})
            assert response.status == 201, await response.text()
            sessions.append(response.headers["Location"])
            answer = await response.text()
            parsed = sdp.parse(answer)
            assert [m.direction for m in parsed.media] == ["sendonly", "sendonly"]
            assert all((m.value("msid") or "").startswith(f"{whip_peer.id} ") for m in parsed.media)
            await viewer.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await until(lambda: all(viewer.decoded() for viewer in viewers), 20, lambda: [viewer.frames for viewer in viewers])
        await until(lambda: subscriber is not None and subscriber.frames.get("audio", 0) >= 50 and subscriber.frames.get("video", 0) >= 20, 20, lambda: subscriber and subscriber.frames)

        # DELETE ends a viewer's session (its peer leaves); the other plays on.
        response = await http.delete(sessions[0])
        assert response.status == 200
        assert len(room.peers) == 3
        assert (await http.delete(sessions[0])).status == 404
        before = dict(viewers[1].frames)
        await until(lambda: viewers[1].frames.get("video", 0) >= before.get("video", 0) + 10, 10, lambda: viewers[1].frames)

        # DELETE of the WHIP session: the publisher leaves the room.
        assert (await http.delete(whip_session)).status == 200
        assert whip_peer.closed and whip_peer not in room.peers
    finally:
        await publisher.close()
        for viewer in viewers:
            await viewer.close()
        if subscriber is not None:
            await subscriber.close()


async def test_bad_requests_get_the_status_the_rfc_names(http: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection
    from aiortc.mediastreams import VideoStreamTrack

    use_loopback_only(monkeypatch)
    sdp_type = {"Content-Type": "application/sdp"}
    # Not SDP: 415. SDP that does not parse: 400, naming the line.
    response = await http.post("/whip/errors", data="{}", headers={"Content-Type": "application/json"})
    assert response.status == 415
    response = await http.post("/whip/errors", data="v=0\r\nm=video nine\r\n", headers=sdp_type)
    assert response.status == 400 and "line 2" in await response.text()
    viewer = Viewer()
    publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        offer = await offer_sdp(viewer.pc)
        # Nothing published in the room yet: no WHEP session (404), and the viewer's peer is gone.
        response = await http.post("/whep/errors", data=offer, headers=sdp_type)
        assert response.status == 404 and "nothing is published" in await response.text()
        room = http.app[app_module.DEMO].rooms["errors"]
        await until(lambda: not room.peers, 5, lambda: room.peers)
        # A WHIP offer that publishes nothing: 422.
        response = await http.post("/whip/errors", data=offer, headers=sdp_type)
        assert response.status == 422
        # A session: PATCH (trickle, ICE restart) is 405 with Allow, unknown sessions 404.
        publisher.addTrack(VideoStreamTrack())
        response = await http.post("/whip/errors", data=await offer_sdp(publisher), headers=sdp_type)
        assert response.status == 201
        session = response.headers["Location"]
        response = await http.patch(session, data="a=ice-ufrag:x\r\n", headers={"Content-Type": "application/trickle-ice-sdpfrag"})
        assert response.status == 405 and response.headers["Allow"] == "DELETE"
        assert (await http.delete("/session/unknown")).status == 404
        assert (await http.patch("/session/unknown")).status == 404
        # OPTIONS says what the endpoint accepts.
        response = await http.options("/whip/errors")
        assert response.status == 204 and response.headers["Accept-Post"] == "application/sdp"
        assert (await http.delete(session)).status == 200
    finally:
        await viewer.close()
        await publisher.close()


async def test_a_session_that_never_connects_or_loses_its_room_ends(http: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that posts its offer and goes (no connectivity check, no
    DELETE) leaves no peer once the session's grace has passed; a session
    whose room closes (its worker died, the app closed it) ends with it."""
    from aiortc import RTCConfiguration, RTCPeerConnection
    from aiortc.mediastreams import VideoStreamTrack

    use_loopback_only(monkeypatch)
    demo = http.app[app_module.DEMO]
    demo.session_grace = 3.0
    sdp_type = {"Content-Type": "application/sdp"}
    clients = [RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(2)]
    try:
        for client, room_name in zip(clients, ("gone", "closing")):
            client.addTrack(VideoStreamTrack())
            response = await http.post(f"/whip/{room_name}", data=await offer_sdp(client), headers=sdp_type)
            assert response.status == 201
        gone, closing = demo.rooms["gone"], demo.rooms["closing"]
        assert len(gone.peers) == 1 and len(closing.peers) == 1 and len(demo.sessions) == 2
        closing.close()
        assert len(demo.sessions) == 1
        await until(lambda: not demo.sessions and not gone.peers, 10, lambda: (demo.sessions, gone.peers))
    finally:
        for client in clients:
            await client.close()
