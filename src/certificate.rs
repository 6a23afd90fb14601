//! The DTLS certificate every worker of a server shares: generated with rcgen
//! (ECDSA P-256, on aws-lc-rs like str0m) or loaded from PEM files and
//! checked, with its fingerprints in SDP form.

use std::path::Path;

use media_worker::error::WorkerError;
use media_worker::channel::settings::{decode_hex, encode_hex};
use media_worker::transport::webrtc::crypto::{local_fingerprints, parse_sdp_form, sdp_form};
use rcgen::{CertificateParams, KeyPair, PublicKeyData};

#[derive(Clone)]
pub struct Certificate {
    pub der: Vec<u8>,
    /// PKCS#8 DER.
    pub private_key_der: Vec<u8>,
}

impl Certificate {
    pub fn generate() -> Result<Self, WorkerError> {
        let failed = |err: rcgen::Error| WorkerError::internal(format!("cannot generate the DTLS certificate: {err}"));
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let params = CertificateParams::new(vec!["mediasoup".to_owned()]).map_err(failed)?;
        let certificate = params.self_signed(&key).map_err(failed)?;
        Ok(Self {
            der: certificate.der().to_vec(),
            private_key_der: key.serialize_der(),
        })
    }

    pub fn from_pem_files(certificate_file: &Path, private_key_file: &Path) -> Result<Self, WorkerError> {
        let certificate_pem = read_pem_file("dtlsCertificateFile", certificate_file)?;
        let private_key_pem = read_pem_file("dtlsPrivateKeyFile", private_key_file)?;
        Self::from_pem(&certificate_pem, &private_key_pem)
    }

    /// Parses both PEM texts and checks that the key belongs to the certificate.
    pub fn from_pem(certificate_pem: &str, private_key_pem: &str) -> Result<Self, WorkerError> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(certificate_pem.as_bytes())
            .map_err(|_| WorkerError::value_error("dtlsCertificateFile is not a PEM certificate"))?;
        if pem.label != "CERTIFICATE" {
            return Err(WorkerError::value_error(format!(
                "dtlsCertificateFile holds a PEM '{}', not a CERTIFICATE",
                pem.label
            )));
        }
        let (_, certificate) = x509_parser::parse_x509_certificate(&pem.contents)
            .map_err(|err| WorkerError::value_error(format!("dtlsCertificateFile is not a valid X.509 certificate: {err}")))?;
        let key = KeyPair::from_pem(private_key_pem)
            .map_err(|err| WorkerError::value_error(format!("dtlsPrivateKeyFile is not a usable PEM private key: {err}")))?;
        // The DTLS stack (str0m's dimpl) signs with ECDSA only.
        if key.algorithm() != &rcgen::PKCS_ECDSA_P256_SHA256 && key.algorithm() != &rcgen::PKCS_ECDSA_P384_SHA384 {
            return Err(WorkerError::value_error(
                "dtlsPrivateKeyFile must hold an ECDSA P-256 or P-384 key: WebRTC DTLS here signs with ECDSA only",
            ));
        }
        if certificate.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(WorkerError::value_error(
                "dtlsPrivateKeyFile does not match dtlsCertificateFile (their public keys differ)",
            ));
        }
        Ok(Self {
            der: pem.contents.clone(),
            private_key_der: key.serialize_der(),
        })
    }

    /// A self-signed ECDSA P-256 certificate for `names` (DNS names or IP
    /// addresses), valid from now for a year: what the demo serves HTTPS with.
    pub fn self_signed_for(names: Vec<String>) -> Result<Self, WorkerError> {
        let failed = |err: rcgen::Error| WorkerError::value_error(format!("cannot generate a certificate for {names:?}: {err}"));
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let params = CertificateParams::new(names.clone()).map_err(failed)?;
        let certificate = params.self_signed(&key).map_err(failed)?;
        Ok(Self { der: certificate.der().to_vec(), private_key_der: key.serialize_der() })
    }

    /// `(algorithm, 'AB:CD:…')` for each of the local fingerprint
    /// algorithms: computed where every transport computes them.
    pub fn fingerprints(&self) -> Vec<(&'static str, String)> {
        local_fingerprints(&self.der)
    }
}

/// The largest PEM file read: far above a certificate with its chain.
pub const MAX_PEM_FILE_BYTES: u64 = 1024 * 1024;

/// Checks, without opening it, that `path` (the option `option`) names a
/// regular file of at most [`MAX_PEM_FILE_BYTES`]: a FIFO would block its
/// reader, a device never end.
pub fn check_pem_file(option: &str, path: &Path) -> Result<(), WorkerError> {
    let metadata = std::fs::metadata(path)
        .map_err(|err| WorkerError::value_error(format!("{option} '{}' cannot be read: {err}", path.display())))?;
    check_pem_metadata(option, path, &metadata)
}

fn check_pem_metadata(option: &str, path: &Path, metadata: &std::fs::Metadata) -> Result<(), WorkerError> {
    if !metadata.is_file() {
        return Err(WorkerError::value_error(format!(
            "{option} '{}' is not a regular file (a PEM file is expected)",
            path.display()
        )));
    }
    if metadata.len() > MAX_PEM_FILE_BYTES {
        return Err(WorkerError::value_error(format!(
            "{option} '{}' has {} bytes, more than the {MAX_PEM_FILE_BYTES} a PEM file may have",
            path.display(),
            metadata.len()
        )));
    }
    Ok(())
}

/// Reads a PEM file: opened without blocking (a FIFO put in its place since
/// [`check_pem_file`] is refused, not waited on), checked again, read up to the cap.
fn read_pem_file(option: &str, path: &Path) -> Result<String, WorkerError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;

    let cannot = |err: std::io::Error| WorkerError::value_error(format!("{option} '{}' cannot be read: {err}", path.display()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)
        .map_err(cannot)?;
    check_pem_metadata(option, path, &file.metadata().map_err(cannot)?)?;
    let mut text = String::new();
    file.take(MAX_PEM_FILE_BYTES + 1).read_to_string(&mut text).map_err(cannot)?;
    if text.len() as u64 > MAX_PEM_FILE_BYTES {
        return Err(WorkerError::value_error(format!("{option} '{}' grew past {MAX_PEM_FILE_BYTES} bytes", path.display())));
    }
    Ok(text)
}

/// `'751b…'` → `'75:1B:…'`: hex digits to SDP's upper-case pairs.
pub fn fingerprint_to_sdp(hex: &str) -> Result<String, WorkerError> {
    let digits = !hex.is_empty() && hex.bytes().all(|byte| byte.is_ascii_hexdigit());
    let bytes = digits.then(|| decode_hex(hex, "fingerprint").ok()).flatten();
    bytes.map(|bytes| sdp_form(&bytes)).ok_or_else(|| {
        WorkerError::value_error(format!("'{hex}' is not a fingerprint: expected an even number of hex digits"))
    })
}

/// `'75:1B:…'` → `'751b…'`: SDP form to lower-case hex, no colons.
pub fn fingerprint_from_sdp(sdp: &str) -> Result<String, WorkerError> {
    parse_sdp_form(sdp).filter(|bytes| !bytes.is_empty()).map(|bytes| encode_hex(&bytes)).ok_or_else(|| {
        WorkerError::value_error(format!(
            "'{sdp}' is not an SDP fingerprint: expected hex pairs joined by colons, like '75:1B:9F'"
        ))
    })
}

#[cfg(test)]
#[path = "certificate_tests.rs"]
mod tests;
