//! ICE-lite for a WebRTC transport: its host candidates and their
//! priorities, the client's username fragment learnt from the first binding
//! request that proves our password (mediasoup-style clients never send it
//! over signalling), ICE restarts, the selected tuple and `iceState`.

use std::net::SocketAddr;
use std::time::Instant;

use serde_json::{json, Value};
use str0m::IceCreds;
use str0m::ice::StunMessage;
use str0m::net::Protocol;

use crate::channel::message::TransportCreate;
use crate::channel::NotificationEvent;
use crate::error::WorkerError;
use crate::transport::{BoundSocket, TransportNotification};
use super::WebRtcTransport;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceState {
    New,
    Connected,
    Completed,
    Disconnected,
    Closed,
}

impl IceState {
    pub fn as_str(self) -> &'static str {
        match self {
            IceState::New => "new",
            IceState::Connected => "connected",
            IceState::Completed => "completed",
            IceState::Disconnected => "disconnected",
            IceState::Closed => "closed",
        }
    }
}

/// The ICE 5-tuple in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuple {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub protocol: Protocol,
}

impl Tuple {
    pub(super) fn to_json(self) -> Value {
        json!({
            "localIP": self.local.ip().to_string(),
            "localPort": self.local.port(),
            "remoteIP": self.remote.ip().to_string(),
            "remotePort": self.remote.port(),
            "protocol": protocol_name(self.protocol),
        })
    }
}

pub(super) fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Udp => "udp",
        _ => "tcp",
    }
}

/// A mediasoup `IceCandidate` for `socket`, priority by RFC 8445 §5.1.2.1:
/// UDP above TCP unless preferTcp, the preferred family above the other.
pub(super) fn candidate_json(socket: &BoundSocket, address: SocketAddr, options: &TransportCreate) -> Value {
    let is_udp = socket.protocol == Protocol::Udp;
    let is_ipv4 = address.is_ipv4();
    let type_preference: u32 = if is_udp != options.prefer_tcp { 126 } else { 110 };
    let mut local_preference: u32 = if is_ipv4 { 10000 } else { 20000 };
    if options.prefer_ipv4 && is_ipv4 || options.prefer_ipv6 && !is_ipv4 {
        local_preference += 30000;
    }
    let priority = (type_preference << 24) + (local_preference << 8) + 255;
    let mut candidate = json!({
        "foundation": if is_udp { "udpcandidate" } else { "tcpcandidate" },
        "priority": priority,
        "ip": address.ip().to_string(),
        "protocol": protocol_name(socket.protocol),
        "port": address.port(),
        "type": "host",
    });
    if !is_udp {
        candidate["tcpType"] = json!("passive");
    }
    candidate
}

pub(super) fn hmac_sha1(key: &[u8], payloads: &[&[u8]]) -> [u8; 20] {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mut context = hmac::Context::with_key(&key);
    for payload in payloads {
        context.update(payload);
    }
    let mut tag = [0u8; 20];
    tag.copy_from_slice(context.sign().as_ref());
    tag
}

impl WebRtcTransport {
    pub(super) fn ice_local_parameters(&self) -> Value {
        let credentials = &self.local_credentials;
        json!({"usernameFragment": credentials.ufrag, "password": credentials.pass, "iceLite": true})
    }

    /// ICE restart: new local credentials. Returns `iceLocalParameters`.
    pub fn restart_ice(&mut self, now: Instant) -> Result<Value, WorkerError> {
        self.check_alive()?;
        let credentials = IceCreds::new();
        let for_rtc = credentials.clone();
        self.with_rtc(|rtc| {
            rtc.direct_api().set_local_ice_credentials(for_rtc);
            Ok(())
        })
        .map_err(WorkerError::internal)?;
        self.local_credentials = credentials;
        self.drain(now);
        Ok(self.ice_local_parameters())
    }

    /// A binding request that proves our password: learn the client's ufrag
    /// (str0m answers only once it knows it) and what it tells about ICE.
    pub(super) fn learn_from_binding_request(&mut self, now: Instant, protocol: Protocol, source: SocketAddr, destination: SocketAddr, contents: &[u8]) {
        let Ok(message) = StunMessage::parse(contents) else { return };
        if !message.is_binding_request() {
            return;
        }
        let Some((local_ufrag, remote_ufrag)) = message.split_username() else { return };
        let credentials = &self.local_credentials;
        if local_ufrag != credentials.ufrag || !message.verify(credentials.pass.as_bytes(), hmac_sha1) {
            return;
        }
        if self.remote_ufrag.as_deref() != Some(remote_ufrag) {
            let remote = IceCreds { ufrag: remote_ufrag.to_owned(), pass: String::new() };
            self.remote_ufrag = Some(remote.ufrag.clone());
            let _ = self.with_rtc(|rtc| {
                rtc.direct_api().set_remote_ice_credentials(remote);
                Ok(())
            });
            self.drain(now);
        }
        let tuple = Tuple { local: destination, remote: source, protocol };
        if message.use_candidate() {
            self.select_tuple(tuple);
            self.set_ice_state(IceState::Completed);
        } else if matches!(self.ice_state, IceState::New | IceState::Disconnected) {
            if self.selected_tuple.is_none() {
                self.select_tuple(tuple);
            }
            self.set_ice_state(IceState::Connected);
        }
    }

    pub(super) fn set_ice_state(&mut self, state: IceState) {
        if self.ice_state == state {
            return;
        }
        self.ice_state = state;
        self.notifications.push(TransportNotification {
            event: NotificationEvent::TransportIceStateChange,
            data: json!({"iceState": state.as_str()}),
        });
    }

    pub(super) fn select_tuple(&mut self, tuple: Tuple) {
        if self.selected_tuple == Some(tuple) {
            return;
        }
        self.selected_tuple = Some(tuple);
        self.notifications.push(TransportNotification {
            event: NotificationEvent::TransportIceSelectedTupleChange,
            data: json!({"iceSelectedTuple": tuple.to_json()}),
        });
    }
}

