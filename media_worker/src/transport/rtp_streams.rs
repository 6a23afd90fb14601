//! The streams of a transport that sees RTP in the clear without str0m
//! (direct and plain): what it receives, named by SSRC (there is no mid
//! or rid to learn a stream by), read into the router's [`ReceivedRtp`],
//! and what it sends, written from the router's [`OutgoingRtp`] with the
//! header extensions its endpoint reads (the audio level, the video
//! orientation, AV1's dependency descriptor: what a pipe carries). One piece
//! of code for both kinds: they differ only in where the bytes come from and go.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use rustc_hash::FxHashMap;
use serde_json::{json, Value};
use str0m::rtp::{Extension, ExtensionValues};

use crate::error::WorkerError;
use crate::rtp::capabilities::MediaKind;
use crate::rtp::codec_table::{str0m_extension, SendTables};
use crate::rtp::codecs::dependency_descriptor::{self, DescriptorBytes};
use crate::rtp::packet::{IncomingRtp, OutgoingRtp, ReadableExtensions, ReceivedRtp};
use crate::rtp::parameters::ReceiveParameters;
use crate::rtp::stream_ids::for_each_extension;
use crate::rtp::wire::{read_rtp, write_rtp, RtpFields, SequenceExtender};

const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// A stream the endpoint publishes on the transport.
#[derive(Debug)]
pub struct StreamIn {
    pub receiver: Rc<str>,
    pub mid: String,
    /// The id the endpoint writes the RFC 6464 level at, if it does.
    audio_level_id: Option<u8>,
    /// The id it writes AV1's dependency descriptor at, where it is forwarded.
    descriptor_id: Option<u8>,
    sequence: SequenceExtender,
    pub packets: u64,
    pub bytes: u64,
}

/// A stream the transport sends to its endpoint.
#[derive(Debug, Default)]
pub struct StreamOut {
    pub mid: String,
    pub packets: u64,
    pub bytes: u64,
    /// Not sent: the way out was full (a direct transport's queue).
    pub dropped: u64,
    /// The RTP timestamp and payload type of the last packet sent, and when.
    pub last_sent: Option<(u32, u8, Instant)>,
}

#[derive(Debug)]
pub struct RtpStreams {
    /// What the transport is called in errors: "a direct transport".
    what: &'static str,
    receivers: FxHashMap<u32, StreamIn>,
    senders: FxHashMap<u32, StreamOut>,
    audio_level_id: Option<u8>,
    video_orientation_id: Option<u8>,
    descriptor_id: Option<u8>,
    /// A forwarded packet being written (no allocation per packet once warm).
    scratch: Vec<u8>,
}

impl RtpStreams {
    /// The streams of a transport whose senders write the extension ids of `tables`.
    pub fn new(what: &'static str, tables: &SendTables) -> Self {
        Self {
            what,
            receivers: FxHashMap::default(),
            senders: FxHashMap::default(),
            audio_level_id: tables.extensions.id_of(Extension::AudioLevel),
            video_orientation_id: tables.extensions.id_of(Extension::VideoOrientation),
            descriptor_id: str0m_extension(dependency_descriptor::URI).and_then(|descriptor| tables.extensions.id_of(descriptor)),
            scratch: Vec::new(),
        }
    }

    /// Starts receiving a stream: every encoding must name its SSRC. Answers
    /// its mid (the given one, or the first `r0`, `r1`… free) and the
    /// extensions its packets carry that the router reads.
    pub fn add_receiver(&mut self, transport_id: &str, receiver_id: &str, kind: MediaKind, parameters: &ReceiveParameters) -> Result<(String, ReadableExtensions), WorkerError> {
        let mut ssrcs = Vec::new();
        for (index, encoding) in parameters.encodings.iter().enumerate() {
            let ssrc = encoding.ssrc.ok_or_else(|| {
                WorkerError::value_error(format!("rtpParameters.encodings[{index}].ssrc is missing: {}'s stream names its SSRCs", self.what))
            })?;
            if self.receivers.contains_key(&ssrc) || ssrcs.contains(&ssrc) {
                return Err(WorkerError::value_error(format!("ssrc {ssrc} is received already on transport {transport_id}")));
            }
            ssrcs.push(ssrc);
        }
        let mid = match &parameters.mid {
            Some(mid) => mid.clone(),
            None => (0..).map(|index| format!("r{index}")).find(|mid| !self.receivers.values().any(|r| &r.mid == mid)).unwrap_or_default(),
        };
        let audio_level_id = parameters.extension_id(AUDIO_LEVEL_URI).filter(|_| kind == MediaKind::Audio);
        let descriptor_id = parameters.extension_id(dependency_descriptor::URI).filter(|_| kind == MediaKind::Video && parameters.forwards_descriptor());
        let receiver: Rc<str> = Rc::from(receiver_id);
        for ssrc in ssrcs {
            let stream = StreamIn { receiver: receiver.clone(), mid: mid.clone(), audio_level_id, descriptor_id, sequence: SequenceExtender::default(), packets: 0, bytes: 0 };
            self.receivers.insert(ssrc, stream);
        }
        let readable = ReadableExtensions { audio_level: audio_level_id.is_some(), dependency_descriptor: descriptor_id.is_some(), ..ReadableExtensions::default() };
        Ok((mid, readable))
    }

