//! Unit tests of `options.rs`.

use super::*;
use media_worker::error::ErrorKind;

fn parse(options: &[(&str, OptionValue)]) -> Result<ServerOptions, WorkerError> {
    let owned: Vec<_> = options.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    ServerOptions::parse(&owned, 4)
}

fn str_value(text: &str) -> OptionValue {
    OptionValue::Str(text.into())
}

#[test]
fn defaults_are_the_seeds() {
    let options = parse(&[]).unwrap();
    assert_eq!(options.num_workers, 4);
    assert_eq!(options.log_level, LogLevel::Debug);
    assert_eq!(options.rtc_listen_ipv4, ListenIp::Detect);
    assert_eq!(options.rtc_listen_ipv6, ListenIp::Detect);
    assert_eq!((options.rtc_min_port, options.rtc_max_port), (10000, 59999));
    assert_eq!(options.dtls_files, None);
    assert!(!options.rtc_port_per_worker);
    assert!(parse(&[("rtc_port_per_worker", OptionValue::Bool(true))]).unwrap().rtc_port_per_worker);
}

#[test]
fn snake_case_aliases_follow_one_rule() {
    assert_eq!(snake_case("numWorkers"), "num_workers");
    assert_eq!(snake_case("rtcListenIPv4"), "rtc_listen_ipv4");
    assert_eq!(snake_case("rtcAnnouncedIPv6"), "rtc_announced_ipv6");
    assert_eq!(snake_case("fingerprintFromSDP"), "fingerprint_from_sdp");
    assert_eq!(snake_case("closed"), "closed");
    let options = parse(&[("num_workers", OptionValue::Int(2)), ("rtc_listen_ipv6", OptionValue::Bool(false))]).unwrap();
    assert_eq!(options.num_workers, 2);
    assert_eq!(options.rtc_listen_ipv6, ListenIp::Off);
}

#[test]
fn none_means_the_default() {
    let options = parse(&[("numWorkers", OptionValue::None)]).unwrap();
    assert_eq!(options.num_workers, 4);
}

#[test]
fn every_bad_option_is_named_with_its_value() {
    use OptionValue::*;
    type Case<'a> = (Vec<(&'a str, OptionValue)>, ErrorKind, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("chicken", Int(1))], ErrorKind::TypeError, "unknown option 'chicken'"),
        (vec![("numWorkers", Int(1)), ("num_workers", Int(2))], ErrorKind::TypeError, "given twice"),
        (vec![("numWorkers", Bool(true))], ErrorKind::TypeError, "numWorkers must be an int, not bool"),
        (vec![("numWorkers", str_value("2"))], ErrorKind::TypeError, "numWorkers must be an int, not str"),
        (vec![("numWorkers", Int(0))], ErrorKind::ValueError, "numWorkers must be within 1-65535, not 0"),
        (vec![("logLevel", str_value("chicken"))], ErrorKind::ValueError, "'chicken'"),
        (vec![("logLevel", Int(3))], ErrorKind::TypeError, "logLevel must be a str"),
        (vec![("rtcListenIPv4", str_value("::1"))], ErrorKind::ValueError, "rtcListenIPv4 must be an IPv4 address"),
        (vec![("rtcListenIPv6", str_value("127.0.0.1"))], ErrorKind::ValueError, "rtcListenIPv6 must be an IPv6 address"),
        (vec![("rtcListenIPv4", Int(1))], ErrorKind::TypeError, "rtcListenIPv4 must be a str or a bool, not int"),
        (vec![("rtcListenIPv4", Bool(false)), ("rtcListenIPv6", Bool(false))], ErrorKind::ValueError, "both False"),
        (vec![("rtcMinPort", Int(80))], ErrorKind::ValueError, "rtcMinPort must be within 1024-65535, not 80"),
        (vec![("rtcMaxPort", Int(70000))], ErrorKind::ValueError, "rtcMaxPort must be within 1024-65535, not 70000"),
        (vec![("rtcMinPort", Int(20000)), ("rtcMaxPort", Int(10000))], ErrorKind::ValueError, "rtcMinPort 20000 is greater than rtcMaxPort 10000"),
        (vec![("rtcMinPort", Int(20000)), ("rtcMaxPort", Int(20002)), ("numWorkers", Int(4))], ErrorKind::ValueError, "3 ports: too few for numWorkers=4"),
        (vec![("rtcMinPort", Other("float".into()))], ErrorKind::TypeError, "rtcMinPort must be an int, not float"),
        (vec![("dtlsCertificateFile", str_value("/c.pem"))], ErrorKind::ValueError, "dtlsPrivateKeyFile is not"),
        (vec![("dtlsPrivateKeyFile", str_value("/k.pem"))], ErrorKind::ValueError, "dtlsCertificateFile is not"),
        (vec![("rtcAnnouncedIPv4", str_value("nope"))], ErrorKind::ValueError, "rtcAnnouncedIPv4 must be an IPv4 address, not 'nope'"),
        (vec![("rtcAnnouncedIPv6", str_value("1.2.3.4"))], ErrorKind::ValueError, "rtcAnnouncedIPv6 must be an IPv6 address"),
        (vec![("rtcListenIPv6", Bool(false)), ("rtcAnnouncedIPv6", str_value("2001:db8::1"))], ErrorKind::ValueError, "rtcListenIPv6 is False"),
        (vec![("rtcListenIPv4", str_value("0.0.0.0"))], ErrorKind::ValueError, "needs rtcAnnouncedIPv4"),
        (vec![("rtcPortPerWorker", Int(1))], ErrorKind::TypeError, "rtcPortPerWorker must be a bool, not int"),
    ];
    for (options, kind, needle) in cases {
        let err = parse(&options).unwrap_err();
        assert_eq!(err.kind, kind, "{options:?}: {err}");
        assert!(err.message.contains(needle), "{options:?}: {err}");
    }
}

#[test]
fn the_port_range_splits_into_disjoint_sub_ranges_covering_it() {
    let options = parse(&[("numWorkers", OptionValue::Int(3)), ("rtcMinPort", OptionValue::Int(10000)), ("rtcMaxPort", OptionValue::Int(10010))]).unwrap();
    assert_eq!(options.port_ranges(), vec![(10000, 10002), (10003, 10005), (10006, 10010)]);
    let single = parse(&[("numWorkers", OptionValue::Int(1)), ("rtcMinPort", OptionValue::Int(65535)), ("rtcMaxPort", OptionValue::Int(65535))]).unwrap();
    assert_eq!(single.port_ranges(), vec![(65535, 65535)]);
    let full = parse(&[("numWorkers", OptionValue::Int(7))]).unwrap();
    let ranges = full.port_ranges();
    assert_eq!(ranges.first().unwrap().0, 10000);
    assert_eq!(ranges.last().unwrap().1, 59999);
    for pair in ranges.windows(2) {
        assert_eq!(pair[0].1 + 1, pair[1].0);
    }
}
