"""``JitterBuffer``: RTP packets in, whole frames out, in order (sans-IO).

The caller gives every packet with its arrival time and asks for frames with
the current time; the buffer never reads a clock. It reorders packets within
``maxDelay`` seconds (and ``capacity`` packets), assembles frames by RTP
timestamp and marker bit, and declares a missing packet lost once a later one
has waited ``maxDelay``. Audio then goes on with the next frame; video drops
frames until the next keyframe and says so in ``keyframeNeeded`` (true at start
too), for the caller to ask the sender for one. It holds at most ``capacity``
packets in sequence: past them the oldest go, as after a loss, so a caller
slower than the stream loses its oldest frames, never memory.
"""

from __future__ import annotations

from collections.abc import Callable

from .rtp import RtpPacket

# This many packets in a row from before the window, each far behind it or
# from another time than the stream's: the sender restarted its sequence.
_RESTART_AFTER_LATE_PACKETS = 64
# RTP timestamps up to this far behind the newest packet's are the stream's
# own past (about 50 minutes at 90 kHz): a late packet there (a
# retransmission, a reordered burst) says nothing of a restart.
_PAST_TIMESTAMPS = 1 << 28


class Frame:
    """One assembled frame: its packets' payloads in order."""

    __slots__ = ("timestamp", "payloads", "keyframe", "sequenceNumber", "arrivalTime")

    def __init__(self, timestamp: int, payloads: list[bytes], keyframe: bool, sequenceNumber: int, arrivalTime: float) -> None:
        self.timestamp = timestamp  # RTP timestamp
        self.payloads = payloads
        self.keyframe = keyframe
        self.sequenceNumber = sequenceNumber  # of the first packet
        self.arrivalTime = arrivalTime  # of the last packet

    def __repr__(self) -> str:
        return f"Frame(ts={self.timestamp} seq={self.sequenceNumber} packets={len(self.payloads)} keyframe={self.keyframe})"


