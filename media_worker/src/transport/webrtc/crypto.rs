//! DTLS crypto for the transports: str0m's aws-lc-rs provider with one
//! addition, and the fingerprints of certificates.
//!
//! str0m verifies a remote fingerprint only in sha-256 or sha-1 and does not
//! expose the peer's certificate, while clients send sha-384/512 (pymediasoup
//! sends only sha-512) and `dtlsRemoteCert` is part of the API. So the worker
//! turns str0m's own check off and verifies the certificate itself: the
//! provider's sha-256 hook records the certificate str0m hashes when the
//! peer's arrives, and [`take_hashed_certificate`] hands it to the transport
//! whose `Rtc` call produced it (the worker is single-threaded).

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use aws_lc_rs::digest;
use str0m::config::CryptoProvider;
use str0m::crypto::Sha256Provider;

use crate::channel::settings::encode_hex;

thread_local! {
    static LAST_HASHED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

#[derive(Debug)]
struct RecordingSha256;

impl Sha256Provider for RecordingSha256 {
    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        LAST_HASHED.with(|last| *last.borrow_mut() = Some(data.to_vec()));
        let mut hash = [0u8; 32];
        hash.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
        hash
    }
}

static RECORDING_SHA256: RecordingSha256 = RecordingSha256;

/// The provider every transport's `Rtc` is built with.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let mut provider = str0m::crypto::from_feature_flags();
            provider.sha256_provider = &RECORDING_SHA256;
            Arc::new(provider)
        })
        .clone()
}

/// The last certificate str0m hashed on this thread since the previous call.
pub fn take_hashed_certificate() -> Option<Vec<u8>> {
    LAST_HASHED.with(|last| last.borrow_mut().take())
}

/// The hash functions of fingerprints, as SDP and mediasoup name them.
pub const FINGERPRINT_ALGORITHMS: [&str; 4] = ["sha-1", "sha-256", "sha-384", "sha-512"];

/// The fingerprint of `der` with `algorithm` (case-insensitive), or None for
/// an algorithm this worker does not know.
pub fn fingerprint(der: &[u8], algorithm: &str) -> Option<Vec<u8>> {
    let algorithm = match algorithm.to_ascii_lowercase().as_str() {
        "sha-1" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        "sha-256" => &digest::SHA256,
        "sha-384" => &digest::SHA384,
        "sha-512" => &digest::SHA512,
        _ => return None,
    };
    Some(digest::digest(algorithm, der).as_ref().to_vec())
}

/// `AB:CD:…`: bytes in SDP's fingerprint form.
pub fn sdp_form(bytes: &[u8]) -> String {
    let hex = encode_hex(bytes).to_ascii_uppercase();
    hex.as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// The bytes of a fingerprint in SDP's form (`AB:CD:…`, any case), or None.
pub fn parse_sdp_form(text: &str) -> Option<Vec<u8>> {
    text.split(':')
        .map(|pair| {
            let digits = pair.len() == 2 && pair.bytes().all(|byte| byte.is_ascii_hexdigit());
            digits.then(|| u8::from_str_radix(pair, 16).ok()).flatten()
        })
        .collect()
}

/// The hash functions of the fingerprints this side announces, strongest
/// last (mediasoup-client uses the last entry).
pub const LOCAL_FINGERPRINT_ALGORITHMS: [&str; 3] = ["sha-256", "sha-384", "sha-512"];

/// `(algorithm, 'AB:CD:…')` of the certificate `der` for each of
/// [`LOCAL_FINGERPRINT_ALGORITHMS`]: every transport's
/// `dtlsLocalParameters.fingerprints` and the server's dump (the extension
/// calls this too), computed here only.
pub fn local_fingerprints(der: &[u8]) -> Vec<(&'static str, String)> {
    LOCAL_FINGERPRINT_ALGORITHMS
        .iter()
        .filter_map(|&algorithm| Some((algorithm, sdp_form(&fingerprint(der, algorithm)?))))
        .collect()
}

/// A DER certificate as PEM.
pub fn certificate_pem(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut base64 = String::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let bytes = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for index in 0..4 {
            if index <= chunk.len() {
                base64.push(ALPHABET[((n >> (18 - 6 * index)) & 63) as usize] as char);
            } else {
                base64.push('=');
            }
        }
    }
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in base64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;
