//! Bytes from a seeded xorshift generator, the same every run, for the tests
//! that feed parsers and transports datagrams no endpoint would send.

/// A seeded source of arbitrary bytes.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn byte(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 as u8
    }

    pub fn bytes(&mut self, length: usize) -> Vec<u8> {
        (0..length).map(|_| self.byte()).collect()
    }

    /// `length` bytes whose first says RTP or RTCP version 2 (what gets
    /// past the first check of a reader).
    pub fn version_2(&mut self, length: usize) -> Vec<u8> {
        let mut bytes = self.bytes(length);
        if let Some(first) = bytes.first_mut() {
            *first = 0x80 | (*first & 0x3f);
        }
        bytes
    }
}
