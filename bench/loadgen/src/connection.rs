//! One WebRTC client: its str0m `Rtc` built from a `connect` command, what a
//! publisher sends and what a subscriber counts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::channel::{ChannelConfig, ChannelId};
use str0m::{Candidate, Rtc, RtcConfig};
use str0m::config::DtlsCert;
use str0m::format::{Codec, CodecConfig, FormatParams};
use str0m::media::{Frequency, MediaKind, Mid, Pt, Rid};
use str0m::net::Protocol;
use str0m::rtp::{Extension, ExtensionMap, Ssrc};

use crate::payload::{AUDIO_INTERVAL, AudioSource, CLIP_FRAME_INTERVAL, Clip, ClipAudioSource, ClipVideoSource, Packet, VIDEO_PACKET_INTERVAL, VideoSource};
use crate::protocol::Connect;
use crate::stats::Seen;

/// Where a publisher's packets come from.
pub(crate) enum Source {
    Video(VideoSource),
    Audio(AudioSource),
    ClipVideo(ClipVideoSource),
    ClipAudio(ClipAudioSource),
}

impl Source {
    pub(crate) fn interval(&self) -> Duration {
        match self {
            Source::Video(_) => VIDEO_PACKET_INTERVAL,
            Source::Audio(_) | Source::ClipAudio(_) => AUDIO_INTERVAL,
            Source::ClipVideo(_) => CLIP_FRAME_INTERVAL,
        }
    }

    /// The packets due at one interval: a packet, or a clip's frame.
    pub(crate) fn next(&mut self, sent_ns: u64) -> Vec<Packet> {
        match self {
            Source::Video(source) => vec![source.next_packet(sent_ns)],
            Source::Audio(source) => vec![source.next_packet(sent_ns)],
            Source::ClipVideo(source) => source.next_frame(),
            Source::ClipAudio(source) => vec![source.next_packet()],
        }
    }
}

/// What a publisher sends on one stream.
pub(crate) struct Outgoing {
    pub(crate) ssrc: u32,
    pub(crate) pt: u8,
    pub(crate) video: bool,
    pub(crate) next_at: Instant,
    pub(crate) source: Source,
    pub(crate) sequence: u64,
    /// What it sends counts as sent (see `StreamSpec::counted`).
    pub(crate) counted: bool,
}

/// A data channel: a publisher's messages out, anyone's in.
pub(crate) struct DataFlow {
    pub(crate) channel: ChannelId,
    pub(crate) open: bool,
    /// None: it only receives.
    pub(crate) interval: Option<Duration>,
    pub(crate) size: usize,
    pub(crate) next_at: Instant,
    pub(crate) sequence: u64,
    pub(crate) seen: Seen,
}

/// What a subscriber counts on one stream kind.
#[derive(Default)]
pub(crate) struct Incoming {
    pub(crate) seen: Seen,
}

pub(crate) struct Connection {
    pub(crate) id: String,
    pub(crate) rtc: Rtc,
    pub(crate) server: SocketAddr,
    /// Its socket, in its thread's list (0: the thread's own).
    pub(crate) socket: usize,
    pub(crate) started: Instant,
    pub(crate) connected: bool,
    /// The earliest timeout in the thread's heap for this connection.
    pub(crate) scheduled: Option<Instant>,
    pub(crate) outgoing: Vec<Outgoing>,
    pub(crate) video: Incoming,
    pub(crate) audio: Incoming,
    /// The video stream's SSRC (a subscriber's).
    pub(crate) video_ssrc: Option<u32>,
    /// Counts clip frames rather than trailers.
    pub(crate) frames: bool,
    pub(crate) data: Option<DataFlow>,
}

pub(crate) fn extension_of(uri: &str) -> Option<Extension> {
    Some(match uri {
        "urn:ietf:params:rtp-hdrext:sdes:mid" => Extension::RtpMid,
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time" => Extension::AbsoluteSendTime,
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01" => {
            Extension::TransportSequenceNumber
        }
        "urn:ietf:params:rtp-hdrext:ssrc-audio-level" => Extension::AudioLevel,
        _ => return None,
    })
}

