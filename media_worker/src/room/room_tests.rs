//! Unit tests of `room.rs`.

use super::*;

fn room_with_peers(count: usize) -> Room {
    let mut room = Room::new(&RoomCreate::new("r"), 1).unwrap();
    room.peers = (0..count).map(|index| (format!("peer{index}"), format!("id{index}"))).collect();
    room
}

/// A peer's dump of about 1,000 bytes, and one stream it publishes.
fn entry(peer_id: &str) -> (Value, Map<String, Value>) {
    let mut routes = Map::new();
    routes.insert(format!("{peer_id}-stream"), json!(["sender"]));
    (json!({"id": peer_id, "padding": "x".repeat(1000)}), routes)
}

#[test]
fn a_dump_comes_in_pages_that_together_hold_every_peer_once() {
    let room = room_with_peers(25);
    let mut from = Some(0);
    let mut pages = 0;
    let mut names = Vec::new();
    let mut streams = 0;
    while let Some(start) = from {
        let page = room.dump_page(start, 5_000, entry);
        pages += 1;
        let peers = page["peers"].as_object().unwrap();
        assert!((1..=5).contains(&peers.len()), "{} peers in a page", peers.len());
        names.extend(peers.keys().cloned());
        streams += page["rtpReceivers"].as_object().unwrap().len();
        assert_eq!(page["id"], json!("r"));
        from = page["nextPeer"].as_u64().map(|next| next as usize);
    }
    assert_eq!(pages, 5);
    assert_eq!(names, (0..25).map(|index| format!("peer{index}")).collect::<Vec<_>>());
    assert_eq!(streams, 25);
}

#[test]
fn a_page_holds_at_least_one_peer_however_big() {
    let room = room_with_peers(2);
    let page = room.dump_page(0, 10, entry);
    assert_eq!(page["peers"].as_object().unwrap().len(), 1);
    assert_eq!(page["nextPeer"], json!(1));
    let last = room.dump_page(1, 10, entry);
    assert_eq!(last["nextPeer"], Value::Null);
    // A start past the end (peers left meanwhile) is an empty last page.
    assert_eq!(room.dump_page(9, 10, entry)["peers"], json!({}));
}
