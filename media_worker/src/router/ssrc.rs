//! The SSRCs a room's senders write: random (xorshift), never 0 and never
//! one a sender of the room has already.

/// The generator's state; seeded per worker process and room.
#[derive(Debug, Clone)]
pub struct SsrcAllocator {
    state: u64,
}

impl SsrcAllocator {
    pub fn new(seed: u64) -> Self {
        Self { state: seed | 1 }
    }

    /// The next SSRC for which `taken` is false.
    pub fn next(&mut self, taken: impl Fn(u32) -> bool) -> u32 {
        loop {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let ssrc = (self.state >> 16) as u32;
            if ssrc != 0 && !taken(ssrc) {
                return ssrc;
            }
        }
    }
}
