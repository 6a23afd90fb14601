//! The server's options: the one table they are defined in, and their parsing
//! and validation. Pure Rust (no Python types), so every rule has a unit test;
//! `settings.rs` converts Python values into [`OptionValue`]s.

use std::ops::RangeInclusive;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use media_worker::error::WorkerError;
use media_worker::channel::settings::LogLevel;

/// One option of `mediasoup.Server()`: its seed name, accepted types and default.
pub struct OptionSpec {
    pub name: &'static str,
    pub types: &'static str,
    pub default: &'static str,
    pub doc: &'static str,
}

/// The options table of the SPEC. Validation, the snake_case aliases, the
/// stubs' docs and the `docs/` table are checked against it.
pub const SERVER_OPTIONS: &[OptionSpec] = &[
    OptionSpec { name: "numWorkers", types: "int", default: "number of CPU cores", doc: "worker processes (1 to the ports in the range)" },
    OptionSpec { name: "logLevel", types: "str", default: "'debug'", doc: "worker log level: 'debug', 'warn' or 'error'" },
    OptionSpec { name: "rtcListenIPv4", types: "str | bool", default: "True", doc: "IPv4 to bind for media; True: the host's primary IPv4; False: no IPv4" },
    OptionSpec { name: "rtcListenIPv6", types: "str | bool", default: "True", doc: "IPv6 to bind for media; True: the host's primary IPv6 (off with a warning if none); False: no IPv6" },
    OptionSpec { name: "rtcMinPort", types: "int", default: "10000", doc: "lowest media port (1024-65535)" },
    OptionSpec { name: "rtcMaxPort", types: "int", default: "59999", doc: "highest media port (1024-65535); the range is split among the workers" },
    OptionSpec { name: "dtlsCertificateFile", types: "str | os.PathLike", default: "unset: a certificate is generated", doc: "PEM certificate; needs dtlsPrivateKeyFile" },
    OptionSpec { name: "dtlsPrivateKeyFile", types: "str | os.PathLike", default: "unset: a certificate is generated", doc: "PEM private key; needs dtlsCertificateFile" },
    OptionSpec { name: "rtcAnnouncedIPv4", types: "str", default: "unset", doc: "IPv4 written into ICE candidates instead of the bound one (NAT, cloud)" },
    OptionSpec { name: "rtcAnnouncedIPv6", types: "str", default: "unset", doc: "IPv6 written into ICE candidates instead of the bound one" },
    OptionSpec { name: "rtcPortPerWorker", types: "bool", default: "False", doc: "True: each worker's transports share one UDP and one TCP port, the first of its sub-range" },
];

pub const MIN_PORT: i64 = 1024;
pub const MAX_PORT: i64 = 65535;

/// A Python value as the option parser sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    None,
    Bool(bool),
    Int(i64),
    /// An int beyond 64 bits, by its digits.
    BigInt(String),
    Str(String),
    /// Any other type, by its Python name.
    Other(String),
}

impl OptionValue {
    fn type_name(&self) -> &str {
        match self {
            OptionValue::None => "None",
            OptionValue::Bool(_) => "bool",
            OptionValue::Int(_) | OptionValue::BigInt(_) => "int",
            OptionValue::Str(_) => "str",
            OptionValue::Other(name) => name,
        }
    }
}

/// `rtcListenIPv4` / `rtcListenIPv6` before the host is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenIp<A> {
    /// True: the host's primary address of that family.
    Detect,
    /// False.
    Off,
    Address(A),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerOptions {
    pub num_workers: usize,
    pub log_level: LogLevel,
    pub rtc_listen_ipv4: ListenIp<Ipv4Addr>,
    pub rtc_listen_ipv6: ListenIp<Ipv6Addr>,
    pub rtc_min_port: u16,
    pub rtc_max_port: u16,
    /// Both or neither.
    pub dtls_files: Option<(PathBuf, PathBuf)>,
    pub rtc_announced_ipv4: Option<Ipv4Addr>,
    pub rtc_announced_ipv6: Option<Ipv6Addr>,
    pub rtc_port_per_worker: bool,
}

/// `rtcListenIPv4` → `rtc_listen_ipv4`: the snake_case alias of a camelCase
/// name. An upper-case letter after a lower-case one or a digit starts a word;
/// a run of capitals (`IP`, `SDP`) stays one word.
pub fn snake_case(name: &str) -> String {
    let mut snake = String::with_capacity(name.len() + 4);
    let mut previous: Option<char> = None;
    for ch in name.chars() {
        if ch.is_ascii_uppercase() {
            if previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
                snake.push('_');
            }
            snake.push(ch.to_ascii_lowercase());
        } else {
            snake.push(ch);
        }
        previous = Some(ch);
    }
    snake
}

