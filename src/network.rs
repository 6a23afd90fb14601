//! The host side of `rtcListenIPv4`/`rtcListenIPv6`: detecting the primary
//! address of a family and checking that a given address can be bound.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};

use media_worker::error::WorkerError;
use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;

use crate::options::{ListenIp, ServerOptions};

/// The addresses the workers bind, after detection, and what was noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddresses {
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// Things a user should know (IPv6 off for lack of an address…), logged.
    pub warnings: Vec<String>,
}

pub fn resolve_listen_addresses(options: &ServerOptions) -> Result<ListenAddresses, WorkerError> {
    let mut warnings = Vec::new();
    let (up_v4, up_v6) = host_addresses();
    let ipv4 = match options.rtc_listen_ipv4 {
        ListenIp::Off => None,
        ListenIp::Address(address) => Some(bind_check("rtcListenIPv4", IpAddr::V4(address)).map(|_| address)?),
        ListenIp::Detect => Some(up_v4.first().copied().unwrap_or_else(|| {
            warnings.push("rtcListenIPv4=True: the host has no IPv4 but loopback; media listens on 127.0.0.1".into());
            Ipv4Addr::LOCALHOST
        })),
    };
    let ipv6 = match options.rtc_listen_ipv6 {
        ListenIp::Off => None,
        ListenIp::Address(address) => Some(bind_check("rtcListenIPv6", IpAddr::V6(address)).map(|_| address)?),
        ListenIp::Detect => {
            let detected = up_v6.first().copied();
            if detected.is_none() {
                warnings.push("rtcListenIPv6=True: the host has no global IPv6 address; IPv6 is off".into());
            }
            detected
        }
    };
    if options.rtc_announced_ipv6.is_some() && ipv6.is_none() {
        return Err(WorkerError::value_error(
            "rtcAnnouncedIPv6 is set but the host has no IPv6 address to listen on",
        ));
    }
    if ipv4.is_none() && ipv6.is_none() {
        return Err(WorkerError::value_error(
            "no address to listen on: rtcListenIPv4 is False and the host has no IPv6 address",
        ));
    }
    Ok(ListenAddresses { ipv4, ipv6, warnings })
}

/// The host's usable addresses, primary first: up, not loopback, not link-local.
fn host_addresses() -> (Vec<Ipv4Addr>, Vec<Ipv6Addr>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    let Ok(interfaces) = getifaddrs() else { return (v4, v6) };
    for interface in interfaces {
        if !interface.flags.contains(InterfaceFlags::IFF_UP) || interface.flags.contains(InterfaceFlags::IFF_LOOPBACK) {
            continue;
        }
        let Some(address) = interface.address else { continue };
        if let Some(sin) = address.as_sockaddr_in() {
            let ip = sin.ip();
            if !ip.is_loopback() && !ip.is_link_local() && !ip.is_unspecified() {
                v4.push(ip);
            }
        } else if let Some(sin6) = address.as_sockaddr_in6() {
            let ip = sin6.ip();
            let link_local = (ip.segments()[0] & 0xffc0) == 0xfe80;
            if !ip.is_loopback() && !link_local && !ip.is_unspecified() {
                v6.push(ip);
            }
        }
    }
    (v4, v6)
}

fn bind_check(option: &str, address: IpAddr) -> Result<(), WorkerError> {
    UdpSocket::bind((address, 0)).map(drop).map_err(|err| {
        WorkerError::value_error(format!("{option} '{}' cannot be bound on this host: {err}", address))
    })
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
