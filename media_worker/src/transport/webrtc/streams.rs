//! The RTP streams of a WebRTC transport: those it receives (declared to
//! str0m by mid and SSRC, or learnt by rid), those it sends, the header
//! extensions that travel with forwarded packets, keyframe requests both
//! ways, and REMB to publishers under `setMaxBitrate`.

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use str0m::bwe::Bitrate;
use str0m::media::{Direction, KeyframeRequestKind, Mid, Pt, Rid};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, SeqNo, Ssrc, UserExtensionValues};

use crate::error::WorkerError;
use crate::rtp::capabilities::MediaKind;
use crate::rtp::codec_table::{str0m_extension, SendTables};
use crate::rtp::codecs::dependency_descriptor::{self, DescriptorBytes};
use crate::rtp::packet::{IncomingRtp, OutgoingRtp, ReadableExtensions, ReceivedRtp};
use crate::rtp::parameters::ReceiveParameters;
use crate::rtp::stream_ids::{rtp_ssrc, StreamIdExtensions};
use super::WebRtcTransport;
use crate::transport::KeyframeRequested;
use super::dtls::DtlsState;

const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// How often a REMB carrying `setMaxBitrate`'s limit is repeated to publishers.
pub(super) const REMB_INTERVAL: Duration = Duration::from_secs(1);


/// The largest payload forwarded to a WebRTC endpoint. str0m writes a
/// packet into a 2,000-byte buffer: with its header (12 bytes, at most ~100
/// of extensions, a dependency descriptor of at most 255) and RTX's 2 bytes,
/// 1,600 always fits. A browser's packets stay under 1,200; a plain or
/// direct transport's publisher may send up to 4,096 or 65,535 bytes, and
/// what is over this is not forwarded to WebRTC subscribers.
pub const MAX_SENT_PAYLOAD: usize = 1_600;
/// The extensions of a received packet that its forwarded copy carries.
/// A packet str0m received, as the router takes it.
pub(super) fn received_rtp(packet: RtpPacket) -> ReceivedRtp {
    ReceivedRtp {
        incoming: IncomingRtp {
            ssrc: *packet.header.ssrc,
            sequence_number: *packet.seq_no,
            timestamp: packet.header.timestamp,
            marker: packet.header.marker,
            payload_len: packet.payload.len(),
            arrival: packet.timestamp,
            audio_level: packet.header.ext_vals.audio_level,
        },
        payload_type: *packet.header.payload_type,
        payload: packet.payload,
        extensions: packet.header.ext_vals,
    }
}

/// Drops what a sending stream holds unsent (its pacer's queue, pending
/// resends, its retransmission buffer). str0m does so when its media stops
/// sending: the media's direction goes to receive-only and back (a change
/// no SDP follows; the receiving side of a shared mid is untouched).
fn drop_queued(rtc: &mut str0m::Rtc, ssrc: u32) {
    let Some(mid) = rtc.direct_api().stream_tx(&Ssrc::from(ssrc)).map(|stream| stream.mid()) else { return };
    let Some(direction) = rtc.media(mid).map(|media| media.direction()) else { return };
    if !direction.is_sending() {
        return;
    }
    let mut changes = rtc.sdp_api();
    changes.set_direction(mid, if direction.is_receiving() { Direction::RecvOnly } else { Direction::Inactive });
    changes.set_direction(mid, direction);
}

pub(super) fn forwarded_extensions(readable: ReadableExtensions, received: &ExtensionValues) -> ExtensionValues {
    let mut user_values = UserExtensionValues::default();
    // The flag first: the lookup costs a hash and an Arc clone per subscriber.
    if readable.dependency_descriptor {
        if let Some(descriptor) = received.user_values.get_arc::<DescriptorBytes>() {
            user_values.set_arc(descriptor);
        }
    }
    ExtensionValues {
        user_values,
        audio_level: received.audio_level.filter(|_| readable.audio_level),
        voice_activity: received.voice_activity.filter(|_| readable.audio_level),
        video_orientation: received.video_orientation.filter(|_| readable.video_orientation),
        abs_capture_time: received.abs_capture_time.filter(|_| readable.abs_capture_time),
        play_delay_min: received.play_delay_min.filter(|_| readable.playout_delay),
        play_delay_max: received.play_delay_max.filter(|_| readable.playout_delay),
        ..ExtensionValues::default()
    }
}

