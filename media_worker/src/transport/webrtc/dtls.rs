//! DTLS for a WebRTC transport: the remote parameters (role and
//! fingerprints in any algorithm SDP knows), records held until they arrive,
//! the check of the remote certificate against them (str0m's own check is
//! off: see [`super::crypto`]), `dtlsState` and the local fingerprints.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use str0m::config::Fingerprint;
use str0m::net::Protocol;

use crate::channel::NotificationEvent;
use crate::error::WorkerError;
use crate::error::json_type;
use crate::transport::TransportNotification;
use super::WebRtcTransport;
use super::crypto::{certificate_pem, fingerprint, local_fingerprints, parse_sdp_form, take_hashed_certificate};

/// How long DTLS may take to connect once started before it is 'failed'.
pub(super) const DTLS_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// DTLS records kept while waiting for the remote DTLS parameters.
pub(super) const MAX_HELD_DTLS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsState {
    New,
    Connecting,
    Connected,
    Failed,
    Closed,
}

impl DtlsState {
    pub fn as_str(self) -> &'static str {
        match self {
            DtlsState::New => "new",
            DtlsState::Connecting => "connecting",
            DtlsState::Connected => "connected",
            DtlsState::Failed => "failed",
            DtlsState::Closed => "closed",
        }
    }
}

/// The remote DTLS parameters, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDtlsParameters {
    /// Whether this side is the DTLS client.
    pub local_is_client: bool,
    /// (algorithm, digest) pairs; at least one algorithm this worker knows.
    pub fingerprints: Vec<(String, Vec<u8>)>,
}

impl RemoteDtlsParameters {
    /// `{'role'?, 'fingerprint': {...}}` or `{'role'?, 'fingerprints': [...]}`.
    pub fn parse(value: &Value) -> Result<Self, WorkerError> {
        let object = value.as_object().ok_or_else(|| {
            WorkerError::type_error(format!("dtlsParameters must be a dict, not {}", json_type(value)))
        })?;
        let local_is_client = match object.get("role") {
            None | Some(Value::Null) => true,
            Some(Value::String(role)) => match role.as_str() {
                "auto" | "server" => true,
                "client" => false,
                other => {
                    return Err(WorkerError::value_error(format!(
                        "dtlsParameters.role must be 'auto', 'client' or 'server', not '{other}'"
                    )))
                }
            },
            Some(other) => {
                return Err(WorkerError::type_error(format!(
                    "dtlsParameters.role must be a str, not {}",
                    json_type(other)
                )))
            }
        };
        let entries: Vec<&Value> = match (object.get("fingerprints"), object.get("fingerprint")) {
            (Some(Value::Array(list)), _) => list.iter().collect(),
            (Some(other), _) if !other.is_null() => {
                return Err(WorkerError::type_error(format!(
                    "dtlsParameters.fingerprints must be a list, not {}",
                    json_type(other)
                )))
            }
            (_, Some(single)) if !single.is_null() => vec![single],
            _ => {
                return Err(WorkerError::type_error(
                    "dtlsParameters needs 'fingerprints' (a list) or 'fingerprint' (a dict)",
                ))
            }
        };
        let mut fingerprints = Vec::new();
        let mut unknown = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let at = format!("dtlsParameters.fingerprints[{index}]");
            let field = |name: &str| match entry.get(name) {
                Some(Value::String(text)) => Ok(text.as_str()),
                _ => Err(WorkerError::type_error(format!("{at}.{name} must be a str"))),
            };
            let algorithm = field("algorithm")?.to_ascii_lowercase();
            let text = field("value")?;
            let digest = parse_sdp_form(text)
                .ok_or_else(|| WorkerError::value_error(format!("{at}.value '{text}' is not hex pairs joined by colons")))?;
            match fingerprint(b"", &algorithm) {
                Some(empty) if empty.len() == digest.len() => fingerprints.push((algorithm, digest)),
                Some(empty) => {
                    return Err(WorkerError::value_error(format!(
                        "{at}.value has {} bytes; a {algorithm} fingerprint has {}",
                        digest.len(),
                        empty.len()
                    )))
                }
                None => unknown.push(algorithm),
            }
        }
        if fingerprints.is_empty() {
            return Err(WorkerError::unsupported(format!(
                "dtlsParameters has no fingerprint in sha-1, sha-256, sha-384 or sha-512 (got: {})",
                if unknown.is_empty() { "none".to_owned() } else { unknown.join(", ") }
            )));
        }
        Ok(Self { local_is_client, fingerprints })
    }
}

/// A DTLS datagram waiting for DTLS to start.
pub(super) struct HeldDatagram {
    pub(super) protocol: Protocol,
    pub(super) source: SocketAddr,
    pub(super) destination: SocketAddr,
    pub(super) contents: Vec<u8>,
}

