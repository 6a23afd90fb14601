//! What the router reads of a received RTP packet and what it hands a
//! transport to write: plain values, with no transport's types in them, so
//! the router is driven in tests by packets made up in a line; and a
//! received packet as any kind of transport hands it over ([`ReceivedRtp`]).

use std::sync::Arc;
use std::time::Instant;

use str0m::rtp::ExtensionValues;

use super::codecs::dependency_descriptor::DescriptorBytes;
use super::codecs::vp8;

/// What the router reads of a received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncomingRtp {
    pub ssrc: u32,
    /// Extended sequence number (str0m's: it spans the 16-bit wrap-around).
    pub sequence_number: u64,
    pub timestamp: u32,
    pub marker: bool,
    pub payload_len: usize,
    /// When the packet arrived.
    pub arrival: Instant,
    /// The RFC 6464 audio level (dBov, -127..0), when the packet carries it.
    pub audio_level: Option<i8>,
}

/// A packet a transport received, as every kind hands it to the router:
/// what the router reads, and what its subscribers' transports write (the
/// payload is shared between them, not copied).
#[derive(Debug, Clone)]
pub struct ReceivedRtp {
    pub incoming: IncomingRtp,
    pub payload_type: u8,
    pub payload: Arc<[u8]>,
    /// The header extensions as read (str0m's values; the forwarded copy
    /// carries the [`ReadableExtensions`] of them).
    pub extensions: ExtensionValues,
}

impl ReceivedRtp {
    /// What the router reads of it beyond its header fields.
    pub fn content(&self) -> RtpContent<'_> {
        RtpContent {
            payload_type: self.payload_type,
            payload: &self.payload,
            descriptor: self.extensions.user_values.get::<DescriptorBytes>().map(|DescriptorBytes(bytes)| &bytes[..]),
        }
    }
}

/// What the router reads of a received packet beyond its header fields:
/// the publisher's payload type, the payload, and its dependency
/// descriptor's bytes when it carries one.
#[derive(Debug, Clone, Copy)]
pub struct RtpContent<'a> {
    pub payload_type: u8,
    pub payload: &'a [u8],
    pub descriptor: Option<&'a [u8]>,
}

/// A packet as the subscriber's transport writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutgoingRtp {
    pub ssrc: u32,
    pub payload_type: u8,
    pub sequence_number: u64,
    pub timestamp: u32,
    pub marker: bool,
    /// Whether the transport keeps it for retransmission (it has an RTX SSRC).
    pub nackable: bool,
    /// VP8 (picture id, TL0PICIDX) to write in place of the received
    /// payload's own (see [`Self::payload`]).
    pub vp8_ids: Option<(u16, Option<u8>)>,
    /// It starts a lower layer at its keyframe: what the transport still
    /// holds of the stream, unsent (the old layer, queued by its pacer at
    /// the old rate), is dropped rather than sent before it.
    pub drops_queued: bool,
}

impl OutgoingRtp {
    /// The payload it carries: the received one, shared, or a copy of it
    /// with the VP8 ids rewritten.
    pub fn payload(&self, received: &Arc<[u8]>) -> Arc<[u8]> {
        match self.vp8_ids {
            None => received.clone(),
            Some((picture_id, tl0_pic_idx)) => {
                let mut copy = received.to_vec();
                vp8::write_ids(&mut copy, picture_id, tl0_pic_idx);
                Arc::from(copy)
            }
        }
    }
}

/// The media header extensions of a publisher's stream that a forwarded
/// copy carries: those its transport reads right. Transport-level ones
/// (mid, rid, abs-send-time, transport-wide sequence) are each sending
/// transport's own.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadableExtensions {
    pub audio_level: bool,
    pub video_orientation: bool,
    pub abs_capture_time: bool,
    pub playout_delay: bool,
    /// The dependency descriptor (forwarded for AV1, whose layers it names).
    pub dependency_descriptor: bool,
}