impl WebRtcTransport {
    /// Starts receiving a published stream: its mid and encodings are
    /// declared to str0m. Answers the mid it is received under, and which of
    /// its header extensions this transport reads.
    pub fn add_receiver(&mut self, receiver_id: &str, kind: MediaKind, parameters: &ReceiveParameters, now: Instant) -> Result<(String, ReadableExtensions), WorkerError> {
        self.check_alive()?;
        let mid = match &parameters.mid {
            Some(mid) => mid.clone(),
            None => (0..).map(|index| format!("r{index}")).find(|mid| !self.receiver_mids.contains_key(mid)).unwrap_or_default(),
        };
        if mid.len() > 16 {
            return Err(WorkerError::value_error(format!("rtpParameters.mid '{mid}' is longer than 16 bytes")));
        }
        if self.receiver_mids.contains_key(&mid) {
            return Err(WorkerError::value_error(format!("rtpParameters.mid '{mid}' is used by another stream of this transport")));
        }
        // A mid a sender of the same kind uses: an SDP section that is sendrecv.
        let shared = self.sender_mids.contains(&mid);
        for ssrc in parameters.encodings.iter().flat_map(|e| e.ssrc.into_iter().chain(e.rtx_ssrc)) {
            if self.receiver_ssrcs.contains_key(&ssrc) {
                return Err(WorkerError::value_error(format!("ssrc {ssrc} is used by another stream of this transport")));
            }
        }
        let str0m_kind = match kind {
            MediaKind::Audio => str0m::media::MediaKind::Audio,
            MediaKind::Video => str0m::media::MediaKind::Video,
        };
        let encodings = parameters.encodings.clone();
        let declared_mid = Mid::from(mid.as_str());
        if shared && self.rtc.media(declared_mid).map(|media| media.kind()) != Some(str0m_kind) {
            return Err(WorkerError::value_error(format!(
                "rtpParameters.mid '{mid}' is a stream of another kind than {} that this transport sends",
                kind.as_str()
            )));
        }
        self.with_rtc(|rtc| {
            let mut api = rtc.direct_api();
            // A shared mid is declared already; its rids stay any (str0m's default).
            if !shared {
                let media = api.declare_media(declared_mid, str0m_kind);
                for rid in encodings.iter().filter_map(|e| e.rid.as_deref()) {
                    media.expect_rid_rx(Rid::from(rid));
                }
            }
            for encoding in &encodings {
                let Some(ssrc) = encoding.ssrc else { continue };
                let rid = encoding.rid.as_deref().map(Rid::from);
                let stream = api.expect_stream_rx(Ssrc::from(ssrc), encoding.rtx_ssrc.map(Ssrc::from), declared_mid, rid);
                // Audio is not retransmitted: no NACK timer for it.
                stream.suppress_nack(kind == MediaKind::Audio);
            }
            Ok(())
        })
        .map_err(WorkerError::internal)?;
        let shared_id: Rc<str> = Rc::from(receiver_id);
        self.receiver_mids.insert(mid.clone(), shared_id.clone());
        for ssrc in parameters.encodings.iter().flat_map(|e| e.ssrc.into_iter().chain(e.rtx_ssrc)) {
            self.receiver_ssrcs.insert(ssrc, shared_id.clone());
        }
        let rid_only = parameters.encodings.iter().filter(|e| e.ssrc.is_none()).filter_map(|e| e.rid.clone());
        let ids = StreamIdExtensions::of_parameters(&parameters.normalised["headerExtensions"]);
        self.rid_layers.add(shared_id.clone(), &mid, rid_only, ids);
        self.drain(now);
        let mut readable = self.readable_extensions(kind, &parameters.normalised["headerExtensions"]);
        readable.dependency_descriptor &= parameters.forwards_descriptor();
        let level_id = parameters.extension_id(AUDIO_LEVEL_URI);
        if let (MediaKind::Audio, false, Some(id)) = (kind, readable.audio_level, level_id) {
            for ssrc in parameters.encodings.iter().filter_map(|encoding| encoding.ssrc) {
                self.raw_audio_levels.insert(ssrc, id);
            }
            // Read from the datagram, it is right: forwarded copies carry it.
            readable.audio_level = true;
        }
        Ok((mid, readable))
    }