    /// Forgets the streams of `receiver_id`; answers their SSRCs.
    pub fn remove_receiver(&mut self, receiver_id: &str) -> Vec<u32> {
        let mut ssrcs = Vec::new();
        self.receivers.retain(|ssrc, stream| {
            let kept = &*stream.receiver != receiver_id;
            if !kept {
                ssrcs.push(*ssrc);
            }
            kept
        });
        ssrcs
    }

    pub fn receiver(&self, ssrc: u32) -> Option<&StreamIn> {
        self.receivers.get(&ssrc)
    }

    pub fn add_sender(&mut self, mid: &str, ssrc: u32) {
        self.senders.insert(ssrc, StreamOut { mid: mid.to_owned(), ..StreamOut::default() });
    }

    pub fn remove_sender(&mut self, ssrc: u32) {
        self.senders.remove(&ssrc);
    }

    pub fn sender(&self, ssrc: u32) -> Option<&StreamOut> {
        self.senders.get(&ssrc)
    }

    /// The streams sent, by SSRC, in SSRC order.
    pub fn senders(&self) -> Vec<(u32, &StreamOut)> {
        let mut senders: Vec<_> = self.senders.iter().map(|(ssrc, sender)| (*ssrc, sender)).collect();
        senders.sort_by_key(|(ssrc, _)| *ssrc);
        senders
    }

    /// Whether some stream has sent a packet.
    pub fn any_sent(&self) -> bool {
        self.senders.values().any(|sender| sender.last_sent.is_some())
    }

    /// Reads a packet of one of its receivers; why it is none otherwise.
    pub fn read(&mut self, packet: &[u8], now: Instant) -> Result<(Rc<str>, ReceivedRtp), String> {
        let fields = read_rtp(packet).map_err(|reason| format!("not an RTP packet: {reason}"))?;
        let Some(stream) = self.receivers.get_mut(&fields.ssrc) else {
            return Err(format!("ssrc {} is no stream of this transport", fields.ssrc));
        };
        let mut extensions = ExtensionValues::default();
        if stream.audio_level_id.is_some() || stream.descriptor_id.is_some() {
            for_each_extension(packet, |id, value| {
                if Some(id) == stream.audio_level_id {
                    extensions.audio_level = value.first().map(|byte| -((byte & 0x7f) as i8));
                } else if Some(id) == stream.descriptor_id && value.len() >= 3 {
                    // A descriptor is 3 bytes at least (what str0m reads too).
                    extensions.user_values.set(DescriptorBytes(Arc::from(value)));
                }
            });
        }
        let audio_level = extensions.audio_level;
        let payload: Arc<[u8]> = Arc::from(&packet[fields.payload.clone()]);
        stream.packets += 1;
        stream.bytes += packet.len() as u64;
        let received = ReceivedRtp {
            incoming: IncomingRtp {
                ssrc: fields.ssrc,
                sequence_number: stream.sequence.extend(fields.sequence_number),
                timestamp: fields.timestamp,
                marker: fields.marker,
                payload_len: payload.len(),
                arrival: now,
                audio_level,
            },
            payload_type: fields.payload_type,
            payload,
            extensions,
        };
        Ok((stream.receiver.clone(), received))
    }

