//! The kinds of transport a peer connects through, behind one interface:
//! [`Transport`] is what the worker holds and the router's packets go
//! through. Three kinds so far, each in a folder of its own: WebRTC
//! ([`webrtc`]: ICE-lite, DTLS, SRTP and SCTP over str0m), direct
//! ([`direct`]: no network, the endpoint is Python, its packets cross on
//! the media path) and plain ([`plain`]: RTP and RTCP over UDP, no ICE or
//! DTLS, SRTP keyed through the API by [`srtp`], NACKs both ways by
//! [`retransmission`]: pipes between rooms are two of them). The last two
//! share their streams' reading and writing ([`rtp_streams`]).
//!
//! Every kind is sans-IO: datagrams (or media frames) and times in;
//! datagrams to send (from one of the sockets the event loop opened for
//! it) or frames for Python, notifications, the RTP it received and its
//! next deadline out.

pub mod direct;
pub mod plain;
pub mod retransmission;
mod rtp_streams;
pub mod srtp;
pub mod webrtc;

use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Instant;

use serde_json::Value;
use str0m::net::Protocol;

use crate::channel::NotificationEvent;
use crate::error::WorkerError;
use crate::rtp::capabilities::MediaKind;
use crate::rtp::codec_table::SendTables;
use crate::rtp::packet::{OutgoingRtp, ReadableExtensions, ReceivedRtp};
use crate::rtp::parameters::ReceiveParameters;
use crate::rtp::stats::{RtcpCounters, Traffic};
use crate::sctp::{ChannelOptions, ChannelRef};
use direct::DirectTransport;
use plain::PlainTransport;
use webrtc::{DataChannels, DataEvent, SendRefused, WebRtcTransport};

/// A socket the event loop opened for a transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundSocket {
    pub protocol: Protocol,
    pub address: SocketAddr,
    /// The IP written into the candidate instead of the bound one.
    pub announced_ip: Option<IpAddr>,
}

impl BoundSocket {
    /// The address the remote end sends to.
    pub fn candidate_address(&self) -> SocketAddr {
        SocketAddr::new(self.announced_ip.unwrap_or(self.address.ip()), self.address.port())
    }
}

/// A datagram for the event loop to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingDatagram {
    pub protocol: Protocol,
    /// The bound socket address to send from.
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

/// A notification for Python about a transport.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportNotification {
    pub event: NotificationEvent,
    pub data: Value,
}

/// A subscriber's keyframe request (a PLI or FIR) for the stream it
/// receives under `mid`, on `ssrc` where the transport knows it (a pipe's
/// sender sends an encoding on each of its SSRCs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyframeRequested {
    pub mid: String,
    pub ssrc: Option<u32>,
}

/// A transport of any kind.
pub enum Transport {
    WebRtc(WebRtcTransport),
    Direct(DirectTransport),
    Plain(PlainTransport),
}

/// The same call on whichever kind `$transport` is.
macro_rules! each_kind {
    ($transport:expr, $inner:ident => $call:expr) => {
        match $transport {
            Transport::WebRtc($inner) => $call,
            Transport::Direct($inner) => $call,
            Transport::Plain($inner) => $call,
        }
    };
}

/// A call on a WebRTC transport, or `$otherwise` for the others (which
/// have no SCTP, no bandwidth estimation; a direct one no network either).
macro_rules! webrtc_only {
    ($transport:expr, $inner:ident => $call:expr, $otherwise:expr) => {
        match $transport {
            Transport::WebRtc($inner) => $call,
            Transport::Direct(_) | Transport::Plain(_) => $otherwise,
        }
    };
}

/// A call on a transport with a network (WebRTC or plain), or `$otherwise`
/// for a direct one.
macro_rules! networked {
    ($transport:expr, $inner:ident => $call:expr, $otherwise:expr) => {
        match $transport {
            Transport::WebRtc($inner) => $call,
            Transport::Plain($inner) => $call,
            Transport::Direct(_) => $otherwise,
        }
    };
}

impl Transport {
    pub fn id(&self) -> &str {
        each_kind!(self, t => &t.id)
    }

    /// The peer it belongs to.
    pub fn peer_id(&self) -> &str {
        each_kind!(self, t => &t.peer_id)
    }

    /// The WebRTC transport, or an error naming the operation that needs one.
    pub fn as_webrtc_mut(&mut self, operation: &str) -> Result<&mut WebRtcTransport, WorkerError> {
        match self {
            Transport::WebRtc(transport) => Ok(transport),
            _ => Err(WorkerError::unsupported(format!("{operation} needs a WebRTC transport"))),
        }
    }

    /// The plain transport, or an error naming the operation that needs one.
    pub fn as_plain_mut(&mut self, operation: &str) -> Result<&mut PlainTransport, WorkerError> {
        match self {
            Transport::Plain(transport) => Ok(transport),
            _ => Err(WorkerError::unsupported(format!("{operation} needs a plain transport"))),
        }
    }