/// The table's name for `key`, given in either form.
pub fn canonical_option_name(key: &str) -> Option<&'static str> {
    SERVER_OPTIONS
        .iter()
        .find(|spec| spec.name == key || snake_case(spec.name) == key)
        .map(|spec| spec.name)
}

impl ServerOptions {
    /// Parses options given as (name, value) pairs, names camelCase or
    /// snake_case. `cpus` is the default of `numWorkers`. Nothing here looks
    /// at the host: see `network.rs` for detection and the bind check.
    pub fn parse(options: &[(String, OptionValue)], cpus: usize) -> Result<Self, WorkerError> {
        let mut values: Vec<(&'static str, &OptionValue)> = Vec::new();
        for (key, value) in options {
            let name = canonical_option_name(key).ok_or_else(|| {
                let names: Vec<_> = SERVER_OPTIONS.iter().map(|spec| spec.name).collect();
                WorkerError::type_error(format!(
                    "unknown option '{key}'; the options are {}",
                    names.join(", ")
                ))
            })?;
            if values.iter().any(|(seen, _)| *seen == name) {
                return Err(WorkerError::type_error(format!(
                    "option {name} is given twice (camelCase and snake_case)"
                )));
            }
            if *value != OptionValue::None {
                values.push((name, value));
            }
        }
        let get = |name: &str| values.iter().find(|(seen, _)| *seen == name).map(|(_, value)| *value);

        let num_workers = match get("numWorkers") {
            None => cpus.max(1),
            Some(value) => {
                let count = int_option("numWorkers", value, 1..=MAX_PORT)?;
                usize::try_from(count).unwrap_or(usize::MAX)
            }
        };
        let log_level = match get("logLevel") {
            None => LogLevel::Debug,
            Some(value) => str_option("logLevel", value)?.parse()?,
        };
        let rtc_listen_ipv4: ListenIp<Ipv4Addr> = listen_option("rtcListenIPv4", get("rtcListenIPv4"))?;
        let rtc_listen_ipv6: ListenIp<Ipv6Addr> = listen_option("rtcListenIPv6", get("rtcListenIPv6"))?;
        if rtc_listen_ipv4 == ListenIp::Off && rtc_listen_ipv6 == ListenIp::Off {
            return Err(WorkerError::value_error(
                "rtcListenIPv4 and rtcListenIPv6 are both False: media needs at least one",
            ));
        }
        let rtc_min_port = port_option("rtcMinPort", get("rtcMinPort"), 10000)?;
        let rtc_max_port = port_option("rtcMaxPort", get("rtcMaxPort"), 59999)?;
        if rtc_min_port > rtc_max_port {
            return Err(WorkerError::value_error(format!(
                "rtcMinPort {rtc_min_port} is greater than rtcMaxPort {rtc_max_port}"
            )));
        }
        let ports = usize::from(rtc_max_port - rtc_min_port) + 1;
        if ports < num_workers {
            return Err(WorkerError::value_error(format!(
                "the port range {rtc_min_port}-{rtc_max_port} has {ports} ports: too few for numWorkers={num_workers}"
            )));
        }
        let certificate = get("dtlsCertificateFile").map(|v| str_option("dtlsCertificateFile", v)).transpose()?;
        let private_key = get("dtlsPrivateKeyFile").map(|v| str_option("dtlsPrivateKeyFile", v)).transpose()?;
        let dtls_files = match (certificate, private_key) {
            (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
            (None, None) => None,
            (Some(_), None) => {
                return Err(WorkerError::value_error("dtlsCertificateFile is set but dtlsPrivateKeyFile is not: give both or neither"));
            }
            (None, Some(_)) => {
                return Err(WorkerError::value_error("dtlsPrivateKeyFile is set but dtlsCertificateFile is not: give both or neither"));
            }
        };
        let rtc_announced_ipv4 = announced_option("rtcAnnouncedIPv4", get("rtcAnnouncedIPv4"), rtc_listen_ipv4 != ListenIp::Off, |ip| match ip {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })?;
        let rtc_announced_ipv6 = announced_option("rtcAnnouncedIPv6", get("rtcAnnouncedIPv6"), rtc_listen_ipv6 != ListenIp::Off, |ip| match ip {
            IpAddr::V6(v6) => Some(v6),
            IpAddr::V4(_) => None,
        })?;
        if matches!(rtc_listen_ipv4, ListenIp::Address(ip) if ip.is_unspecified()) && rtc_announced_ipv4.is_none() {
            return Err(WorkerError::value_error(
                "rtcListenIPv4 '0.0.0.0' needs rtcAnnouncedIPv4: ICE candidates cannot carry an unspecified address",
            ));
        }
        if matches!(rtc_listen_ipv6, ListenIp::Address(ip) if ip.is_unspecified()) && rtc_announced_ipv6.is_none() {
            return Err(WorkerError::value_error(
                "rtcListenIPv6 '::' needs rtcAnnouncedIPv6: ICE candidates cannot carry an unspecified address",
            ));
        }
        let rtc_port_per_worker = get("rtcPortPerWorker").map(|v| bool_option("rtcPortPerWorker", v)).transpose()?.unwrap_or(false);
        Ok(Self {
            num_workers,
            log_level,
            rtc_listen_ipv4,
            rtc_listen_ipv6,
            rtc_min_port,
            rtc_max_port,
            dtls_files,
            rtc_announced_ipv4,
            rtc_announced_ipv6,
            rtc_port_per_worker,
        })
    }

    /// The port range split into `num_workers` disjoint sub-ranges; the last
    /// one takes the remainder.
    pub fn port_ranges(&self) -> Vec<(u16, u16)> {
        let total = u32::from(self.rtc_max_port - self.rtc_min_port) + 1;
        let workers = self.num_workers as u32;
        let each = total / workers;
        (0..workers)
            .map(|index| {
                let first = u32::from(self.rtc_min_port) + index * each;
                let last = if index + 1 == workers { u32::from(self.rtc_max_port) } else { first + each - 1 };
                (first as u16, last as u16)
            })
            .collect()
    }
}

/// An int option within `range` (a worker needs a port of its own, so
/// numWorkers stops at the ports there are).
fn int_option(name: &str, value: &OptionValue, range: RangeInclusive<i64>) -> Result<i64, WorkerError> {
    let out_of_range = |shown: &dyn std::fmt::Display| {
        WorkerError::value_error(format!("{name} must be within {}-{}, not {shown:.40}", range.start(), range.end()))
    };
    match value {
        OptionValue::Int(number) if range.contains(number) => Ok(*number),
        OptionValue::Int(number) => Err(out_of_range(number)),
        OptionValue::BigInt(digits) => Err(out_of_range(digits)),
        other => Err(WorkerError::type_error(format!("{name} must be an int, not {}", other.type_name()))),
    }
}

fn bool_option(name: &str, value: &OptionValue) -> Result<bool, WorkerError> {
    match value {
        OptionValue::Bool(flag) => Ok(*flag),
        other => Err(WorkerError::type_error(format!("{name} must be a bool, not {}", other.type_name()))),
    }
}

fn str_option<'a>(name: &str, value: &'a OptionValue) -> Result<&'a str, WorkerError> {
    match value {
        OptionValue::Str(text) => Ok(text),
        other => Err(WorkerError::type_error(format!("{name} must be a str, not {}", other.type_name()))),
    }
}

