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
//!
//! An SFU that decodes and re-encodes (the aiortc relay) needs media it can
//! decode, and no trailer survives its encoder: a [`Clip`] of real VP8
//! frames and Opus packets (made by bench/clip.py) is sent instead, each
//! frame whole every 40 ms, and arrivals are matched to sends by the RTP
//! timestamp (the relay keeps it).

use std::sync::Arc;
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

fn with_trailer(
    mut payload: Vec<u8>,
    size: usize,
    video: bool,
    sequence: u32,
    sent_ns: u64,
) -> Vec<u8> {
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
    Some(Trailer {
        video,
        sequence,
        sent_ns,
    })
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
        let mut payload = vec![
            0x80 | if start { 0x10 } else { 0 },
            0x80,
            0x80 | (picture_id >> 8) as u8,
            picture_id as u8,
        ];
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
        let packet = Packet {
            payload: with_trailer(
                vec![0x78],
                AUDIO_PACKET_BYTES,
                false,
                self.sequence,
                sent_ns,
            ),
            timestamp,
            marker: false,
        };
        self.sequence = self.sequence.wrapping_add(1);
        packet
    }
}

/// Real media to send: VP8 frames (25 per second, the first a keyframe) and
/// Opus packets (20 ms each), looped.
#[derive(Debug, Default)]
pub struct Clip {
    pub video: Vec<Vec<u8>>,
    pub audio: Vec<Vec<u8>>,
}

pub const CLIP_FRAME_INTERVAL: Duration = Duration::from_millis(40);
/// Largest VP8 payload in a packet, descriptor included (as a browser's).
pub const CLIP_PAYLOAD_BYTES: usize = 1100;
const VP8_DESCRIPTOR_BYTES: usize = 4;

impl Clip {
    /// Reads bench/clip.py's format: records of a kind byte (`V` or `A`), a
    /// flags byte, a big-endian u32 length and that many bytes.
    pub fn parse(mut bytes: &[u8]) -> Result<Clip, String> {
        let mut clip = Clip::default();
        while !bytes.is_empty() {
            let (&[kind, _flags, a, b, c, d], rest) = bytes
                .split_first_chunk::<6>()
                .ok_or("a clip record is cut short")?;
            let length = u32::from_be_bytes([a, b, c, d]) as usize;
            let data = rest
                .get(..length)
                .ok_or("a clip record is cut short")?
                .to_vec();
            match kind {
                b'V' => clip.video.push(data),
                b'A' => clip.audio.push(data),
                other => return Err(format!("unknown clip record kind {other}")),
            }
            bytes = &rest[length..];
        }
        if clip.video.is_empty() || clip.audio.is_empty() {
            return Err("a clip needs video and audio".into());
        }
        Ok(clip)
    }
}

/// A clip's VP8 frames, each packetized as RFC 7741 says (X=1 with a
/// 15-bit PictureID, S on the frame's first packet, the marker on its last).
#[derive(Debug)]
pub struct ClipVideoSource {
    clip: Arc<Clip>,
    frame: u32,
}

impl ClipVideoSource {
    pub fn new(clip: Arc<Clip>) -> Self {
        Self { clip, frame: 0 }
    }

    /// The next frame's packets (all with its RTP timestamp).
    pub fn next_frame(&mut self) -> Vec<Packet> {
        let data = &self.clip.video[self.frame as usize % self.clip.video.len()];
        let picture_id = (self.frame & 0x7fff) as u16;
        let timestamp = self.frame.wrapping_mul(3600);
        let chunks: Vec<&[u8]> = data
            .chunks(CLIP_PAYLOAD_BYTES - VP8_DESCRIPTOR_BYTES)
            .collect();
        let last = chunks.len().saturating_sub(1);
        let packets = chunks
            .iter()
            .enumerate()
            .map(|(index, chunk)| {
                let mut payload = vec![
                    0x80 | if index == 0 { 0x10 } else { 0 },
                    0x80,
                    0x80 | (picture_id >> 8) as u8,
                    picture_id as u8,
                ];
                payload.extend_from_slice(chunk);
                Packet {
                    payload,
                    timestamp,
                    marker: index == last,
                }
            })
            .collect();
        self.frame = self.frame.wrapping_add(1);
        packets
    }
}

/// A clip's Opus packets, one every 20 ms.
#[derive(Debug)]
pub struct ClipAudioSource {
    clip: Arc<Clip>,
    sequence: u32,
}

