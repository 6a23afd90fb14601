//! Unit tests of `message.rs`.

use super::*;
use serde_json::json;

#[test]
fn a_request_round_trips_through_its_frame() {
    let frame = RequestFrame {
        id: 7,
        request: Request::RoomCreate(RoomCreate {
            room_id: "r1".into(),
            media_codecs: None,
            force_unique_payload_types: true,
        }),
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
