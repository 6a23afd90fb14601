//! What a worker is started with: the part of the server's options that
//! concerns one worker (its port sub-range, listen addresses, certificate).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::WorkerError;

/// The worker log level of the seed: 'debug', 'warn' or 'error'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Warn,
    Error,
}

impl LogLevel {
    pub const ALL: [LogLevel; 3] = [LogLevel::Debug, LogLevel::Warn, LogLevel::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }

    /// Whether a `tracing` event of `level` passes this filter. 'debug' lets
    /// everything through (info and trace included).
    pub fn allows(self, level: &tracing::Level) -> bool {
        match self {
            LogLevel::Debug => true,
            LogLevel::Warn => *level <= tracing::Level::WARN,
            LogLevel::Error => *level <= tracing::Level::ERROR,
        }
    }
}

impl FromStr for LogLevel {
    type Err = WorkerError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        LogLevel::ALL
            .into_iter()
            .find(|level| level.as_str() == value)
            .ok_or_else(|| {
                WorkerError::value_error(format!(
                    "logLevel must be 'debug', 'warn' or 'error', not '{value}'"
                ))
            })
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything one worker needs, sent in its `worker.init` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkerSettings {
    pub log_level: LogLevel,
    pub rtc_listen_ipv4: Option<Ipv4Addr>,
    pub rtc_listen_ipv6: Option<Ipv6Addr>,
    pub rtc_announced_ipv4: Option<Ipv4Addr>,
    pub rtc_announced_ipv6: Option<Ipv6Addr>,
    /// This worker's sub-range of the server's port range, inclusive.
    pub rtc_min_port: u16,
    pub rtc_max_port: u16,
    /// Every transport of the worker shares one UDP and one TCP port per
    /// listen address: `rtc_min_port` (mediasoup's WebRtcServer).
    #[serde(default)]
    pub rtc_port_per_worker: bool,
    /// The DTLS certificate (DER, hex) and its PKCS#8 private key (DER, hex),
    /// shared by every worker of a server.
    pub dtls_certificate_der: String,
    pub dtls_private_key_der: String,
}

impl WorkerSettings {
    /// Checks what serde cannot: a usable port range and a decodable certificate.
    pub fn validate(&self) -> Result<(), WorkerError> {
        if self.rtc_min_port == 0 || self.rtc_min_port > self.rtc_max_port {
            return Err(WorkerError::value_error(format!(
                "invalid port range {}-{}",
                self.rtc_min_port, self.rtc_max_port
            )));
        }
        if self.rtc_listen_ipv4.is_none() && self.rtc_listen_ipv6.is_none() {
            return Err(WorkerError::value_error("no listen address: IPv4 and IPv6 both off"));
        }
        decode_hex(&self.dtls_certificate_der, "dtlsCertificateDer")?;
        decode_hex(&self.dtls_private_key_der, "dtlsPrivateKeyDer")?;
        Ok(())
    }
}

/// Lower-case hex of `bytes`, the form certificates travel in over the Channel.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    text
}

/// Bytes of a hex string; `field` names it in the error.
pub fn decode_hex(text: &str, field: &str) -> Result<Vec<u8>, WorkerError> {
    let invalid = || WorkerError::value_error(format!("{field} is not a hex string"));
    if !text.len().is_multiple_of(2) {
        return Err(invalid());
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digits = std::str::from_utf8(pair).map_err(|_| invalid())?;
            u8::from_str_radix(digits, 16).map_err(|_| invalid())
        })
        .collect()
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
