//! Unit tests of `peer_capabilities.rs`.

use super::*;
use crate::error::ErrorKind;

#[test]
fn client_capabilities_are_normalised() {
    let caps = parse_peer_capabilities(&json!({
        "codecs": [
            {"mimeType": "audio/opus", "kind": "audio", "preferredPayloadType": 100, "clockRate": 48000,
             "channels": 2, "parameters": null, "rtcpFeedback": [{"type": "transport-cc"}], "extra": 1},
            {"mimeType": "video/rtx", "kind": "video", "preferredPayloadType": 102, "clockRate": 90000,
             "parameters": {"apt": 101}},
        ],
        "headerExtensions": [{"kind": "audio", "uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "preferredId": 1,
                              "preferredEncrypt": false, "direction": "sendrecv"}],
    }))
    .unwrap();
    assert_eq!(caps["codecs"][0]["parameters"], json!({}));
    assert_eq!(caps["codecs"][0]["channels"], json!(2));
    assert!(caps["codecs"][0].get("extra").is_none());
    assert_eq!(caps["codecs"][1]["parameters"]["apt"], json!(101));
    assert_eq!(caps["headerExtensions"][0]["preferredId"], json!(1));
}

#[test]
fn bad_capabilities_name_the_field() {
    let cases = [
        (json!([]), ErrorKind::TypeError, "rtpCapabilities must be a dict"),
        (json!({"codecs": {}}), ErrorKind::TypeError, "rtpCapabilities.codecs must be a list"),
        (json!({"codecs": vec![json!({}); 129]}), ErrorKind::ValueError, "rtpCapabilities.codecs has 129 entries: at most 128"),
        (json!({"headerExtensions": vec![json!({}); 511]}), ErrorKind::ValueError, "rtpCapabilities.headerExtensions has 511 entries: at most 510"),
        (json!({"codecs": [{"mimeType": "audio/opus", "preferredPayloadType": 111, "clockRate": -1}]}), ErrorKind::ValueError, "clockRate must be an int of 1-4294967295, not -1"),
        (json!({"codecs": [{"mimeType": "audio/opus", "clockRate": 48000}]}), ErrorKind::TypeError, "codecs[0].preferredPayloadType is required"),
        (json!({"codecs": [{"mimeType": "opus", "preferredPayloadType": 1, "clockRate": 1}]}), ErrorKind::ValueError, "must look like"),
        (json!({"codecs": [{"mimeType": "audio/opus", "kind": "video", "preferredPayloadType": 1, "clockRate": 1}]}), ErrorKind::ValueError, "does not match"),
        (json!({"codecs": [{"mimeType": "audio/opus", "preferredPayloadType": 200, "clockRate": 1}]}), ErrorKind::ValueError, "must be an int of 0-127, not 200"),
        (json!({"headerExtensions": [{"uri": "x", "preferredId": 0}]}), ErrorKind::ValueError, "1-255"),
    ];
    for (input, kind, needle) in cases {
        let err = parse_peer_capabilities(&input).unwrap_err();
        assert_eq!(err.kind, kind, "{input}: {err}");
        assert!(err.message.contains(needle), "{input}: {err}");
    }
}
