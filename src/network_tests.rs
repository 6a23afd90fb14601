//! Unit tests of `network.rs`.

use super::*;
use crate::options::OptionValue;

fn options(pairs: &[(&str, OptionValue)]) -> ServerOptions {
    let owned: Vec<_> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    ServerOptions::parse(&owned, 1).unwrap()
}

#[test]
fn loopback_binds_and_a_foreign_address_does_not() {
    let ok = resolve_listen_addresses(&options(&[
        ("rtcListenIPv4", OptionValue::Str("127.0.0.1".into())),
        ("rtcListenIPv6", OptionValue::Bool(false)),
    ]))
    .unwrap();
    assert_eq!(ok.ipv4, Some(Ipv4Addr::LOCALHOST));
    assert_eq!(ok.ipv6, None);

    let err = resolve_listen_addresses(&options(&[("rtcListenIPv4", OptionValue::Str("192.0.2.1".into()))]))
        .unwrap_err();
    assert!(err.message.contains("rtcListenIPv4 '192.0.2.1' cannot be bound"), "{err}");
}

#[test]
fn detection_never_picks_loopback_or_link_local() {
    let (v4, v6) = host_addresses();
    assert!(v4.iter().all(|ip| !ip.is_loopback()));
    assert!(v6.iter().all(|ip| !ip.is_loopback() && (ip.segments()[0] & 0xffc0) != 0xfe80));
}
