//! What the synthetic publisher sends, and what a subscriber reads back.
//!
//! Video: a VP8 stream of 25 frames per second, four packets per frame
//! (100 packets/s of `VIDEO_PACKET_BYTES`, ≈ 0.9 Mbit/s), a keyframe every
//! 2 s, paced as a browser's sender paces them: one packet every 10 ms. Each packet starts with a browser-style VP8 payload descriptor
//! (RFC 7741: X and S bits, a 15-bit extended PictureID) and, on a frame's
//! first packet, the VP8 payload header (keyframe bit). Audio: 50 packets/s
//! of `AUDIO_PACKET_BYTES` (an Opus frame's size at ≈ 40 kbit/s).
//!
//! The last `TRAILER_BYTES` of every payload carry a marker (video or audio), the stream's
//! own sequence number and the send time in nanoseconds since the load
//! generator started: loss and latency are measured on what arrives,
//! whatever the SFU did to RTP sequence numbers and timestamps.

use std::time::Duration;

pub const VIDEO_PACKET_BYTES: usize = 1100;
pub const AUDIO_PACKET_BYTES: usize = 100;
pub const PACKETS_PER_FRAME: u32 = 4;
pub const VIDEO_PACKET_INTERVAL: Duration = Duration::from_millis(10);
pub const FRAMES_PER_KEYFRAME: u32 = 50;
pub const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
pub const TRAILER_BYTES: usize = 16;
const VIDEO_MARKER: [u8; 4] = *b"MSBV";
const AUDIO_MARKER: [u8; 4] = *b"MSBA";

/// One packet to send: payload, RTP timestamp and marker bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub payload: Vec<u8>,
    pub timestamp: u32,
    pub marker: bool,
}

/// The trailer read back from a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub video: bool,
    pub sequence: u32,
    pub sent_ns: u64,
}

fn with_trailer(mut payload: Vec<u8>, size: usize, video: bool, sequence: u32, sent_ns: u64) -> Vec<u8> {
    payload.resize(size - TRAILER_BYTES, 0x5a);
    payload.extend_from_slice(if video { &VIDEO_MARKER } else { &AUDIO_MARKER });
    payload.extend_from_slice(&sequence.to_be_bytes());
    payload.extend_from_slice(&sent_ns.to_be_bytes());
    payload
}

/// The trailer of a payload this module wrote, or None.
pub fn read_trailer(payload: &[u8]) -> Option<Trailer> {
    let trailer = payload.get(payload.len().checked_sub(TRAILER_BYTES)?..)?;
    let video = match trailer[..4].try_into().ok()? {
        VIDEO_MARKER => true,
        AUDIO_MARKER => false,
        _ => return None,
    };
    let sequence = u32::from_be_bytes(trailer[4..8].try_into().ok()?);
    let sent_ns = u64::from_be_bytes(trailer[8..16].try_into().ok()?);
    Some(Trailer { video, sequence, sent_ns })
}

/// The VP8 packets of one frame after another.
#[derive(Debug, Default)]
pub struct VideoSource {
    frame: u32,
    /// The next packet's index in its frame.
    index: u32,
    sequence: u32,
}

impl VideoSource {
    /// The next packet, sent at `sent_ns`.
    pub fn next_packet(&mut self, sent_ns: u64) -> Packet {
        let picture_id = (self.frame & 0x7fff) as u16;
        let keyframe = self.frame.is_multiple_of(FRAMES_PER_KEYFRAME);
        let start = self.index == 0;
        // X=1, S=1 on the first packet of a partition, PID 0.
        let mut payload = vec![0x80 | if start { 0x10 } else { 0 }, 0x80, 0x80 | (picture_id >> 8) as u8, picture_id as u8];
        if start {
            // VP8 payload header: P=0 for a keyframe, show_frame=1.
            payload.extend_from_slice(&[if keyframe { 0x10 } else { 0x11 }, 0x02, 0x00]);
        }
        let packet = Packet {
            payload: with_trailer(payload, VIDEO_PACKET_BYTES, true, self.sequence, sent_ns),
            // 90 kHz clock, 25 frames per second.
            timestamp: self.frame.wrapping_mul(3600),
            marker: self.index + 1 == PACKETS_PER_FRAME,
        };
        self.sequence = self.sequence.wrapping_add(1);
        self.index += 1;
        if self.index == PACKETS_PER_FRAME {
            self.index = 0;
            self.frame = self.frame.wrapping_add(1);
        }
        packet
    }
}

/// Opus-sized audio packets.
#[derive(Debug, Default)]
pub struct AudioSource {
    sequence: u32,
}

impl AudioSource {
    pub fn next_packet(&mut self, sent_ns: u64) -> Packet {
        // 48 kHz clock, 20 ms per packet.
        let timestamp = self.sequence.wrapping_mul(960);
        let packet = Packet { payload: with_trailer(vec![0x78], AUDIO_PACKET_BYTES, false, self.sequence, sent_ns), timestamp, marker: false };
        self.sequence = self.sequence.wrapping_add(1);
        packet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_frames_carry_a_browser_style_descriptor_and_a_trailer() {
        let mut source = VideoSource::default();
        let mut frame = |sent_ns| (0..PACKETS_PER_FRAME).map(|_| source.next_packet(sent_ns)).collect::<Vec<_>>();
        let first = frame(1_000);
        assert_eq!(first.len(), PACKETS_PER_FRAME as usize);
        assert!(first.iter().all(|p| p.payload.len() == VIDEO_PACKET_BYTES && p.timestamp == 0));
        // S bit and the keyframe bit on the first packet only, the marker on the last.
        assert_eq!(first[0].payload[..5], [0x90, 0x80, 0x80, 0x00, 0x10]);
        assert_eq!(first[1].payload[0], 0x80);
        assert_eq!(first.iter().map(|p| p.marker).collect::<Vec<_>>(), [false, false, false, true]);
        assert_eq!(read_trailer(&first[2].payload), Some(Trailer { video: true, sequence: 2, sent_ns: 1_000 }));
        // The next frame: PictureID 1, not a keyframe, 3600 ticks later.
        let second = frame(2_000);
        assert_eq!(second[0].payload[..5], [0x90, 0x80, 0x80, 0x01, 0x11]);
        assert_eq!(second[0].timestamp, 3600);
        assert_eq!(read_trailer(&second[3].payload).map(|t| t.sequence), Some(7));
        // A keyframe every FRAMES_PER_KEYFRAME frames.
        for _ in 2..FRAMES_PER_KEYFRAME {
            frame(0);
        }
        assert_eq!(frame(0)[0].payload[4], 0x10);
    }

    #[test]
    fn audio_packets_and_foreign_payloads() {
        let mut source = AudioSource::default();
        source.next_packet(5);
        let packet = source.next_packet(7);
        assert_eq!((packet.payload.len(), packet.timestamp), (AUDIO_PACKET_BYTES, 960));
        assert_eq!(read_trailer(&packet.payload), Some(Trailer { video: false, sequence: 1, sent_ns: 7 }));
        assert_eq!(read_trailer(b"short"), None);
        assert_eq!(read_trailer(&[0u8; 64]), None);
    }
}
