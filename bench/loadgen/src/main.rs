//! The forwarding benchmark's load generator: many WebRTC clients (str0m,
//! RTP mode: real ICE, DTLS and SRTP) in one process, a few threads, one
//! UDP socket per thread. Publishers send synthetic VP8 and Opus-sized
//! audio (`payload.rs`); subscribers count what arrives, its loss and its
//! latency (the send time travels in the payload; one host, one clock).
//!
//! A driver (bench/*.py) speaks to it in JSON lines on stdin/stdout:
//!
//! - out: `{"event": "ready", "fingerprint": "sha-256 …", "threads": n,
//!   "addresses": [each thread's socket]}` (every client uses this
//!   certificate; each is the DTLS server unless `"dtls_client": true`);
//! - in: `{"op": "connect", "id", "role": "publisher"|"subscriber",
//!   "server": {"address", "ufrag", "pwd", "fingerprint"}, optional
//!   "local": {"ufrag", "pwd"}, "dtls_client", "thread", "extensions":
//!   [[id, uri], …], "codecs": [{"pt", "rtx", "mime", "clock", "channels"}],
//!   "streams": [{"mid", "kind", "ssrc", "rtx"}], optional "ice_controlling"
//!   (default true), "clip": a file of real media for a publisher to send
//!   (bench/clip.py), "frames": true for a subscriber of such media (it
//!   counts video frames by RTP timestamp, audio packets by arrival)}` →
//!   out `{"event": "connected", "id", "ms"}` when DTLS is up (a publisher
//!   then sends);
//! - in: `{"op": "window", "open": true|false}`: what is sent while the
//!   window is open (from 100 ms after the command) is what loss and
//!   latency are measured on; opening it zeroes the counts;
//! - in: `{"op": "stats"}` → out `{"event": "stats", …}`;
//! - in: `{"op": "quit"}`.