    /// The extensions of a publisher's parameters that str0m reads right:
    /// those it writes at the id this transport's map gives them. Clients
    /// write at their own ids (aiortc: audio level and abs-send-time both at
    /// 2), and str0m's map is fixed when the transport is built; an extension
    /// at another id is not forwarded rather than forwarded wrong.
    pub(super) fn readable_extensions(&self, kind: MediaKind, extensions: &Value) -> ReadableExtensions {
        let reads = |uri: &str| {
            extensions.as_array().into_iter().flatten().any(|extension| {
                extension["uri"].as_str() == Some(uri)
                    && str0m_extension(uri)
                        .and_then(|known| self.send_tables.extensions.id_of(known))
                        .is_some_and(|id| extension["id"].as_u64() == Some(u64::from(id)))
            })
        };
        let readable = ReadableExtensions {
            audio_level: kind == MediaKind::Audio && reads(AUDIO_LEVEL_URI),
            video_orientation: kind == MediaKind::Video && reads("urn:3gpp:video-orientation"),
            abs_capture_time: reads("http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time"),
            playout_delay: kind == MediaKind::Video && reads("http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"),
            dependency_descriptor: kind == MediaKind::Video && reads(dependency_descriptor::URI),
        };
        tracing::debug!("transport {}: a {} stream whose forwarded extensions are {readable:?}", self.id, kind.as_str());
        readable
    }

    /// The payload types and header-extension ids senders write on this transport.
    pub fn send_tables(&self) -> &SendTables {
        &self.send_tables
    }

    /// The header extensions of this transport, as `{'uri', 'id'}`.
    pub fn header_extensions(&self) -> Value {
        Value::Array(self.send_tables.extensions.iter().map(|(id, extension)| json!({"uri": extension.as_uri(), "id": id})).collect())
    }

    /// Stops receiving the stream of `receiver_id`.
    pub fn remove_receiver(&mut self, receiver_id: &str, now: Instant) {
        let mids: Vec<String> = self.receiver_mids.iter().filter(|(_, id)| &***id == receiver_id).map(|(mid, _)| mid.clone()).collect();
        let ssrcs: Vec<u32> = self.receiver_ssrcs.iter().filter(|(_, id)| &***id == receiver_id).map(|(ssrc, _)| *ssrc).collect();
        // A mid a sender shares (sendrecv) stays declared for it.
        let sender_mids = self.sender_mids.clone();
        let _ = self.with_rtc(|rtc| {
            let mut api = rtc.direct_api();
            for ssrc in &ssrcs {
                api.remove_stream_rx(Ssrc::from(*ssrc));
            }
            for mid in mids.iter().filter(|mid| !sender_mids.contains(mid)) {
                api.remove_media(Mid::from(mid.as_str()));
            }
            Ok(())
        });
        let removed = &mut self.removed_streams;
        self.ingress_counters.retain(|(mid, _), counters| {
            let keep = !mids.contains(mid);
            if !keep {
                removed.add_ingress(counters);
            }
            keep
        });
        for ssrc in &ssrcs {
            self.raw_audio_levels.remove(ssrc);
        }
        self.receiver_mids.retain(|_, id| &**id != receiver_id);
        self.receiver_ssrcs.retain(|_, id| &**id != receiver_id);
        self.rid_layers.remove(receiver_id);
        self.received.retain(|(id, _)| &**id != receiver_id);
        self.drain(now);
    }

    /// Declares a stream this transport sends (an RtpSender's) under `mid`:
    /// a mid of its own, or the mid of a stream of the same kind this
    /// transport receives (an SDP section that is `sendrecv`).
    pub fn add_sender(&mut self, mid: &str, kind: MediaKind, ssrc: u32, rtx_ssrc: Option<u32>, now: Instant) -> Result<(), WorkerError> {
        self.check_alive()?;
        if mid.is_empty() || mid.len() > 16 {
            return Err(WorkerError::value_error(format!("mid '{mid}' must be 1 to 16 bytes")));
        }
        if self.sender_mids.iter().any(|other| other == mid) {
            return Err(WorkerError::value_error(format!("mid '{mid}' is used by another stream transport {} sends", self.id)));
        }
        let str0m_kind = match kind {
            MediaKind::Audio => str0m::media::MediaKind::Audio,
            MediaKind::Video => str0m::media::MediaKind::Video,
        };
        let declared_mid = Mid::from(mid);
        let shared = self.receiver_mids.contains_key(mid);
        if shared && self.rtc.media(declared_mid).map(|media| media.kind()) != Some(str0m_kind) {
            return Err(WorkerError::value_error(format!("mid '{mid}' is a stream of another kind than {} that transport {} receives", kind.as_str(), self.id)));
        }
        self.with_rtc(|rtc| {
            let mut api = rtc.direct_api();
            if !shared {
                api.declare_media(declared_mid, str0m_kind);
            }
            api.declare_stream_tx(Ssrc::from(ssrc), rtx_ssrc.map(Ssrc::from), declared_mid, None);
            Ok(())
        })
        .map_err(WorkerError::internal)?;
        self.sender_mids.push(mid.to_owned());
        self.drain(now);
        Ok(())
    }

