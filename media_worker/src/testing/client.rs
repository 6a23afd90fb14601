//! A str0m client of a worker's WebRTC transport, connected through memory.

use std::net::SocketAddr;
use std::time::Instant;

use serde_json::Value;
use str0m::config::DtlsCert;
use str0m::net::Protocol;
use str0m::{Candidate, IceCreds, Rtc, RtcConfig};

/// A full-ICE controlling str0m client (RTP mode, built from `config`) of a
/// server transport whose local parameters are `server`: it knows the server's ICE
/// credentials and sha-256 fingerprint, as a browser would, and is the DTLS
/// server (the transport is told "remote role: server"). `addresses` are
/// (the client's, the server's).
pub fn client_of(server: &Value, certificate: &DtlsCert, config: RtcConfig, addresses: (SocketAddr, SocketAddr), now: Instant) -> Rtc {
    let config = config.set_rtp_mode(true).set_dtls_cert(certificate.clone());
    let mut client = config.build(now);
    client.add_local_candidate(Candidate::host(addresses.0, Protocol::Udp).unwrap());
    client.add_remote_candidate(Candidate::host(addresses.1, Protocol::Udp).unwrap());
    let sha256 = server["dtlsLocalParameters"]["fingerprints"][0]["value"].as_str().unwrap().to_owned();
    let mut api = client.direct_api();
    api.set_ice_controlling(true);
    api.set_remote_ice_credentials(IceCreds {
        ufrag: server["iceLocalParameters"]["usernameFragment"].as_str().unwrap().into(),
        pass: server["iceLocalParameters"]["password"].as_str().unwrap().into(),
    });
    api.set_remote_fingerprint(format!("sha-256 {sha256}").parse().unwrap());
    api.start_dtls(false).unwrap();
    client
}

/// A fresh self-signed ECDSA P-256 certificate, as a browser makes.
pub fn dtls_certificate() -> DtlsCert {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["test".into()]).unwrap().self_signed(&key).unwrap();
    DtlsCert { certificate: cert.der().to_vec(), private_key: key.serialize_der() }
}