mod payload;
mod stats;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};
use str0m::config::DtlsCert;
use str0m::format::{Codec, CodecConfig, FormatParams};
use str0m::media::{Frequency, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{Extension, ExtensionMap, RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

use payload::{
    AudioSource, Clip, ClipAudioSource, ClipVideoSource, Packet, VideoSource, AUDIO_INTERVAL,
    CLIP_FRAME_INTERVAL, VIDEO_PACKET_INTERVAL,
};
use stats::{Histogram, Seen};

/// When the process started: send times are nanoseconds since then.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos_since_epoch(at: Instant) -> u64 {
    at.saturating_duration_since(epoch()).as_nanos() as u64
}

/// How long after the "window open" command the window opens.
const WINDOW_DELAY: Duration = Duration::from_millis(100);

/// The measurement window, shared by every thread: packets sent while it
/// is open are counted (by publishers when sent, by subscribers when they
/// arrive, by their send time).
struct Window {
    open: AtomicBool,
    start_ns: AtomicU64,
    end_ns: AtomicU64,
    /// When each of the last `FRAME_SLOTS` clip frames was sent, by RTP
    /// timestamp: (timestamp, nanoseconds).
    frames: Vec<(AtomicU32, AtomicU64)>,
}

const FRAME_SLOTS: usize = 4096;
/// 90 kHz ticks per frame at 25 frames per second.
const TICKS_PER_FRAME: u32 = 3600;

impl Window {
    fn new() -> Self {
        let frames = (0..FRAME_SLOTS)
            .map(|_| (AtomicU32::new(0), AtomicU64::new(0)))
            .collect();
        Window {
            open: AtomicBool::new(false),
            start_ns: AtomicU64::new(0),
            end_ns: AtomicU64::new(0),
            frames,
        }
    }

    fn contains(&self, sent_ns: u64) -> bool {
        let start = self.start_ns.load(Ordering::Relaxed);
        let end = if self.open.load(Ordering::Relaxed) {
            u64::MAX
        } else {
            self.end_ns.load(Ordering::Relaxed)
        };
        start != 0 && sent_ns >= start && sent_ns <= end
    }

    fn frame_sent(&self, timestamp: u32, sent_ns: u64) {
        let (slot_timestamp, slot_sent) =
            &self.frames[(timestamp / TICKS_PER_FRAME) as usize % FRAME_SLOTS];
        slot_sent.store(sent_ns, Ordering::Relaxed);
        slot_timestamp.store(timestamp, Ordering::Release);
    }

    /// When the clip frame with this RTP timestamp was sent, if recently.
    fn frame_sent_at(&self, timestamp: u32) -> Option<u64> {
        let (slot_timestamp, slot_sent) =
            &self.frames[(timestamp / TICKS_PER_FRAME) as usize % FRAME_SLOTS];
        let sent_ns = slot_sent.load(Ordering::Relaxed);
        (slot_timestamp.load(Ordering::Acquire) == timestamp && sent_ns != 0).then_some(sent_ns)
    }
}

#[derive(Debug, Deserialize)]
struct ServerSide {
    address: SocketAddr,
    ufrag: String,
    pwd: String,
    fingerprint: String,
}

#[derive(Debug, Deserialize)]
struct CodecSpec {
    pt: u8,
    rtx: Option<u8>,
    mime: String,
    clock: u32,
    channels: Option<u8>,
}

#[derive(Debug, Deserialize)]
struct StreamSpec {
    mid: String,
    kind: String,
    ssrc: u32,
    rtx: Option<u32>,
    #[serde(default)]
    pt: Option<u8>,
}

/// ICE credentials of the client's own (an SDP offer or answer names them).
#[derive(Debug, Deserialize)]
struct LocalSide {
    ufrag: String,
    pwd: String,
}

#[derive(Debug, Deserialize)]
struct Connect {
    id: String,
    role: String,
    server: ServerSide,
    #[serde(default)]
    local: Option<LocalSide>,
    /// The client is the DTLS client (the server said `a=setup:passive`); else the DTLS server.
    #[serde(default)]
    dtls_client: bool,
    /// The thread (and so the socket) to use; else the next one in turn.
    #[serde(default)]
    thread: Option<usize>,
    #[serde(default)]
    extensions: Vec<(u8, String)>,
    codecs: Vec<CodecSpec>,
    streams: Vec<StreamSpec>,
    /// False when the other side is a full ICE agent that offered.
    #[serde(default)]
    ice_controlling: Option<bool>,
    /// A publisher sends this clip (real VP8 and Opus) instead of synthetic media.
    #[serde(default)]
    clip: Option<String>,
    /// A subscriber receives a clip's media (no trailer): it counts video
    /// frames by RTP timestamp and audio packets by arrival.
    #[serde(default)]
    frames: bool,
}

/// To a thread.
enum Command {
    Connect(Box<Connect>),
    Stats(Sender<Value>),
    /// Zero the counts: a window opens.
    Reset,
    Quit,
}

/// To the main thread, which writes stdout.
enum Message {
    Line(String),
    Out(Value),
    Eof,
}

/// Where a publisher's packets come from.
enum Source {
    Video(VideoSource),
    Audio(AudioSource),
    ClipVideo(ClipVideoSource),
    ClipAudio(ClipAudioSource),
}

impl Source {
    fn interval(&self) -> Duration {
        match self {
            Source::Video(_) => VIDEO_PACKET_INTERVAL,
            Source::Audio(_) | Source::ClipAudio(_) => AUDIO_INTERVAL,
            Source::ClipVideo(_) => CLIP_FRAME_INTERVAL,
        }
    }

    /// The packets due at one interval: a packet, or a clip's frame.
    fn next(&mut self, sent_ns: u64) -> Vec<Packet> {
        match self {
            Source::Video(source) => vec![source.next_packet(sent_ns)],
            Source::Audio(source) => vec![source.next_packet(sent_ns)],
            Source::ClipVideo(source) => source.next_frame(),
            Source::ClipAudio(source) => vec![source.next_packet()],
        }
    }
}

/// What a publisher sends on one stream.
struct Outgoing {
    ssrc: u32,
    pt: u8,
    video: bool,
    next_at: Instant,
    source: Source,
    sequence: u64,
}

/// What a subscriber counts on one stream kind.
#[derive(Default)]
struct Incoming {
    seen: Seen,
}

struct Connection {
    id: String,
    rtc: Rtc,
    server: SocketAddr,
    started: Instant,
    connected: bool,
    /// The earliest timeout in the thread's heap for this connection.
    scheduled: Option<Instant>,
    outgoing: Vec<Outgoing>,
    video: Incoming,
    audio: Incoming,
    /// The video stream's SSRC (a subscriber's).
    video_ssrc: Option<u32>,
    /// Counts clip frames rather than trailers.
    frames: bool,
}

#[derive(Default)]
struct ThreadStats {
    connections: u64,
    connected: u64,
    sent_video: u64,
    sent_audio: u64,
    received_video: u64,
    received_audio: u64,
    /// RTP packets that arrived while the window was open, whatever they carry.
    packets_video: u64,
    packets_audio: u64,
    duplicates: u64,
    foreign: u64,
    send_errors: u64,
    latency: Histogram,
}

impl ThreadStats {
    fn to_json(&self) -> Value {
        json!({
            "connections": self.connections,
            "connected": self.connected,
            "sent": {"video": self.sent_video, "audio": self.sent_audio},
            "received": {"video": self.received_video, "audio": self.received_audio},
            "packets": {"video": self.packets_video, "audio": self.packets_audio},
            "duplicates": self.duplicates,
            "foreign": self.foreign,
            "sendErrors": self.send_errors,
            "latency": self.latency.buckets(),
        })
    }
}

fn extension_of(uri: &str) -> Option<Extension> {
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

fn build_connection(
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
        for stream in &connect.streams {
            let mid = Mid::from(stream.mid.as_str());
            let kind = if stream.kind == "video" {
                MediaKind::Video
            } else {
                MediaKind::Audio
            };
            api.declare_media(mid, kind);
            if connect.role == "publisher" {
                api.declare_stream_tx(
                    Ssrc::from(stream.ssrc),
                    stream.rtx.map(Ssrc::from),
                    mid,
                    None,
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
        started: now,
        connected: false,
        scheduled: None,
        outgoing,
        video: Incoming::default(),
        audio: Incoming::default(),
        video_ssrc,
        frames: connect.frames,
    })
}

fn connect_codec_name(mime: &str) -> Codec {
    Codec::from(mime.split_once('/').map(|(_, name)| name).unwrap_or(mime))
}

/// One thread: its socket, its connections, their timers.
struct Worker {
    socket: mio::net::UdpSocket,
    local: SocketAddr,
    certificate: DtlsCert,
    connections: Vec<Connection>,
    by_address: HashMap<SocketAddr, usize>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    stats: ThreadStats,
    window: Arc<Window>,
    out: Sender<Message>,
    buffer: Vec<u8>,
}

impl Worker {
    fn run(mut self, commands: Receiver<Command>) {
        let mut poll = match mio::Poll::new() {
            Ok(poll) => poll,
            Err(err) => return eprintln!("poll: {err}"),
        };
        if let Err(err) =
            poll.registry()
                .register(&mut self.socket, mio::Token(0), mio::Interest::READABLE)
        {
            return eprintln!("register: {err}");
        }
        let mut events = mio::Events::with_capacity(64);
        loop {
            loop {
                match commands.try_recv() {
                    Ok(Command::Connect(connect)) => self.connect(&connect),
                    Ok(Command::Stats(reply)) => {
                        let _ = reply.send(self.stats.to_json());
                    }
                    Ok(Command::Reset) => {
                        self.stats = ThreadStats {
                            connections: self.stats.connections,
                            connected: self.stats.connected,
                            ..ThreadStats::default()
                        };
                    }
                    Ok(Command::Quit) | Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                }
            }
            let now = Instant::now();
            self.send_media(now);
            self.fire_timers(now);
            let mut next = now + Duration::from_millis(5);
            if let Some(Reverse((due, _))) = self.timers.peek() {
                next = next.min(*due);
            }
            for connection in &self.connections {
                for outgoing in &connection.outgoing {
                    next = next.min(outgoing.next_at);
                }
            }
            let wait = next.saturating_duration_since(Instant::now());
            if let Err(err) = poll.poll(&mut events, Some(wait)) {
                if err.kind() != std::io::ErrorKind::Interrupted {
                    return eprintln!("poll: {err}");
                }
            }
            self.receive();
        }
    }

    fn connect(&mut self, connect: &Connect) {
        let now = Instant::now();
        match build_connection(connect, &self.certificate, self.local, now) {
            Ok(mut connection) => {
                // str0m starts ICE on its first timeout.
                let _ = connection.rtc.handle_input(Input::Timeout(now));
                let index = self.connections.len();
                self.by_address.insert(connection.server, index);
                self.connections.push(connection);
                self.stats.connections += 1;
                self.drain(index, now);
            }
            Err(err) => {
                let _ = self.out.send(Message::Out(
                    json!({"event": "error", "id": connect.id, "message": err}),
                ));
            }
        }
    }

    fn receive(&mut self) {
        loop {
            match self.socket.recv_from(&mut self.buffer) {
                Ok((length, source)) => {
                    let now = Instant::now();
                    let Some(&index) = self.by_address.get(&source) else {
                        self.stats.foreign += 1;
                        continue;
                    };
                    let Ok(receive) =
                        Receive::new(Protocol::Udp, source, self.local, &self.buffer[..length])
                    else {
                        continue;
                    };
                    let connection = &mut self.connections[index];
                    if connection
                        .rtc
                        .handle_input(Input::Receive(now, receive))
                        .is_err()
                    {
                        continue;
                    }
                    self.drain(index, now);
                }
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(Reverse((due, index))) = self.timers.peek().copied() {
            if due > now {
                return;
            }
            self.timers.pop();
            let connection = &mut self.connections[index];
            if connection.scheduled != Some(due) {
                continue;
            }
            connection.scheduled = None;
            if connection.rtc.handle_input(Input::Timeout(now)).is_ok() {
                self.drain(index, now);
            }
        }
    }

    fn send_media(&mut self, now: Instant) {
        for index in 0..self.connections.len() {
            let connection = &mut self.connections[index];
            if !connection.connected || connection.outgoing.is_empty() {
                continue;
            }
            let mut wrote = false;
            for outgoing in &mut connection.outgoing {
                while outgoing.next_at <= now {
                    let sent_ns = nanos_since_epoch(now);
                    outgoing.next_at += outgoing.source.interval();
                    let packets = outgoing.source.next(sent_ns);
                    if let (Source::ClipVideo(_), Some(first)) = (&outgoing.source, packets.first())
                    {
                        // A clip's unit is the frame: its arrival is matched by timestamp.
                        self.window.frame_sent(first.timestamp, sent_ns);
                        if self.window.contains(sent_ns) {
                            self.stats.sent_video += 1;
                        }
                    } else if self.window.contains(sent_ns) {
                        if outgoing.video {
                            self.stats.sent_video += packets.len() as u64;
                        } else {
                            self.stats.sent_audio += packets.len() as u64;
                        }
                    }
                    let mut api = connection.rtc.direct_api();
                    let Some(stream) = api.stream_tx(&Ssrc::from(outgoing.ssrc)) else {
                        break;
                    };
                    for packet in packets {
                        let write = RtpWrite::new(
                            Pt::from(outgoing.pt),
                            SeqNo::from(outgoing.sequence),
                            packet.timestamp,
                            now,
                            Arc::<[u8]>::from(packet.payload),
                        )
                        .marker(packet.marker)
                        .nackable(outgoing.video);
                        stream.write_rtp(write);
                        outgoing.sequence += 1;
                    }
                    wrote = true;
                }
            }
            if wrote && connection.rtc.handle_input(Input::Timeout(now)).is_ok() {
                self.drain(index, now);
            }
        }
    }

    /// Polls a connection until its next timeout: datagrams leave, events are counted.
    fn drain(&mut self, index: usize, now: Instant) {
        loop {
            let connection = &mut self.connections[index];
            match connection.rtc.poll_output() {
                Ok(Output::Transmit(transmit)) => {
                    if self
                        .socket
                        .send_to(&transmit.contents, transmit.destination)
                        .is_err()
                    {
                        self.stats.send_errors += 1;
                    }
                }
                Ok(Output::Timeout(due)) => {
                    if connection.scheduled.is_none_or(|scheduled| due < scheduled) {
                        connection.scheduled = Some(due);
                        self.timers.push(Reverse((due, index)));
                    }
                    return;
                }
                Ok(Output::Event(event)) => self.on_event(index, event, now),
                Err(_) => return,
            }
        }
    }

    fn on_event(&mut self, index: usize, event: Event, now: Instant) {
        let connection = &mut self.connections[index];
        match event {
            Event::Connected => {
                connection.connected = true;
                self.stats.connected += 1;
                let ms = now
                    .saturating_duration_since(connection.started)
                    .as_secs_f64()
                    * 1000.0;
                for outgoing in &mut connection.outgoing {
                    outgoing.next_at = now;
                }
                let _ = self.out.send(Message::Out(
                    json!({"event": "connected", "id": connection.id, "ms": ms}),
                ));
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                let _ = self.out.send(Message::Out(
                    json!({"event": "disconnected", "id": connection.id}),
                ));
            }
            Event::RtpPacket(packet) => {
                let now_ns = nanos_since_epoch(now);
                let video = connection.video_ssrc == Some(*packet.header.ssrc);
                if self.window.contains(now_ns) {
                    if video {
                        self.stats.packets_video += 1;
                    } else {
                        self.stats.packets_audio += 1;
                    }
                }
                if connection.frames {
                    // A clip's media: a video frame arrived with its last packet.
                    if !video {
                        if self.window.contains(now_ns) {
                            self.stats.received_audio += 1;
                        }
                        return;
                    }
                    let timestamp = packet.header.timestamp;
                    let Some(sent_ns) = self
                        .window
                        .frame_sent_at(timestamp)
                        .filter(|sent| packet.header.marker && self.window.contains(*sent))
                    else {
                        return;
                    };
                    if !connection
                        .video
                        .seen
                        .first_time(timestamp / TICKS_PER_FRAME)
                    {
                        self.stats.duplicates += 1;
                        return;
                    }
                    self.stats.received_video += 1;
                    self.stats
                        .latency
                        .record(now_ns.saturating_sub(sent_ns) / 1000);
                    return;
                }
                let Some(trailer) = payload::read_trailer(&packet.payload) else {
                    return;
                };
                if !self.window.contains(trailer.sent_ns) {
                    return;
                }
                let incoming = if trailer.video {
                    &mut connection.video
                } else {
                    &mut connection.audio
                };
                if !incoming.seen.first_time(trailer.sequence) {
                    self.stats.duplicates += 1;
                    return;
                }
                if trailer.video {
                    self.stats.received_video += 1;
                } else {
                    self.stats.received_audio += 1;
                }
                let micros = nanos_since_epoch(now).saturating_sub(trailer.sent_ns) / 1000;
                self.stats.latency.record(micros);
            }
            _ => {}
        }
    }
}

/// One socket takes what the SFU sends to every client of a thread: a
/// frame to N subscribers arrives as a burst of 4 × N datagrams. The
/// default receive buffer (≈ 200 KiB) would drop most of a burst to a few
/// hundred subscribers, so it is made as large as allowed (beyond
/// `rmem_max` when privileged).
fn enlarge_buffers(socket: &UdpSocket) {
    use nix::sys::socket::{setsockopt, sockopt};
    const SIZE: usize = 32 << 20;
    if setsockopt(socket, sockopt::RcvBufForce, &SIZE).is_err() {
        let _ = setsockopt(socket, sockopt::RcvBuf, &SIZE);
    }
    let _ = setsockopt(socket, sockopt::SndBuf, &SIZE);
}

fn certificate() -> DtlsCert {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("a P-256 key");
    let cert = rcgen::CertificateParams::new(vec!["loadgen".into()])
        .expect("params")
        .self_signed(&key)
        .expect("a certificate");
    DtlsCert {
        certificate: cert.der().to_vec(),
        private_key: key.serialize_der(),
    }
}

/// Merges the threads' stats into one report.
fn merge(reports: Vec<Value>) -> Value {
    let mut latency = Histogram::default();
    let mut total = json!({"connections": 0, "connected": 0, "sent": {"video": 0, "audio": 0}, "received": {"video": 0, "audio": 0},
                           "packets": {"video": 0, "audio": 0}, "duplicates": 0, "foreign": 0, "sendErrors": 0});
    let add = |total: &mut Value, report: &Value, path: &[&str]| {
        let mut target = &mut *total;
        let mut source = report;
        for key in path {
            target = &mut target[*key];
            source = &source[*key];
        }
        *target = json!(target.as_u64().unwrap_or(0) + source.as_u64().unwrap_or(0));
    };
    for report in &reports {
        for path in [
            &["connections"][..],
            &["connected"],
            &["sent", "video"],
            &["sent", "audio"],
            &["received", "video"],
            &["received", "audio"],
            &["packets", "video"],
            &["packets", "audio"],
            &["duplicates"],
            &["foreign"],
            &["sendErrors"],
        ] {
            add(&mut total, report, path);
        }
        for bucket in report["latency"].as_array().into_iter().flatten() {
            let (Some(lower), Some(count)) = (bucket[0].as_u64(), bucket[1].as_u64()) else {
                continue;
            };
            latency.record_many(lower, count);
        }
    }
    total["latencyMicros"] = latency.to_json();
    total["event"] = json!("stats");
    total
}

fn main() {
    let threads: usize = std::env::args()
        .skip_while(|arg| arg != "--threads")
        .nth(1)
        .and_then(|value| value.parse().ok())
        .unwrap_or(1)
        .max(1);
    let bind: std::net::IpAddr = std::env::args()
        .skip_while(|arg| arg != "--bind")
        .nth(1)
        .and_then(|value| value.parse().ok())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    epoch();
    let certificate = certificate();
    let window = Arc::new(Window::new());
    let (out, messages) = channel::<Message>();
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    let mut addresses = Vec::new();
    for _ in 0..threads {
        let socket = match UdpSocket::bind(SocketAddr::new(bind, 0)) {
            Ok(socket) => socket,
            Err(err) => return eprintln!("bind: {err}"),
        };
        if let Err(err) = socket.set_nonblocking(true) {
            return eprintln!("nonblocking: {err}");
        }
        enlarge_buffers(&socket);
        let local = match socket.local_addr() {
            Ok(local) => local,
            Err(err) => return eprintln!("local address: {err}"),
        };
        addresses.push(local.to_string());
        let worker = Worker {
            socket: mio::net::UdpSocket::from_std(socket),
            local,
            certificate: certificate.clone(),
            connections: Vec::new(),
            by_address: HashMap::new(),
            timers: BinaryHeap::new(),
            stats: ThreadStats::default(),
            window: window.clone(),
            out: out.clone(),
            buffer: vec![0; 2048],
        };
        let (commands, receiver) = channel();
        senders.push(commands);
        handles.push(std::thread::spawn(move || worker.run(receiver)));
    }
    let stdin_out = out.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if stdin_out.send(Message::Line(line)).is_err() {
                return;
            }
        }
        let _ = stdin_out.send(Message::Eof);
    });
    let fingerprint = {
        let rtc = RtcConfig::new()
            .set_dtls_cert(certificate.clone())
            .build(Instant::now());
        let mut rtc = rtc;
        rtc.direct_api().local_dtls_fingerprint().to_string()
    };
    let mut stdout = std::io::stdout().lock();
    let mut write = |value: Value| {
        let _ = writeln!(stdout, "{value}");
        let _ = stdout.flush();
    };
    write(
        json!({"event": "ready", "fingerprint": fingerprint, "threads": threads, "addresses": addresses}),
    );
    let mut next_thread = 0;
    while let Ok(message) = messages.recv() {
        match message {
            Message::Out(value) => write(value),
            Message::Eof => break,
            Message::Line(line) => {
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    write(json!({"event": "error", "message": format!("not JSON: {line}")}));
                    continue;
                };
                match value["op"].as_str() {
                    Some("connect") => match serde_json::from_value::<Connect>(value) {
                        Ok(connect) => {
                            let thread = connect
                                .thread
                                .filter(|thread| *thread < senders.len())
                                .unwrap_or(next_thread);
                            let _ = senders[thread].send(Command::Connect(Box::new(connect)));
                            next_thread = (thread + 1) % senders.len();
                        }
                        Err(err) => {
                            write(json!({"event": "error", "message": format!("connect: {err}")}))
                        }
                    },
                    Some("window") => {
                        let now = nanos_since_epoch(Instant::now()).max(1);
                        if value["open"].as_bool() == Some(true) {
                            // The window starts a little later, once every
                            // thread has zeroed its counts (a thread reads its
                            // commands at least every 5 ms).
                            for sender in &senders {
                                let _ = sender.send(Command::Reset);
                            }
                            window
                                .start_ns
                                .store(now + WINDOW_DELAY.as_nanos() as u64, Ordering::Relaxed);
                            window.open.store(true, Ordering::Relaxed);
                        } else {
                            window.end_ns.store(now, Ordering::Relaxed);
                            window.open.store(false, Ordering::Relaxed);
                        }
                        write(json!({"event": "window", "open": value["open"]}));
                    }
                    Some("stats") => {
                        let (reply, replies) = channel();
                        for sender in &senders {
                            let _ = sender.send(Command::Stats(reply.clone()));
                        }
                        drop(reply);
                        write(merge(replies.iter().collect()));
                    }
                    Some("quit") => break,
                    _ => write(json!({"event": "error", "message": format!("unknown op: {line}")})),
                }
            }
        }
    }
    for sender in &senders {
        let _ = sender.send(Command::Quit);
    }
    for handle in handles {
        let _ = handle.join();
    }
}