fn port_option(name: &str, value: Option<&OptionValue>, default: u16) -> Result<u16, WorkerError> {
    let Some(value) = value else { return Ok(default) };
    Ok(int_option(name, value, MIN_PORT..=MAX_PORT)? as u16)
}

fn listen_option<A: std::str::FromStr>(name: &str, value: Option<&OptionValue>) -> Result<ListenIp<A>, WorkerError> {
    let family = if name.ends_with("IPv4") { "IPv4" } else { "IPv6" };
    match value {
        None | Some(OptionValue::Bool(true)) => Ok(ListenIp::Detect),
        Some(OptionValue::Bool(false)) => Ok(ListenIp::Off),
        Some(OptionValue::Str(text)) => text.parse().map(ListenIp::Address).map_err(|_| {
            WorkerError::value_error(format!("{name} must be an {family} address, True or False, not '{text}'"))
        }),
        Some(other) => Err(WorkerError::type_error(format!(
            "{name} must be a str or a bool, not {}",
            other.type_name()
        ))),
    }
}

fn announced_option<A>(
    name: &str,
    value: Option<&OptionValue>,
    family_enabled: bool,
    of_family: impl Fn(IpAddr) -> Option<A>,
) -> Result<Option<A>, WorkerError> {
    let Some(value) = value else { return Ok(None) };
    let text = str_option(name, value)?;
    let family = if name.ends_with("IPv4") { "IPv4" } else { "IPv6" };
    let address = text
        .parse::<IpAddr>()
        .ok()
        .and_then(of_family)
        .ok_or_else(|| WorkerError::value_error(format!("{name} must be an {family} address, not '{text}'")))?;
    if !family_enabled {
        return Err(WorkerError::value_error(format!(
            "{name} is set but rtcListen{family} is False: nothing would be announced"
        )));
    }
    Ok(Some(address))
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