pub(crate) fn build_connection(
    connect: &Connect,
    certificate: &DtlsCert,
    local: SocketAddr,
    now: Instant,
) -> Result<Connection, String> {
    let mut codecs = CodecConfig::empty();
    for codec in &connect.codecs {
        let name = connect_codec_name(&codec.mime);
        let clock = Frequency::new(codec.clock)
            .ok_or_else(|| format!("clock rate {} refused", codec.clock))?;
        codecs.add_config(
            Pt::from(codec.pt),
            codec.rtx.map(Pt::from),
            name,
            clock,
            codec.channels,
            FormatParams::default(),
        );
    }
    let mut extensions = ExtensionMap::empty();
    for (id, uri) in &connect.extensions {
        if let Some(extension) = extension_of(uri) {
            extensions.set(*id, extension);
        }
    }
    let mut config = RtcConfig::new()
        .set_rtp_mode(true)
        .set_dtls_cert(certificate.clone())
        .set_extension_map(extensions);
    *config.codec_config() = codecs;
    let mut rtc = config.build(now);
    let local_candidate = Candidate::host(local, Protocol::Udp).map_err(|err| err.to_string())?;
    rtc.add_local_candidate(local_candidate);
    let remote =
        Candidate::host(connect.server.address, Protocol::Udp).map_err(|err| err.to_string())?;
    rtc.add_remote_candidate(remote);
    let clip = match &connect.clip {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|err| format!("clip {path}: {err}"))?;
            Some(Arc::new(Clip::parse(&bytes)?))
        }
        None => None,
    };
    let mut outgoing = Vec::new();
    let mut video_ssrc = None;
    let mut data = None;
    {
        let mut api = rtc.direct_api();
        api.set_ice_controlling(connect.ice_controlling.unwrap_or(true));
        if let Some(local) = &connect.local {
            api.set_local_ice_credentials(str0m::IceCreds {
                ufrag: local.ufrag.clone(),
                pass: local.pwd.clone(),
            });
        }
        api.set_remote_ice_credentials(str0m::IceCreds {
            ufrag: connect.server.ufrag.clone(),
            pass: connect.server.pwd.clone(),
        });
        api.set_remote_fingerprint(
            connect
                .server
                .fingerprint
                .parse()
                .map_err(|_| "bad server fingerprint".to_owned())?,
        );
        api.start_dtls(connect.dtls_client)
            .map_err(|err| err.to_string())?;
        // As a browser does: transport-cc feedback for what arrives with a
        // transport-wide sequence number (the SFU's bandwidth estimate).
        if connect.extensions.iter().any(|(_, uri)| matches!(extension_of(uri), Some(Extension::TransportSequenceNumber))) {
            api.enable_twcc_feedback();
        }
        if let Some(spec) = &connect.data {
            api.start_sctp(spec.sctp_client.unwrap_or(connect.dtls_client));
            let channel = api.create_data_channel(ChannelConfig { label: spec.label.clone(), ..ChannelConfig::default() });
            let interval = (connect.role == "publisher" && spec.rate > 0).then(|| Duration::from_secs(1) / spec.rate);
            data = Some(DataFlow { channel, open: false, interval, size: spec.size.max(16), next_at: now, sequence: 0, seen: Seen::default() });
        }
        let mut declared: Vec<Mid> = Vec::new();
        for stream in &connect.streams {
            let mid = Mid::from(stream.mid.as_str());
            let kind = if stream.kind == "video" {
                MediaKind::Video
            } else {
                MediaKind::Audio
            };
            // Simulcast: several streams of one mid.
            if !declared.contains(&mid) {
                api.declare_media(mid, kind);
                declared.push(mid);
            }
            if connect.role == "publisher" {
                // str0m keys its send queues by (mid, rid) and finds a queue's
                // stream by a match where no rid matches any rid: every
                // stream of one mid needs a rid of its own, or its pacer may
                // pick a queue whose stream it never finds, and the thread
                // spins (as it did, at random, with the top layer rid-less).
                api.declare_stream_tx(
                    Ssrc::from(stream.ssrc),
                    stream.rtx.map(Ssrc::from),
                    mid,
                    stream.rid.as_deref().map(Rid::from),
                );
                let pt = stream.pt.ok_or("a published stream needs its pt")?;
                let source = match (&clip, kind) {
                    (None, MediaKind::Video) => Source::Video(VideoSource::default()),
                    (None, MediaKind::Audio) => Source::Audio(AudioSource::default()),
                    (Some(clip), MediaKind::Video) => {
                        Source::ClipVideo(ClipVideoSource::new(clip.clone()))
                    }
                    (Some(clip), MediaKind::Audio) => {
                        Source::ClipAudio(ClipAudioSource::new(clip.clone()))
                    }
                };
                outgoing.push(Outgoing {
                    ssrc: stream.ssrc,
                    pt,
                    video: kind == MediaKind::Video,
                    next_at: now + source.interval(),
                    source,
                    sequence: 1,
                    counted: stream.counted,
                });
            } else {
                if kind == MediaKind::Video {
                    video_ssrc = Some(stream.ssrc);
                }
                let rx = api.expect_stream_rx(
                    Ssrc::from(stream.ssrc),
                    stream.rtx.map(Ssrc::from),
                    mid,
                    None,
                );
                rx.suppress_nack(kind == MediaKind::Audio);
            }
        }
    }
    Ok(Connection {
        id: connect.id.clone(),
        rtc,
        server: connect.server.address,
        socket: 0,
        started: now,
        connected: false,
        scheduled: None,
        outgoing,
        video: Incoming::default(),
        audio: Incoming::default(),
        video_ssrc,
        frames: connect.frames,
        data,
    })
}

pub(crate) fn connect_codec_name(mime: &str) -> Codec {
    Codec::from(mime.split_once('/').map(|(_, name)| name).unwrap_or(mime))
}
