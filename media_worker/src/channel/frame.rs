//! Length-prefixed framing, sans-IO: bytes go in as they arrive, whole frames
//! come out. Two users: the Channel (a 4-byte big-endian length, then JSON)
//! and ICE over TCP (RFC 4571: a 2-byte length, then a STUN/DTLS/RTP packet).
//! A frame longer than the limit is skipped (reported once), so the stream
//! stays in step and nothing after it is lost.

/// The largest Channel frame either side accepts: far above any control message.
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// The largest request the extension sends: half a frame, so that an answer
/// that echoes its request normalised (capabilities, `rtpParameters`, a
/// peer's dump) always fits in one.
pub const MAX_REQUEST_LEN: usize = MAX_FRAME_LEN / 2;

/// Appends `payload` as one Channel frame to `out`.
pub fn encode_frame(payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Appends `packet` as one RFC 4571 frame to `out`; false (nothing written)
/// for a packet over 65535 bytes, which the framing cannot carry.
pub fn encode_rfc4571(packet: &[u8], out: &mut Vec<u8>) -> bool {
    let Ok(len) = u16::try_from(packet.len()) else { return false };
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(packet);
    true
}

/// What the decoder found next in the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A whole frame's payload.
    Frame(Vec<u8>),
    /// A frame announced with `len` bytes, over the limit; its bytes are
    /// being discarded. `head` is its first bytes (up to [`OVERSIZED_HEAD`]),
    /// enough to name the request or answer it belonged to.
    Oversized { len: usize, head: Vec<u8> },
}

/// How much of an oversized frame is kept ([`Decoded::Oversized`]).
pub const OVERSIZED_HEAD: usize = 64;

#[derive(Debug)]
pub struct FrameDecoder {
    /// 4 for the Channel, 2 for RFC 4571.
    header_len: usize,
    max_len: usize,
    buffer: Vec<u8>,
    /// Bytes of an oversized frame still to be thrown away.
    skipping: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// The Channel's framing.
    pub fn new() -> Self {
        Self { header_len: 4, max_len: MAX_FRAME_LEN, buffer: Vec::new(), skipping: 0 }
    }

    /// RFC 4571 framing (ICE over TCP).
    pub fn rfc4571() -> Self {
        Self { header_len: 2, max_len: usize::from(u16::MAX), buffer: Vec::new(), skipping: 0 }
    }

    /// Feeds bytes read from the stream.
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.skipping > 0 {
            let skipped = self.skipping.min(bytes.len());
            self.skipping -= skipped;
            bytes = &bytes[skipped..];
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete frame, if the buffered bytes hold one.
    pub fn next_frame(&mut self) -> Option<Decoded> {
        let header_len = self.header_len;
        if self.skipping > 0 || self.buffer.len() < header_len {
            return None;
        }
        let len = self.buffer[..header_len]
            .iter()
            .fold(0usize, |len, byte| (len << 8) | usize::from(*byte));
        if len > self.max_len {
            let buffered = self.buffer.len() - header_len;
            if buffered < OVERSIZED_HEAD {
                return None;
            }
            let head = self.buffer[header_len..header_len + OVERSIZED_HEAD].to_vec();
            let dropped = buffered.min(len);
            self.buffer.drain(..header_len + dropped);
            self.skipping = len - dropped;
            return Some(Decoded::Oversized { len, head });
        }
        if self.buffer.len() < header_len + len {
            return None;
        }
        let payload = self.buffer[header_len..header_len + len].to_vec();
        self.buffer.drain(..header_len + len);
        Some(Decoded::Frame(payload))
    }

    /// Bytes buffered and not yet returned (a partial frame).
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
