//! Unit tests of `crypto.rs`.

use super::*;

#[test]
fn fingerprints_cover_the_sdp_hash_functions() {
    assert_eq!(fingerprint(b"abc", "SHA-256").unwrap().len(), 32);
    assert_eq!(fingerprint(b"abc", "sha-1").unwrap().len(), 20);
    assert_eq!(fingerprint(b"abc", "sha-512").unwrap().len(), 64);
    assert_eq!(fingerprint(b"abc", "md5"), None);
    assert_eq!(sdp_form(&[0x75, 0x1b, 0x0a]), "75:1B:0A");
}

#[test]
fn pem_is_base64_in_64_column_lines() {
    let pem = certificate_pem(b"Man");
    assert_eq!(pem, "-----BEGIN CERTIFICATE-----\nTWFu\n-----END CERTIFICATE-----\n");
    assert!(certificate_pem(b"Ma").contains("TWE=\n"));
    assert!(certificate_pem(b"M").contains("TQ==\n"));
    let long = certificate_pem(&[0u8; 100]);
    assert!(long.lines().all(|line| line.len() <= 64));
}

#[test]
fn the_provider_records_what_it_hashes() {
    let provider = crypto_provider();
    let _ = take_hashed_certificate();
    provider.sha256_provider.sha256(b"peer certificate");
    assert_eq!(take_hashed_certificate().as_deref(), Some(&b"peer certificate"[..]));
    assert_eq!(take_hashed_certificate(), None);
}