class JitterBuffer:
    """Reorders one stream's packets and assembles its frames.

    ``startsKeyframe(payload)`` tells the first packet of a keyframe (the
    payload format's). Counters: ``packetsLost``, ``latePackets`` (arrived after
    their place was passed), ``duplicatePackets``, ``packetsDropped`` (video
    packets dropped while waiting for a keyframe, the part of a frame before a
    loss, packets that waited past ``capacity``). A packet without payload
    (padding only: a sender's bandwidth probe) keeps its place in the
    sequence and makes no frame.
    """

    def __init__(
        self, kind: str, startsKeyframe: Callable[[bytes], bool], maxDelay: float = 0.1, capacity: int = 2048
    ) -> None:
        if kind not in ("audio", "video"):
            raise ValueError(f"kind {kind!r:.80}, expected 'audio' or 'video'")
        if capacity < 2:
            raise ValueError(f"capacity {capacity}, expected at least 2 packets")
        self.kind = kind
        self._audio = kind == "audio"
        self._starts_keyframe = startsKeyframe
        self._max_delay = maxDelay
        self._capacity = capacity
        # By extended sequence number (the 16-bit one unwrapped): (packet, arrival time).
        self._packets: dict[int, tuple[RtpPacket, float]] = {}
        self._next: int | None = None  # the next packet to go out in a frame
        self._end = 0  # the first missing packet at or after _next
        self._highest = 0
        self._moved = False  # the window moved on: a packet went out or was dropped
        self._newest_timestamp = 0  # of the packet with the highest number
        self._deadline_hole: int | None = None
        self._deadline = 0.0
        self._late_run = 0
        self.keyframeNeeded = not self._audio
        self.packetsLost = 0
        self.latePackets = 0
        self.duplicatePackets = 0
        self.packetsDropped = 0

    def __len__(self) -> int:
        return len(self._packets)

    def push(self, packet: RtpPacket, now: float) -> None:
        """Adds ``packet``, arrived at ``now`` (seconds, the caller's clock)."""
        if self._next is None:
            self._next = self._end = self._highest = packet.sequenceNumber
            self._newest_timestamp = packet.timestamp
        delta = (packet.sequenceNumber - self._highest) & 0xFFFF
        if delta >= 0x8000:
            delta -= 0x10000
        number = self._highest + delta
        if number < self._next:
            if not self._moved and self._highest - number < self._capacity:
                self._next = self._end = number  # reordered before anything left: nothing is lost yet
            else:
                self.latePackets += 1
                behind = (self._newest_timestamp - packet.timestamp) & 0xFFFFFFFF
                if self._next - number >= self._capacity or behind >= _PAST_TIMESTAMPS:
                    self._late_run += 1
                    if self._late_run >= _RESTART_AFTER_LATE_PACKETS:
                        self._restart(packet, now)
                return
        self._late_run = 0
        if number in self._packets:
            self.duplicatePackets += 1
            return
        self._packets[number] = (packet, now)
        if number > self._highest:
            self._highest = number
            self._newest_timestamp = packet.timestamp
            if number - self._next >= self._capacity:
                # Too many wait (a caller slower than the stream, a long
                # hole): go on from the oldest packet still in the window.
                resume = number - self._capacity + 1
                while resume not in self._packets:
                    resume += 1
                self._drop_before(resume)

    def pop(self, now: float) -> Frame | None:
        """The next frame in order, or None until more packets arrive or
        :meth:`nextTimeout` passes; call until None."""
        while self._next is not None:
            frame = self._take_frame()
            if frame is not None:
                return frame
            if self._highest <= self._end:
                return None  # nothing after the missing packet: it may still come
            if now < self._hole_deadline():
                return None
            self._drop_before(self._first_after_hole())
        return None

    def nextTimeout(self) -> float | None:
        """When :meth:`pop` declares the missing packet lost, if later ones wait."""
        if self._next is None or self._highest <= self._end:
            return None
        return self._hole_deadline()

    def dropUntilKeyframe(self) -> None:
        """Drops video frames until the next keyframe (the decoder failed on one)."""
        if not self._audio:
            self.keyframeNeeded = True

    def _take_frame(self) -> Frame | None:
        packets = self._packets
        assert self._next is not None
        while True:
            first = packets.get(self._next)
            if first is None:
                self._end = self._next
                return None
            if not first[0].payload:
                # Padding only (a sender's bandwidth probe): in sequence, no media,
                # and never a frame (an empty packet would end a decoder's stream).
                del packets[self._next]
                self._next += 1
                self._moved = True
                continue
            if not self.keyframeNeeded or self._starts_keyframe(first[0].payload):
                break
            del packets[self._next]
            self._next += 1
            self._moved = True
            self.packetsDropped += 1
        timestamp = first[0].timestamp
        end = max(self._end, self._next)
        while True:
            entry = packets.get(end)
            if entry is None:
                self._end = end
                return None
            if entry[0].timestamp != timestamp:
                last = end - 1  # the next frame started: the marker bit was not set
                break
            if self._audio or entry[0].marker:
                last = end
                break
            end += 1
        entries = [packets.pop(number) for number in range(self._next, last + 1)]
        self._next = self._end = last + 1
        keyframe = self._audio or self._starts_keyframe(entries[0][0].payload)
        if keyframe:
            self.keyframeNeeded = False
        self._moved = True
        return Frame(timestamp, [packet.payload for packet, _ in entries], keyframe, entries[0][0].sequenceNumber, entries[-1][1])

    def _first_after_hole(self) -> int:
        # Up from the hole: as many steps as packets missing (a min() over
        # the buffer cost its whole size per loss).
        number = self._end + 1
        while number not in self._packets:
            number += 1
        return number

    def _hole_deadline(self) -> float:
        if self._deadline_hole != self._end:
            self._deadline_hole = self._end
            self._deadline = self._packets[self._first_after_hole()][1] + self._max_delay
        return self._deadline

    def _drop_before(self, resume: int) -> None:
        """Goes on from packet ``resume`` (one that is here): the packets
        before it still waiting are dropped, the missing ones lost."""
        assert self._next is not None
        for number in range(self._next, resume):
            if self._packets.pop(number, None) is None:
                self.packetsLost += 1
            else:
                self.packetsDropped += 1  # part of a frame before a loss, or past capacity
        self._next = self._end = resume
        self._moved = True
        if not self._audio:
            self.keyframeNeeded = True

    def _restart(self, packet: RtpPacket, now: float) -> None:
        self._packets.clear()
        self._next = None
        self._deadline_hole = None
        self._late_run = 0
        self._moved = False
        self.keyframeNeeded = not self._audio
        self.push(packet, now)

    next_timeout = nextTimeout
    drop_until_keyframe = dropUntilKeyframe