    /// Writes a forwarded packet of one of its senders: its bytes, to be
    /// counted with [`Self::count_sent`] or [`Self::count_dropped`]; None
    /// if the SSRC is no sender of it.
    pub fn write(&mut self, rtp: &OutgoingRtp, packet: &ReceivedRtp, readable: ReadableExtensions) -> Option<&[u8]> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let written = self.write_into(rtp, packet, readable, &mut scratch);
        self.scratch = scratch;
        written.then_some(&self.scratch[..])
    }

    /// [`Self::write`], appending the packet to `out` (a datagram's own
    /// buffer: no copy between); false if the SSRC is no sender of it.
    pub fn write_into(&mut self, rtp: &OutgoingRtp, packet: &ReceivedRtp, readable: ReadableExtensions, out: &mut Vec<u8>) -> bool {
        if !self.senders.contains_key(&rtp.ssrc) {
            return false;
        }
        let level = packet.extensions.audio_level.filter(|_| readable.audio_level).map(|level| {
            let voiced = if packet.extensions.voice_activity == Some(true) { 0x80 } else { 0 };
            voiced | (level.unsigned_abs() & 0x7f)
        });
        let orientation = packet.extensions.video_orientation.filter(|_| readable.video_orientation).map(|orientation| orientation as u8);
        let mut extensions: Vec<(u8, &[u8])> = Vec::new();
        let level_byte = level.map(|byte| [byte]);
        let orientation_byte = orientation.map(|byte| [byte]);
        if let (Some(id), Some(byte)) = (self.audio_level_id, &level_byte) {
            extensions.push((id, byte));
        }
        if let (Some(id), Some(byte)) = (self.video_orientation_id, &orientation_byte) {
            extensions.push((id, byte));
        }
        // The flag first: the lookup costs a hash.
        let descriptor = self.descriptor_id.filter(|_| readable.dependency_descriptor).zip(packet.extensions.user_values.get::<DescriptorBytes>());
        if let Some((id, DescriptorBytes(bytes))) = descriptor {
            extensions.push((id, bytes));
        }
        let fields = RtpFields {
            ssrc: rtp.ssrc,
            payload_type: rtp.payload_type,
            sequence_number: rtp.sequence_number as u16,
            timestamp: rtp.timestamp,
            marker: rtp.marker,
            payload: 0..0,
        };
        write_rtp(&fields, &extensions, &rtp.payload(&packet.payload), out);
        true
    }

    /// The packet of `length` bytes written for `rtp` left at `now`.
    pub fn count_sent(&mut self, rtp: &OutgoingRtp, length: usize, now: Instant) {
        if let Some(sender) = self.senders.get_mut(&rtp.ssrc) {
            sender.packets += 1;
            sender.bytes += length as u64;
            sender.last_sent = Some((rtp.timestamp, rtp.payload_type, now));
        }
    }

    /// The packet [`Self::write`] wrote for `rtp` did not leave.
    pub fn count_dropped(&mut self, rtp: &OutgoingRtp) {
        if let Some(sender) = self.senders.get_mut(&rtp.ssrc) {
            sender.dropped += 1;
        }
    }

    /// The streams received and sent, for a transport's dump.
    pub fn dump(&self) -> (Vec<Value>, Vec<Value>) {
        let mut receivers: Vec<Value> = self
            .receivers
            .iter()
            .map(|(ssrc, stream)| json!({"rtpReceiverId": &*stream.receiver, "mid": stream.mid, "ssrc": ssrc}))
            .collect();
        receivers.sort_by_key(|entry| entry["ssrc"].as_u64());
        let senders = self.senders().into_iter().map(|(ssrc, sender)| json!({"mid": sender.mid, "ssrc": ssrc})).collect();
        (receivers, senders)
    }

    /// A stats entry per stream sent, of type `kind` ("direct-outbound").
    pub fn outbound_stats(&self, kind: &str, now_ms: u64) -> impl Iterator<Item = Value> + '_ {
        let kind = kind.to_owned();
        self.senders().into_iter().map(move |(ssrc, sender)| {
            json!({
                "type": kind,
                "timestamp": now_ms,
                "mid": sender.mid,
                "ssrc": ssrc,
                "packetsSent": sender.packets,
                "bytesSent": sender.bytes,
                "packetsDropped": sender.dropped,
            })
        })
    }
}

#[cfg(test)]
#[path = "rtp_streams_tests.rs"]
mod tests;