    pub fn remove_sender(&mut self, mid: &str, ssrc: u32, now: Instant) {
        let shared = self.receiver_mids.contains_key(mid);
        let _ = self.with_rtc(|rtc| {
            let mut api = rtc.direct_api();
            api.remove_stream_tx(Ssrc::from(ssrc));
            if !shared {
                api.remove_media(Mid::from(mid));
            }
            Ok(())
        });
        self.sender_mids.retain(|other| other != mid);
        if let Some(counters) = self.egress_counters.remove(mid) {
            self.removed_streams.add_egress(&counters);
        }
        self.drain(now);
    }

    /// Whether media written now leaves (DTLS connected, not ended).
    pub fn can_send_media(&self) -> bool {
        self.ended.is_none() && self.dtls_state == DtlsState::Connected
    }

    /// Writes one forwarded packet on a declared sending stream.
    /// The header extensions the publisher set that travel with the media
    /// (audio level, orientation, playout delay, capture time…) are written
    /// at this transport's ids; str0m adds the mid, abs-send-time and the
    /// transport-wide sequence number of its own.
    pub fn send_rtp(&mut self, rtp: &OutgoingRtp, packet: &ReceivedRtp, readable: ReadableExtensions, now: Instant) {
        if !self.can_send_media() {
            return;
        }
        let payload = rtp.payload(&packet.payload);
        if payload.len() > MAX_SENT_PAYLOAD {
            // str0m would panic copying it into its packet buffer (found by
            // fuzzing: a plain publisher's 2,710-byte payload ended every
            // WebRTC subscriber's transport). Its number stays a gap: the
            // subscriber sees a packet lost and asks for a keyframe, where
            // a skipped number would hand its decoder a frame missing a piece.
            tracing::debug!("transport {}: a payload of {} bytes is over {MAX_SENT_PAYLOAD}: not forwarded", self.id, payload.len());
            return;
        }
        let ext_vals = forwarded_extensions(readable, &packet.extensions);
        let _ = self.with_rtc(|rtc| {
            if rtp.drops_queued {
                drop_queued(rtc, rtp.ssrc);
            }
            let mut api = rtc.direct_api();
            if let Some(stream) = api.stream_tx(&Ssrc::from(rtp.ssrc)) {
                let write = RtpWrite::new(Pt::from(rtp.payload_type), SeqNo::from(rtp.sequence_number), rtp.timestamp, now, payload)
                    .marker(rtp.marker)
                    .ext_vals(ext_vals)
                    .nackable(rtp.nackable);
                stream.write_rtp(write);
            }
            Ok(())
        });
    }

    /// Asks the publisher of the stream on `ssrc` for a keyframe (PLI).
    /// Before SRTP is up str0m would drop the PLI: it waits for DTLS to connect.
    pub fn request_keyframe(&mut self, ssrc: u32, now: Instant) {
        if !self.can_send_media() {
            if !self.pending_keyframes.contains(&ssrc) {
                self.pending_keyframes.push(ssrc);
            }
            return;
        }
        let _ = self.with_rtc(|rtc| {
            if let Some(stream) = rtc.direct_api().stream_rx(&Ssrc::from(ssrc)) {
                stream.request_keyframe(KeyframeRequestKind::Pli);
            }
            Ok(())
        });
        self.drain(now);
    }

    /// Whether DTLS connected since the last call: the packets forwarded
    /// before were dropped, so its subscriptions need a keyframe.
    pub fn take_just_connected(&mut self) -> bool {
        std::mem::take(&mut self.just_connected)
    }

    /// The keyframes the subscriber asked for, of the streams it sends.
    pub fn take_keyframe_requests(&mut self) -> Vec<KeyframeRequested> {
        std::mem::take(&mut self.keyframe_requests)
    }