    /// The direct transport, if it is one.
    pub fn as_direct_mut(&mut self) -> Option<&mut DirectTransport> {
        match self {
            Transport::Direct(transport) => Some(transport),
            _ => None,
        }
    }

    // Packets and time.

    /// A datagram that arrived on its bound socket `local`.
    pub fn handle_datagram(&mut self, now: Instant, protocol: Protocol, source: SocketAddr, local: SocketAddr, contents: &[u8]) {
        match self {
            Transport::WebRtc(t) => t.handle_datagram(now, protocol, source, local, contents),
            Transport::Plain(t) => t.handle_datagram(now, source, local, contents),
            Transport::Direct(_) => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        networked!(self, t => t.handle_timeout(now), ())
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        networked!(self, t => t.next_timeout(), None)
    }

    /// Produces what is due: datagrams, notifications, received RTP.
    pub fn drain(&mut self, now: Instant) {
        webrtc_only!(self, t => t.drain(now), ())
    }

    /// Lets out what [`Self::send_rtp`] wrote in this loop turn.
    pub fn drain_after_writes(&mut self, now: Instant) {
        webrtc_only!(self, t => t.drain_after_writes(now), ())
    }

    pub fn poll_datagram(&mut self) -> Option<OutgoingDatagram> {
        networked!(self, t => t.poll_datagram(), None)
    }

    pub fn take_notifications(&mut self) -> Vec<TransportNotification> {
        networked!(self, t => t.take_notifications(), Vec::new())
    }

    /// Closes it at once; no notification (Python closed it).
    pub fn close(&mut self) {
        each_kind!(self, t => t.close())
    }

    // Streams.

    /// Starts receiving a published stream; answers its mid and which of its
    /// header extensions travel with its packets.
    pub fn add_receiver(&mut self, receiver_id: &str, kind: MediaKind, parameters: &ReceiveParameters, now: Instant) -> Result<(String, ReadableExtensions), WorkerError> {
        match self {
            Transport::WebRtc(t) => t.add_receiver(receiver_id, kind, parameters, now),
            Transport::Direct(t) => t.add_receiver(receiver_id, kind, parameters),
            Transport::Plain(t) => t.add_receiver(receiver_id, kind, parameters),
        }
    }

    pub fn remove_receiver(&mut self, receiver_id: &str, now: Instant) {
        match self {
            Transport::WebRtc(t) => t.remove_receiver(receiver_id, now),
            Transport::Direct(t) => t.remove_receiver(receiver_id),
            Transport::Plain(t) => t.remove_receiver(receiver_id),
        }
    }

    /// Declares a stream it sends, under `mid`.
    pub fn add_sender(&mut self, mid: &str, kind: MediaKind, ssrc: u32, rtx_ssrc: Option<u32>, now: Instant) -> Result<(), WorkerError> {
        match self {
            Transport::WebRtc(t) => t.add_sender(mid, kind, ssrc, rtx_ssrc, now),
            Transport::Direct(t) => {
                t.add_sender(mid, ssrc);
                Ok(())
            }
            Transport::Plain(t) => {
                t.add_sender(mid, ssrc);
                Ok(())
            }
        }
    }

    pub fn remove_sender(&mut self, mid: &str, ssrc: u32, now: Instant) {
        match self {
            Transport::WebRtc(t) => t.remove_sender(mid, ssrc, now),
            Transport::Direct(t) => t.remove_sender(ssrc),
            Transport::Plain(t) => t.remove_sender(ssrc),
        }
    }

    /// The payload types and header-extension ids senders write on it.
    pub fn send_tables(&self) -> &SendTables {
        each_kind!(self, t => t.send_tables())
    }

    /// The CNAME its received streams share, once one is known.
    pub fn cname_for_receivers(&self) -> Option<&str> {
        each_kind!(self, t => t.cname_for_receivers.as_deref())
    }

    pub fn set_cname_for_receivers(&mut self, cname: String) {
        each_kind!(self, t => t.cname_for_receivers = Some(cname))
    }

    // Media.

    /// Whether media written now leaves.
    pub fn can_send_media(&self) -> bool {
        each_kind!(self, t => t.can_send_media())
    }

    /// Writes one forwarded packet on a stream it sends.
    pub fn send_rtp(&mut self, rtp: &OutgoingRtp, packet: &ReceivedRtp, extensions: ReadableExtensions, now: Instant) {
        match self {
            Transport::WebRtc(t) => t.send_rtp(rtp, packet, extensions, now),
            Transport::Direct(t) => t.send_rtp(rtp, packet, extensions, now),
            Transport::Plain(t) => t.send_rtp(rtp, packet, extensions, now),
        }
    }

    /// Moves the RTP received since the last call, with its receiver's id, to `into`.
    pub fn drain_rtp(&mut self, into: &mut Vec<(Rc<str>, ReceivedRtp)>) {
        each_kind!(self, t => t.drain_rtp(into))
    }

    /// Simulcast layers learnt since the last call: (receiver id, SSRC, rid).
    pub fn take_learnt_layers(&mut self) -> Vec<(Rc<str>, u32, String)> {
        webrtc_only!(self, t => t.take_learnt_layers(), Vec::new())
    }

    /// Asks the publisher of the stream on `ssrc` for a keyframe.
    pub fn request_keyframe(&mut self, ssrc: u32, now: Instant) {
        match self {
            Transport::WebRtc(t) => t.request_keyframe(ssrc, now),
            Transport::Direct(t) => t.request_keyframe(ssrc),
            Transport::Plain(t) => t.request_keyframe(ssrc),
        }
    }

    /// What the subscribers of the streams it sends asked keyframes of
    /// (Python asks with a request, `rtpSender.requestKeyFrame`).
    pub fn take_keyframe_requests(&mut self) -> Vec<KeyframeRequested> {
        networked!(self, t => t.take_keyframe_requests(), Vec::new())
    }

    /// The fraction lost its subscriber reported per stream (by mid) since the last call.
    pub fn take_loss_reports(&mut self) -> Vec<(String, Option<f32>)> {
        networked!(self, t => t.take_loss_reports(), Vec::new())
    }

    /// Whether it became able to send media since the last call.
    pub fn take_just_connected(&mut self) -> bool {
        networked!(self, t => t.take_just_connected(), false)
    }

    /// The bandwidth estimate toward the endpoint when it is new, or once a
    /// second (a direct transport has none: Python takes what it is sent).
    pub fn take_bandwidth_estimate(&mut self, now: Instant) -> Option<u64> {
        webrtc_only!(self, t => t.take_bandwidth_estimate(now), None)
    }

    /// What the transport keeps sending (padded) and what its senders would
    /// take at their best (probed for).
    pub fn want_bandwidth(&mut self, minimum: u64, wanted: u64, now: Instant) {
        webrtc_only!(self, t => t.want_bandwidth(minimum, wanted, now), ())
    }

    // Data channels.

    /// Whether it carries data channels (`enableSctp`).
    pub fn sctp_enabled(&self) -> bool {
        webrtc_only!(self, t => t.sctp_enabled(), false)
    }

    /// Its SCTP channels (none without SCTP; a direct transport's are its own).
    pub fn data_channels(&self) -> Option<&DataChannels> {
        webrtc_only!(self, t => Some(t.data_channels()), None)
    }

    /// Opens a channel from this side (see [`WebRtcTransport::open_data_channel`]).
    pub fn open_data_channel(&mut self, options: ChannelOptions, now: Instant) -> Result<ChannelRef, WorkerError> {
        match self {
            Transport::WebRtc(t) => t.open_data_channel(options, now),
            Transport::Direct(t) => t.open_data_channel(options),
            Transport::Plain(_) => Err(WorkerError::unsupported("a plain transport carries no data channels")),
        }
    }

    /// Sends a message now or queued (bounded); refused ones are the caller's to count.
    pub fn send_data(&mut self, channel: ChannelRef, binary: bool, data: &[u8]) -> Result<(), SendRefused> {
        match self {
            Transport::WebRtc(t) => t.send_data(channel, binary, data),
            Transport::Direct(t) => t.send_data(channel, binary, data),
            Transport::Plain(_) => Err(SendRefused::NoChannel),
        }
    }

    pub fn close_data_channel(&mut self, channel: ChannelRef, now: Instant) {
        match self {
            Transport::WebRtc(t) => t.close_data_channel(channel, now),
            Transport::Direct(t) => t.close_data_channel(channel),
            Transport::Plain(_) => {}
        }
    }

    /// The lowest SCTP stream id no channel uses.
    pub fn free_stream_id(&mut self) -> Option<u16> {
        match self {
            Transport::WebRtc(t) => t.free_stream_id(),
            Transport::Direct(t) => t.free_stream_id(),
            Transport::Plain(_) => None,
        }
    }

    /// Channel openings, messages and closes since the last call.
    pub fn take_data_events(&mut self, into: &mut Vec<DataEvent>) {
        match self {
            Transport::WebRtc(t) => t.take_data_events(into),
            Transport::Direct(t) => t.take_data_events(into),
            Transport::Plain(_) => {}
        }
    }

    // What the API shows.

    pub fn dump(&mut self) -> Value {
        each_kind!(self, t => t.dump())
    }

    pub fn stats(&mut self, now_ms: u64) -> Value {
        each_kind!(self, t => t.stats(now_ms))
    }

    /// The RTCP counters of a stream it receives (by mid and rid).
    pub fn ingress_counters(&self, mid: &str, rid: Option<&str>) -> RtcpCounters {
        webrtc_only!(self, t => t.ingress_counters(mid, rid), RtcpCounters::default())
    }

    /// The RTCP counters of a stream it sends (by mid).
    pub fn egress_counters(&self, mid: &str) -> RtcpCounters {
        webrtc_only!(self, t => t.egress_counters(mid), RtcpCounters::default())
    }

    /// Everything it moved since it opened, for the worker's metrics.
    pub fn traffic(&self) -> Traffic {
        each_kind!(self, t => t.traffic())
    }
}
