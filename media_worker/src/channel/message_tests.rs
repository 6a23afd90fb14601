//! Unit tests of `message.rs`.

use super::*;
use serde_json::json;

#[test]
fn a_request_round_trips_through_its_frame() {
    let frame = RequestFrame {
        id: 7,
        request: Request::RoomCreate(RoomCreate { force_unique_payload_types: true, ..RoomCreate::new("r1") }),
    };
    let bytes = serde_json::to_vec(&frame).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\"method\":\"room.create\""), "{text}");
    assert!(text.contains("\"roomId\":\"r1\""), "{text}");
    assert_eq!(RequestFrame::parse(&bytes).unwrap(), frame);
}

#[test]
fn a_method_without_data_parses() {
    let frame = RequestFrame::parse(br#"{"id":1,"method":"worker.dump"}"#).unwrap();
    assert_eq!(frame.request, Request::WorkerDump);
}

#[test]
fn malformed_frames_report_the_id_when_they_have_one() {
    let (id, err) = RequestFrame::parse(b"not json").unwrap_err();
    assert_eq!(id, None);
    assert!(err.message.contains("malformed"), "{err}");

    let (id, err) = RequestFrame::parse(br#"{"id":3,"method":"room.explode"}"#).unwrap_err();
    assert_eq!(id, Some(3));
    assert!(err.message.contains("room.explode"), "{err}");

    let (id, _) = RequestFrame::parse(br#"{"id":4,"method":"room.close","data":{}}"#)
        .unwrap_err();
    assert_eq!(id, Some(4));

    let (id, _) = RequestFrame::parse(br#"[1,2,3]"#).unwrap_err();
    assert_eq!(id, None);
    let (id, _) = RequestFrame::parse(br#"{"id":-1,"method":"worker.dump"}"#).unwrap_err();
    assert_eq!(id, None);
}

#[test]
fn worker_messages_are_tagged_by_type() {
    let response = WorkerMessage::Response(Response::new(Some(2), Ok(json!({"pid": 1}))));
    let text = serde_json::to_string(&response).unwrap();
    assert_eq!(text, r#"{"type":"response","id":2,"data":{"pid":1}}"#);
    let error = WorkerMessage::Response(Response::new(
        Some(3),
        Err(WorkerError::value_error("bad")),
    ));
    let text = serde_json::to_string(&error).unwrap();
    assert_eq!(
        serde_json::from_str::<WorkerMessage>(&text).unwrap(),
        error,
        "{text}"
    );
    let log = WorkerMessage::Notification(Notification::log(&LogRecord {
        level: "warn".into(),
        target: "media_worker::room".into(),
        message: "hi".into(),
    }));
    let text = serde_json::to_string(&log).unwrap();
    assert!(text.starts_with(r#"{"type":"notification","event":"log""#), "{text}");
    assert_eq!(serde_json::from_str::<WorkerMessage>(&text).unwrap(), log);
}

#[test]
fn the_id_of_a_frame_too_deep_to_parse_is_read_from_its_head() {
    let mut nested = String::new();
    for _ in 0..200 {
        nested.push_str("{\"a\":");
    }
    nested.push('1');
    nested.push_str(&"}".repeat(200));
    let request = format!(r#"{{"id":41,"method":"peer.setCapabilities","data":{nested}}}"#);
    let (id, err) = RequestFrame::parse(request.as_bytes()).unwrap_err();
    assert_eq!(id, Some(41));
    assert!(err.message.contains("recursion limit"), "{err}");
}

#[test]
fn frames_start_with_the_heads_leading_id_reads() {
    let request = serde_json::to_vec(&RequestFrame { id: 12, request: Request::WorkerDump }).unwrap();
    assert!(request.starts_with(REQUEST_HEAD));
    assert_eq!(leading_id(&request, REQUEST_HEAD), Some(12));
    let answer = serde_json::to_vec(&WorkerMessage::Response(Response::new(Some(4_000_000_000), Ok(json!(1))))).unwrap();
    assert_eq!(leading_id(&answer, RESPONSE_HEAD), Some(4_000_000_000));
    let notification = serde_json::to_vec(&WorkerMessage::Notification(Notification::log(&LogRecord {
        level: "warn".into(),
        target: "t".into(),
        message: "m".into(),
    })))
    .unwrap();
    assert_eq!(leading_id(&notification, RESPONSE_HEAD), None);
    for bad in [&b"{\"id\":"[..], b"{\"id\":x", b"{\"id\":99999999999,", b"{\"id\":12"] {
        assert_eq!(leading_id(bad, REQUEST_HEAD), None, "{}", String::from_utf8_lossy(bad));
    }
}

/// Asserts that `table` holds exactly the names serde lists as expected
/// in `error` (an unknown name's): the variants' names, from the derive.
fn assert_table_is_the_variants(table: &[&str], error: &str) {
    let list = error.split("expected one of ").nth(1).unwrap_or_else(|| panic!("no list in {error}"));
    let mut variants: Vec<&str> = list.split(", ").map(|name| name.trim_matches('`')).collect();
    let mut table = table.to_vec();
    variants.sort_unstable();
    table.sort_unstable();
    assert_eq!(table, variants);
}

#[test]
fn the_method_table_is_exactly_the_requests_variants() {
    let error = serde_json::from_value::<Request>(json!({"method": "no.such", "data": null})).unwrap_err();
    assert_table_is_the_variants(&Request::METHODS, &error.to_string());
}

#[test]
fn the_event_table_is_exactly_the_notification_events() {
    let error = serde_json::from_value::<NotificationEvent>(json!("no.such")).unwrap_err();
    assert_table_is_the_variants(&NotificationEvent::NAMES, &error.to_string());
}

#[test]
fn the_transport_options_table_is_exactly_the_fields_of_transport_create() {
    let create = TransportCreate {
        peer_id: "p".into(),
        transport_id: "t".into(),
        udp: true,
        tcp: true,
        prefer_ipv4: false,
        prefer_ipv6: false,
        prefer_udp: false,
        prefer_tcp: false,
        enable_sctp: false,
    };
    let fields: Vec<String> = serde_json::to_value(&create).unwrap().as_object().unwrap().keys().cloned().collect();
    let mut options: Vec<String> = TRANSPORT_OPTIONS.iter().map(|(name, _)| (*name).to_owned()).collect();
    options.extend(["peerId".to_owned(), "transportId".to_owned()]);
    let mut fields = fields;
    fields.sort();
    options.sort();
    assert_eq!(fields, options);
}
