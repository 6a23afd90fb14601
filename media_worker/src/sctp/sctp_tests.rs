//! Unit tests of `sctp/mod.rs`: what `produceData` hands over, read or refused.

use serde_json::json;

use super::*;

#[test]
fn a_reliable_ordered_channel_is_the_default_and_round_trips() {
    let options = parse_channel_options(&json!({"streamId": 3}), &json!("chat"), &json!(null)).unwrap();
    assert_eq!(options, ChannelOptions { label: "chat".into(), protocol: String::new(), ordered: true, reliability: Reliability::Reliable, stream_id: Some(3) });
    assert_eq!(options.to_json(), json!({"label": "chat", "protocol": "", "sctpStreamParameters": {"streamId": 3, "ordered": true}}));
}

#[test]
fn partial_reliability_is_unordered_unless_said_otherwise() {
    let lifetime = parse_channel_options(&json!({"streamId": 0, "maxPacketLifeTime": 300}), &json!("cursor"), &json!("json")).unwrap();
    assert_eq!((lifetime.ordered, lifetime.reliability), (false, Reliability::MaxPacketLifeTime(300)));
    assert_eq!(lifetime.sctp_stream_parameters(), json!({"streamId": 0, "ordered": false, "maxPacketLifeTime": 300}));
    let retransmits = parse_channel_options(&json!({"streamId": 1, "maxRetransmits": 0, "ordered": true}), &json!("x"), &json!(null)).unwrap();
    assert_eq!((retransmits.ordered, retransmits.reliability), (true, Reliability::MaxRetransmits(0)));
}

#[test]
fn bad_parameters_are_refused_with_their_name() {
    let refused = |parameters: serde_json::Value, label: serde_json::Value| {
        parse_channel_options(&parameters, &label, &json!(null)).unwrap_err().to_string()
    };
    assert!(refused(json!({}), json!("a")).contains("needs a streamId"));
    assert!(refused(json!({"streamId": 1024}), json!("a")).contains("0..1023"));
    assert!(refused(json!({"streamId": -1}), json!("a")).contains("streamId"));
    assert!(refused(json!({"streamId": "1"}), json!("a")).contains("must be an int"));
    assert!(refused(json!({"streamId": 1, "maxRetransmits": 1, "maxPacketLifeTime": 1}), json!("a")).contains("not both"));
    assert!(refused(json!({"streamId": 1, "maxRetransmits": 70000}), json!("a")).contains("maxRetransmits"));
    assert!(refused(json!({"streamId": 1, "ordered": "yes"}), json!("a")).contains("ordered"));
    assert!(refused(json!([1]), json!("a")).contains("must be a dict"));
    assert!(refused(json!({"streamId": 1}), json!(5)).contains("label must be a str"));
    assert!(refused(json!({"streamId": 1}), json!("x".repeat(MAX_LABEL_BYTES + 1))).contains("at most"));
}

#[test]
fn names_that_do_not_fit_a_dcep_open_are_refused_in_band_only() {
    let names = |label: usize, protocol: usize, stream_id: Option<u16>| ChannelOptions {
        label: "l".repeat(label),
        protocol: "p".repeat(protocol),
        ordered: true,
        reliability: Reliability::Reliable,
        stream_id,
    };
    assert!(check_in_band_names(&names(744, 744, None)).is_ok(), "1,488 bytes fit");
    let refused = check_in_band_names(&names(745, 744, None)).unwrap_err();
    assert!(refused.message.contains("at most 1488 bytes of label and protocol together, not 1489"), "{}", refused.message);
    // Out of band, no DCEP is written: any names the endpoint gave.
    assert!(check_in_band_names(&names(1024, 1024, Some(3))).is_ok());
}
