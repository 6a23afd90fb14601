//! The media path beside the Channel: the RTP of direct transports between
//! a worker and the Python process, on a socket of its own (the worker's
//! fd [`MEDIA_FD`]) so that media never waits behind JSON nor JSON behind
//! media. Binary frames, batched by whoever writes them: a 4-byte
//! big-endian length, then [`MEDIA_HEAD`] bytes (kind, the direct
//! transport's handle, an SSRC) and the payload.
//!
//! Worker to Python: [`FrameKind::Rtp`] (a packet an RtpSender on the
//! transport sends, SSRC = the sender's), [`FrameKind::KeyframeRequest`]
//! (a subscriber of the stream an RtpReceiver on it publishes wants a
//! keyframe; no payload), [`FrameKind::Data`] (a message for a DataSender
//! on it). Python to worker: [`FrameKind::Rtp`] (a packet for an
//! RtpReceiver on it; SSRC = the packet's), [`FrameKind::Data`] (a message
//! of a DataReceiver on it). A data frame's SSRC field is the channel's
//! reference on the transport, its payload a byte (1: binary, 0: text) and
//! the message.

/// The worker's end of the media socket: the extension places it at this
/// descriptor when it starts the process, and says so in [`MEDIA_FD_ENV`].
pub const MEDIA_FD: i32 = 3;
pub const MEDIA_FD_ENV: &str = "MEDIASOUP_MEDIA_FD";

/// Kind, transport handle and SSRC.
pub const MEDIA_HEAD: usize = 9;

/// The largest payload a frame carries: a data message of the largest size
/// a channel takes (and its binary flag); an RTP packet is at most 65,535 bytes.
pub const MAX_MEDIA_PAYLOAD: usize = 1 + crate::sctp::SCTP_MAX_MESSAGE_SIZE;

/// The largest RTP packet (what UDP carries).
pub const MAX_RTP_LEN: usize = 65_535;

/// How many bytes of frames a direct transport holds for Python (about a
/// second of 8 Mbit/s video): beyond that, a packet for a Python consumer
/// that does not keep up is dropped and counted, never queued without end.
pub const DIRECT_QUEUE_BYTES: usize = 1024 * 1024;

/// What all the direct transports of a worker hold for Python together:
/// with many of them, each holds its share of this (at least
/// [`MIN_DIRECT_QUEUE_BYTES`]), so a stalled Python process costs the
/// worker a bounded amount of memory however many transports it has.
pub const DIRECT_QUEUES_BYTES: usize = 16 * 1024 * 1024;
pub const MIN_DIRECT_QUEUE_BYTES: usize = 64 * 1024;

/// The bound of each of `count` direct transports' queues.
pub fn direct_queue_limit(count: usize) -> usize {
    (DIRECT_QUEUES_BYTES / count.max(1)).clamp(MIN_DIRECT_QUEUE_BYTES, DIRECT_QUEUE_BYTES)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    Rtp = 1,
    KeyframeRequest = 2,
    Data = 3,
}

impl FrameKind {
    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Rtp),
            2 => Some(Self::KeyframeRequest),
            3 => Some(Self::Data),
            _ => None,
        }
    }
}

/// One frame, borrowed from the buffer it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaFrame<'a> {
    pub kind: FrameKind,
    /// The direct transport's handle (its key in the worker).
    pub transport: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// Appends one frame to `out`.
pub fn encode_media_frame(kind: FrameKind, transport: u32, ssrc: u32, payload: &[u8], out: &mut Vec<u8>) {
    let len = (MEDIA_HEAD + payload.len()) as u32;
    out.reserve(4 + len as usize);
    out.extend_from_slice(&len.to_be_bytes());
    out.push(kind as u8);
    out.extend_from_slice(&transport.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Frames out of a byte stream, sans-IO. A frame that cannot be read (an
/// unknown kind, a length under the head or over the limit) is skipped and
/// reported; the stream stays in step by its length.
#[derive(Debug, Default)]
pub struct MediaFrameReader {
    buffer: Vec<u8>,
    /// Where the next frame starts in `buffer` (consumed bytes are dropped
    /// at the next push, not per frame).
    start: usize,
    /// Bytes of an oversized frame still to be thrown away.
    skipping: usize,
}

impl MediaFrameReader {
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.skipping > 0 {
            let skipped = self.skipping.min(bytes.len());
            self.skipping -= skipped;
            bytes = &bytes[skipped..];
        }
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole frame, or why the next one was skipped.
    pub fn next_frame(&mut self) -> Option<Result<MediaFrame<'_>, String>> {
        let rest = &self.buffer[self.start..];
        if self.skipping > 0 || rest.len() < 4 {
            return None;
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len > MEDIA_HEAD + MAX_MEDIA_PAYLOAD {
            let dropped = (rest.len() - 4).min(len);
            self.start += 4 + dropped;
            self.skipping = len - dropped;
            return Some(Err(format!("a media frame of {len} bytes is over the limit")));
        }
        if rest.len() < 4 + len {
            return None;
        }
        let start = self.start + 4;
        self.start = start + len;
        if len < MEDIA_HEAD {
            return Some(Err(format!("a media frame of {len} bytes is shorter than its head")));
        }
        let frame = &self.buffer[start..start + len];
        let Some(kind) = FrameKind::from_byte(frame[0]) else {
            return Some(Err(format!("a media frame of unknown kind {}", frame[0])));
        };
        Some(Ok(MediaFrame {
            kind,
            transport: u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]),
            ssrc: u32::from_be_bytes([frame[5], frame[6], frame[7], frame[8]]),
            payload: &frame[MEDIA_HEAD..],
        }))
    }
}

/// Encoded frames waiting for the socket, bounded in bytes: a producer
/// faster than the reader loses (and is told of) what does not fit.
#[derive(Debug)]
pub struct FrameQueue {
    bytes: Vec<u8>,
    /// Where the frames not taken yet start.
    start: usize,
    limit: usize,
}

impl FrameQueue {
    pub fn new(limit: usize) -> Self {
        Self { bytes: Vec::new(), start: 0, limit }
    }

    pub fn len(&self) -> usize {
        self.bytes.len() - self.start
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A new bound for what is pushed from now on (what waits stays).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues a frame; false (nothing queued) if it does not fit.
    pub fn push(&mut self, kind: FrameKind, transport: u32, ssrc: u32, payload: &[u8]) -> bool {
        if self.len() + 4 + MEDIA_HEAD + payload.len() > self.limit {
            return false;
        }
        if self.start > 0 && self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        }
        encode_media_frame(kind, transport, ssrc, payload, &mut self.bytes);
        true
    }

    /// Moves whole frames, oldest first, to `out` while they fit in
    /// `budget` bytes (at least one, so a frame larger than any budget
    /// still leaves); answers the bytes moved.
    pub fn take(&mut self, out: &mut Vec<u8>, budget: usize) -> usize {
        let mut end = self.start;
        while end + 4 <= self.bytes.len() {
            let len = 4 + u32::from_be_bytes([self.bytes[end], self.bytes[end + 1], self.bytes[end + 2], self.bytes[end + 3]]) as usize;
            if end > self.start && end - self.start + len > budget {
                break;
            }
            end += len;
        }
        let moved = end - self.start;
        out.extend_from_slice(&self.bytes[self.start..end]);
        self.start = end;
        if self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        } else if self.start > self.limit {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        moved
    }
}

#[cfg(test)]
#[path = "media_tests.rs"]
mod tests;
