//! A str0m client of a worker's WebRTC transport, connected through memory.

use std::net::SocketAddr;
use std::time::Instant;

use serde_json::{json, Value};
use str0m::config::DtlsCert;
use str0m::net::Protocol;
use str0m::ice::{StunMessage, TransId};
use str0m::{Candidate, IceCreds, Rtc, RtcConfig};

use crate::transport::webrtc::crypto::{fingerprint, sdp_form};

/// A full-ICE controlling str0m client (RTP mode, built from `config`) of a
/// server transport whose local parameters are `server`: it knows the server's ICE
/// credentials and sha-256 fingerprint, as a browser would, and is the DTLS
/// server (the transport is told "remote role: server"). `addresses` are
/// (the client's, the server's).
pub fn client_of(server: &Value, certificate: &DtlsCert, config: RtcConfig, addresses: (SocketAddr, SocketAddr), now: Instant) -> Rtc {
    let config = config.set_rtp_mode(true).set_dtls_cert(certificate.clone());
    let mut client = config.build(now);
    client.add_local_candidate(Candidate::host(addresses.0, Protocol::Udp).expect("the client's address is a host candidate"));
    client.add_remote_candidate(Candidate::host(addresses.1, Protocol::Udp).expect("the server's address is a host candidate"));
    let text = |value: &Value| value.as_str().expect("the server's local parameters").to_owned();
    let sha256 = text(&server["dtlsLocalParameters"]["fingerprints"][0]["value"]);
    let mut api = client.direct_api();
    api.set_ice_controlling(true);
    api.set_remote_ice_credentials(IceCreds {
        ufrag: text(&server["iceLocalParameters"]["usernameFragment"]),
        pass: text(&server["iceLocalParameters"]["password"]),
    });
    api.set_remote_fingerprint(format!("sha-256 {sha256}").parse().expect("the server's fingerprint"));
    api.start_dtls(false).expect("the client starts DTLS");
    client
}

/// The `dtlsParameters` a transport is given for a client made by
/// [`client_of`] with `certificate`: the DTLS server, its sha-256 fingerprint.
pub fn remote_dtls_parameters(certificate: &DtlsCert) -> Value {
    let digest = fingerprint(&certificate.certificate, "sha-256").expect("sha-256 is known");
    json!({"role": "server", "fingerprints": [{"algorithm": "sha-256", "value": sdp_form(&digest)}]})
}

/// A fresh self-signed ECDSA P-256 certificate, as a browser makes.
pub fn dtls_certificate() -> DtlsCert {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("a P-256 key");
    let cert = rcgen::CertificateParams::new(vec!["test".into()]).expect("a certificate's names").self_signed(&key).expect("a self-signed certificate");
    DtlsCert { certificate: cert.der().to_vec(), private_key: key.serialize_der() }
}

/// A binding request as a client sends it: USERNAME `server:client` (its
/// integrity made with a zero HMAC: what reads the USERNAME alone takes it).
pub fn binding_request(username: &str) -> Vec<u8> {
    let message = StunMessage::binding_request(username, TransId::new(), true, 7, 1, false);
    let mut buffer = vec![0u8; 512];
    let hmac = |_: &[u8], _: &[&[u8]]| [0u8; 20];
    let length = message.to_bytes(Some(b"password"), &mut buffer, hmac).expect("a binding request fits 512 bytes");
    buffer.truncate(length);
    buffer
}
