//! Length-prefixed framing, sans-IO: bytes go in as they arrive, whole frames
//! come out. Two users: the Channel (a 4-byte big-endian length, then JSON)
//! and ICE over TCP (RFC 4571: a 2-byte length, then a STUN/DTLS/RTP packet).
//! A frame longer than the limit is skipped (reported once), so the stream
//! stays in step and nothing after it is lost.

/// The largest Channel frame either side accepts: far above any control message.
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

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
    /// A frame announced with this length, over [`MAX_FRAME_LEN`]; its bytes
    /// are being discarded.
    Oversized(usize),
}

#[derive(Debug)]
pub struct FrameDecoder {
    /// 4 for the Channel, 2 for RFC 4571.
    header_len: usize,
    max_len: usize,
    buffer: Vec<u8>,
    /// Bytes of an oversized frame still to be thrown away.
    skipping: usize,
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
            let dropped = buffered.min(len);
            self.buffer.drain(..header_len + dropped);
            self.skipping = len - dropped;
            return Some(Decoded::Oversized(len));
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
mod tests {
    use super::*;

    fn frames(decoder: &mut FrameDecoder) -> Vec<Decoded> {
        std::iter::from_fn(|| decoder.next_frame()).collect()
    }

    #[test]
    fn frames_survive_any_split_of_the_stream() {
        let mut stream = Vec::new();
        encode_frame(b"{\"a\":1}", &mut stream);
        encode_frame(b"", &mut stream);
        encode_frame(&[7u8; 1000], &mut stream);
        for chunk_size in [1, 2, 3, 5, 64, stream.len()] {
            let mut decoder = FrameDecoder::new();
            let mut out = Vec::new();
            for chunk in stream.chunks(chunk_size) {
                decoder.push(chunk);
                out.extend(frames(&mut decoder));
            }
            assert_eq!(
                out,
                vec![
                    Decoded::Frame(b"{\"a\":1}".to_vec()),
                    Decoded::Frame(Vec::new()),
                    Decoded::Frame(vec![7u8; 1000]),
                ],
                "chunk size {chunk_size}"
            );
            assert_eq!(decoder.buffered(), 0);
        }
    }

    #[test]
    fn an_oversized_frame_is_skipped_and_the_next_one_decodes() {
        let huge = MAX_FRAME_LEN + 10;
        let mut stream = (huge as u32).to_be_bytes().to_vec();
        stream.extend(std::iter::repeat_n(0xAAu8, huge));
        encode_frame(b"after", &mut stream);
        let mut decoder = FrameDecoder::new();
        let mut out = Vec::new();
        for chunk in stream.chunks(65536) {
            decoder.push(chunk);
            out.extend(frames(&mut decoder));
        }
        assert_eq!(out, vec![Decoded::Oversized(huge), Decoded::Frame(b"after".to_vec())]);
    }

    #[test]
    fn rfc4571_frames_have_a_two_byte_length() {
        let mut stream = Vec::new();
        assert!(encode_rfc4571(b"stun", &mut stream));
        assert!(encode_rfc4571(&[1u8; 1200], &mut stream));
        assert!(!encode_rfc4571(&vec![0u8; 70000], &mut stream));
        assert_eq!(&stream[..2], &[0, 4]);
        let mut decoder = FrameDecoder::rfc4571();
        for byte in &stream {
            decoder.push(std::slice::from_ref(byte));
        }
        assert_eq!(frames(&mut decoder), vec![Decoded::Frame(b"stun".to_vec()), Decoded::Frame(vec![1u8; 1200])]);
    }

    #[test]
    fn a_partial_frame_waits_for_the_rest() {
        let mut stream = Vec::new();
        encode_frame(b"hello", &mut stream);
        let mut decoder = FrameDecoder::new();
        decoder.push(&stream[..6]);
        assert_eq!(decoder.next_frame(), None);
        decoder.push(&stream[6..]);
        assert_eq!(decoder.next_frame(), Some(Decoded::Frame(b"hello".to_vec())));
    }
}
