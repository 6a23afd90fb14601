//! Unit tests of `certificate.rs`.

use super::*;

#[test]
fn a_generated_certificate_reloads_from_its_pem() {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = CertificateParams::new(vec!["x".into()]).unwrap().self_signed(&key).unwrap();
    let loaded = Certificate::from_pem(&cert.pem(), &key.serialize_pem()).unwrap();
    assert_eq!(loaded.der, cert.der().to_vec());

    let other = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let err = Certificate::from_pem(&cert.pem(), &other.serialize_pem()).err().unwrap();
    assert!(err.message.contains("does not match"), "{err}");
    let err = Certificate::from_pem("garbage", &key.serialize_pem()).err().unwrap();
    assert!(err.message.contains("not a PEM certificate"), "{err}");
    let err = Certificate::from_pem(&key.serialize_pem(), &key.serialize_pem()).err().unwrap();
    assert!(err.message.contains("not a CERTIFICATE"), "{err}");
    let err = Certificate::from_pem(&cert.pem(), "garbage").err().unwrap();
    assert!(err.message.contains("dtlsPrivateKeyFile"), "{err}");

    let ed25519 = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let ed_cert = CertificateParams::new(vec!["x".into()]).unwrap().self_signed(&ed25519).unwrap();
    let err = Certificate::from_pem(&ed_cert.pem(), &ed25519.serialize_pem()).err().unwrap();
    assert!(err.message.contains("ECDSA"), "{err}");
}

#[test]
fn fingerprints_are_sha256_384_512_in_sdp_form() {
    let certificate = Certificate::generate().unwrap();
    let fingerprints = certificate.fingerprints();
    let lengths: Vec<_> = fingerprints.iter().map(|(algorithm, value)| (*algorithm, value.len())).collect();
    assert_eq!(lengths, [("sha-256", 32 * 3 - 1), ("sha-384", 48 * 3 - 1), ("sha-512", 64 * 3 - 1)]);
    let sha256 = &fingerprints[0].1;
    assert_eq!(sha256, &sha256.to_ascii_uppercase());
    assert_eq!(fingerprint_to_sdp(&fingerprint_from_sdp(sha256).unwrap()).unwrap(), *sha256);
}

#[test]
fn fingerprint_conversions_match_the_seed() {
    assert_eq!(fingerprint_from_sdp("75:1B:9F").unwrap(), "751b9f");
    assert_eq!(fingerprint_to_sdp("751b9f").unwrap(), "75:1B:9F");
    for bad in ["", "7", "75:1", "zz:11", "751B9F"] {
        assert!(fingerprint_from_sdp(bad).is_err(), "{bad}");
    }
    for bad in ["", "751", "75:1b", "xyz0"] {
        assert!(fingerprint_to_sdp(bad).is_err(), "{bad}");
    }
}