impl ClipAudioSource {
    pub fn new(clip: Arc<Clip>) -> Self {
        Self { clip, sequence: 0 }
    }

    pub fn next_packet(&mut self) -> Packet {
        let payload = self.clip.audio[self.sequence as usize % self.clip.audio.len()].clone();
        let packet = Packet {
            payload,
            timestamp: self.sequence.wrapping_mul(960),
            marker: false,
        };
        self.sequence = self.sequence.wrapping_add(1);
        packet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![kind, 0];
        bytes.extend_from_slice(&(data.len() as u32).to_be_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn clip_frames_are_packetized_as_a_browser_does() {
        let mut bytes = record(b'V', &[7u8; 2500]);
        bytes.extend(record(b'V', &[8u8; 10]));
        bytes.extend(record(b'A', &[1u8; 80]));
        let clip = Arc::new(Clip::parse(&bytes).unwrap());
        let mut video = ClipVideoSource::new(clip.clone());
        let first = video.next_frame();
        // 2500 bytes in payloads of at most 1100 with a 4-byte descriptor: 3 packets.
        assert_eq!(
            first.iter().map(|p| p.payload.len()).collect::<Vec<_>>(),
            [1100, 1100, 2500 - 2 * 1096 + 4]
        );
        assert_eq!(first[0].payload[..4], [0x90, 0x80, 0x80, 0x00]);
        assert_eq!(first[1].payload[..4], [0x80, 0x80, 0x80, 0x00]);
        assert_eq!(
            first.iter().map(|p| p.marker).collect::<Vec<_>>(),
            [false, false, true]
        );
        assert!(first.iter().all(|p| p.timestamp == 0));
        let second = video.next_frame();
        assert_eq!(
            (
                second.len(),
                second[0].timestamp,
                second[0].payload[3],
                second[0].payload[4]
            ),
            (1, 3600, 1, 8)
        );
        // The clip loops; PictureID and timestamps go on.
        let third = video.next_frame();
        assert_eq!(
            (third.len(), third[0].timestamp, third[0].payload[3]),
            (3, 7200, 2)
        );
        let mut audio = ClipAudioSource::new(clip);
        audio.next_packet();
        let packet = audio.next_packet();
        assert_eq!((packet.payload, packet.timestamp), (vec![1u8; 80], 960));
        assert!(Clip::parse(&bytes[..bytes.len() - 1]).is_err());
        assert!(Clip::parse(&record(b'V', &[1])).is_err());
        assert!(Clip::parse(&record(b'X', &[1])).is_err());
    }

    #[test]
    fn video_frames_carry_a_browser_style_descriptor_and_a_trailer() {
        let mut source = VideoSource::default();
        let mut frame = |sent_ns| {
            (0..PACKETS_PER_FRAME)
                .map(|_| source.next_packet(sent_ns))
                .collect::<Vec<_>>()
        };
        let first = frame(1_000);
        assert_eq!(first.len(), PACKETS_PER_FRAME as usize);
        assert!(first
            .iter()
            .all(|p| p.payload.len() == VIDEO_PACKET_BYTES && p.timestamp == 0));
        // S bit and the keyframe bit on the first packet only, the marker on the last.
        assert_eq!(first[0].payload[..5], [0x90, 0x80, 0x80, 0x00, 0x10]);
        assert_eq!(first[1].payload[0], 0x80);
        assert_eq!(
            first.iter().map(|p| p.marker).collect::<Vec<_>>(),
            [false, false, false, true]
        );
        assert_eq!(
            read_trailer(&first[2].payload),
            Some(Trailer {
                video: true,
                sequence: 2,
                sent_ns: 1_000
            })
        );
        // The next frame: PictureID 1, not a keyframe, 3600 ticks later.
        let second = frame(2_000);
        assert_eq!(second[0].payload[..5], [0x90, 0x80, 0x80, 0x01, 0x11]);
        assert_eq!(second[0].timestamp, 3600);
        assert_eq!(
            read_trailer(&second[3].payload).map(|t| t.sequence),
            Some(7)
        );
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
        assert_eq!(
            (packet.payload.len(), packet.timestamp),
            (AUDIO_PACKET_BYTES, 960)
        );
        assert_eq!(
            read_trailer(&packet.payload),
            Some(Trailer {
                video: false,
                sequence: 1,
                sent_ns: 7
            })
        );
        assert_eq!(read_trailer(b"short"), None);
        assert_eq!(read_trailer(&[0u8; 64]), None);
    }
}