impl WebRtcTransport {
    pub(super) fn dtls_local_parameters(&self) -> Value {
        let role = match self.local_is_client {
            None => "auto",
            Some(true) => "client",
            Some(false) => "server",
        };
        let fingerprints: Vec<Value> = local_fingerprints(&self.own_certificate)
            .into_iter()
            .map(|(algorithm, value)| json!({"algorithm": algorithm, "value": value}))
            .collect();
        json!({"role": role, "fingerprints": fingerprints})
    }

    /// Starts DTLS with the remote role and fingerprints; answers the local role.
    pub fn set_remote_dtls_parameters(&mut self, value: &Value, now: Instant) -> Result<Value, WorkerError> {
        if self.remote_dtls.is_some() {
            return Err(WorkerError::invalid_state("the remote DTLS parameters were set already"));
        }
        let remote = RemoteDtlsParameters::parse(value)?;
        self.check_alive()?;
        let local_is_client = remote.local_is_client;
        // str0m's own check is off; it still wants a fingerprint before the
        // peer's certificate arrives. The real check is in verify_remote_certificate.
        let for_str0m = remote
            .fingerprints
            .iter()
            .find(|(algorithm, _)| algorithm == "sha-256")
            .map(|(algorithm, digest)| Fingerprint { hash_func: algorithm.clone(), bytes: digest.clone() })
            .unwrap_or_else(|| Fingerprint { hash_func: "sha-256".into(), bytes: vec![0; 32] });
        let sctp = self.sctp;
        let started = self.with_rtc(|rtc| {
            let mut api = rtc.direct_api();
            api.set_remote_fingerprint(for_str0m);
            api.start_dtls(local_is_client).map_err(|err| err.to_string())?;
            if sctp {
                api.start_sctp(local_is_client);
            }
            Ok(())
        });
        if let Err(reason) = started {
            self.fail_dtls(&reason);
            return Err(WorkerError::internal(format!("DTLS could not start: {reason}")));
        }
        self.remote_dtls = Some(remote);
        self.local_is_client = Some(local_is_client);
        self.dtls_deadline = Some(now + DTLS_CONNECT_TIMEOUT);
        self.set_dtls_state(DtlsState::Connecting, None);
        for held in std::mem::take(&mut self.held_dtls) {
            self.feed(now, held.protocol, held.source, held.destination, &held.contents);
        }
        self.drain(now);
        Ok(json!({"role": if local_is_client { "client" } else { "server" }}))
    }

    /// Takes the certificate str0m last hashed; true if it is a new remote one.
    pub(super) fn collect_remote_certificate(&mut self) -> bool {
        match take_hashed_certificate() {
            Some(der) if der != self.own_certificate && self.remote_certificate.as_ref() != Some(&der) => {
                self.remote_certificate = Some(der);
                true
            }
            _ => false,
        }
    }

    pub(super) fn remote_certificate_matches(&self) -> bool {
        let (Some(remote), Some(der)) = (&self.remote_dtls, &self.remote_certificate) else { return false };
        remote
            .fingerprints
            .iter()
            .any(|(algorithm, digest)| fingerprint(der, algorithm).as_deref() == Some(digest.as_slice()))
    }

    /// DTLS connected: the peer's certificate must match one of the
    /// fingerprints it announced, or nothing flows.
    pub(super) fn verify_remote_certificate(&mut self) {
        match &self.remote_certificate {
            Some(der) if self.remote_certificate_matches() => {
                let pem = certificate_pem(der);
                self.dtls_deadline = None;
                self.set_dtls_state(DtlsState::Connected, Some(pem));
            }
            Some(_) => self.fail_dtls("the remote certificate does not match its fingerprint"),
            None => self.fail_dtls("the remote certificate is unknown"),
        }
    }

    pub(super) fn fail_dtls(&mut self, reason: &str) {
        if matches!(self.dtls_state, DtlsState::Failed | DtlsState::Closed) {
            return;
        }
        tracing::warn!("transport {}: DTLS failed: {reason}", self.id);
        self.rtc.disconnect();
        self.dtls_deadline = None;
        self.set_dtls_state(DtlsState::Failed, None);
    }

    pub(super) fn set_dtls_state(&mut self, state: DtlsState, remote_certificate_pem: Option<String>) {
        if self.dtls_state == state {
            return;
        }
        self.dtls_state = state;
        if state == DtlsState::Connected {
            // What was forwarded before could not reach the endpoint.
            self.just_connected = true;
        }
        self.notifications.push(TransportNotification {
            event: NotificationEvent::TransportDtlsStateChange,
            data: json!({"dtlsState": state.as_str(), "dtlsRemoteCert": remote_certificate_pem}),
        });
    }
}