    /// Moves the RTP received since the last call, each with its receiver's
    /// id, to the end of `into` (both keep their capacity: no allocation
    /// per packet once warm).
    pub fn drain_rtp(&mut self, into: &mut Vec<(Rc<str>, ReceivedRtp)>) {
        into.append(&mut self.received);
    }

    /// The SSRC of a simulcast layer named by rid alone, read at the
    /// publisher's own extension ids (str0m's map may hold others), is
    /// declared to str0m before the packet that names it is handled.
    pub(super) fn learn_rid_layer(&mut self, packet: &[u8]) {
        if rtp_ssrc(packet).is_none_or(|ssrc| self.receiver_ssrcs.contains_key(&ssrc)) {
            return;
        }
        let Some(learnt) = self.rid_layers.learn(packet) else { return };
        tracing::debug!("transport {}: ssrc {} is layer {} of mid {}", self.id, learnt.new_ssrc, learnt.rid, learnt.mid);
        let declared = self.with_rtc(|rtc| {
            let mid = Mid::from(learnt.mid.as_str());
            let rid = Some(Rid::from(learnt.rid.as_str()));
            rtc.direct_api().expect_stream_rx(Ssrc::from(learnt.ssrc), learnt.rtx_ssrc.map(Ssrc::from), mid, rid);
            Ok(())
        });
        if declared.is_ok() {
            if learnt.new_ssrc == learnt.ssrc {
                self.learnt_layers.push((learnt.receiver.clone(), learnt.ssrc, learnt.rid));
            }
            self.receiver_ssrcs.insert(learnt.new_ssrc, learnt.receiver);
        }
    }

    /// The bandwidth estimate toward the endpoint, if a new one came since
    /// the last call or a second passed (see [`BandwidthEstimate::take`]).
    pub fn take_bandwidth_estimate(&mut self, now: Instant) -> Option<u64> {
        self.bandwidth.take(now)
    }

    /// `minimum`: the bitrate to keep sending, padding what media does not
    /// fill (up to the estimate), so that the estimate can grow to the next
    /// layer once the link allows; `wanted`: what the transport's senders
    /// would take at their best, which str0m probes toward (padding on RTX)
    /// while the estimate is below. An estimate that has stopped moving
    /// below `wanted` starts over (see [`super::bandwidth`]).
    pub fn want_bandwidth(&mut self, minimum: u64, wanted: u64, now: Instant) {
        let restart = self.bandwidth.restart_due(wanted, now);
        if !self.bandwidth.wants(minimum, wanted) && restart.is_none() {
            return;
        }
        if let Some(estimate) = restart {
            tracing::debug!("transport {}: the bandwidth estimate has stayed at {estimate} bit/s: estimating again from it", self.id);
        }
        let _ = self.with_rtc(|rtc| {
            if let Some(estimate) = restart {
                rtc.bwe().reset(Bitrate::bps(estimate));
            }
            rtc.bwe().set_bitrate(Bitrate::bps(minimum), Bitrate::bps(wanted));
            Ok(())
        });
        self.drain(now);
    }

    /// The layers learnt since the last call: (receiver id, SSRC, rid).
    pub fn take_learnt_layers(&mut self) -> Vec<(Rc<str>, u32, String)> {
        std::mem::take(&mut self.learnt_layers)
    }

    /// Caps what the peer's publishers send: a REMB with `bitrate` goes to
    /// each of them now and every second (goog-remb senders such as aiortc
    /// follow it; transport-cc senders get str0m's feedback as well).
    pub fn set_max_bitrate(&mut self, bitrate: u64, now: Instant) {
        self.max_bitrate = Some(bitrate);
        self.send_remb(now);
    }

    pub(super) fn send_remb(&mut self, now: Instant) {
        let Some(bitrate) = self.max_bitrate else { return };
        if !self.can_send_media() {
            return;
        }
        let ssrcs: Vec<u32> = self.receiver_ssrcs.keys().copied().collect();
        self.remb_sent_at = Some(now);
        let _ = self.with_rtc(|rtc| {
            let mut api = rtc.direct_api();
            for ssrc in ssrcs {
                if let Some(stream) = api.stream_rx(&Ssrc::from(ssrc)) {
                    stream.request_remb(str0m::bwe::Bitrate::bps(bitrate));
                }
            }
            Ok(())
        });
        self.drain(now);
    }
}

