//! Channel framing: a 4-byte big-endian length, then that many bytes of JSON.
//! The decoder is sans-IO: bytes go in as they arrive, whole frames come out.
//! A frame longer than [`MAX_FRAME_LEN`] is skipped (reported once), so the
//! stream stays in step and nothing after it is lost.

/// The largest frame either side accepts: far above any control message.
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

const HEADER_LEN: usize = 4;

/// Appends `payload` as one frame to `out`.
pub fn encode_frame(payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
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

#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    /// Bytes of an oversized frame still to be thrown away.
    skipping: usize,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
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
        if self.skipping > 0 || self.buffer.len() < HEADER_LEN {
            return None;
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&self.buffer[..HEADER_LEN]);
        let len = u32::from_be_bytes(header) as usize;
        if len > MAX_FRAME_LEN {
            let buffered = self.buffer.len() - HEADER_LEN;
            let dropped = buffered.min(len);
            self.buffer.drain(..HEADER_LEN + dropped);
            self.skipping = len - dropped;
            return Some(Decoded::Oversized(len));
        }
        if self.buffer.len() < HEADER_LEN + len {
            return None;
        }
        let payload = self.buffer[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.buffer.drain(..HEADER_LEN + len);
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
