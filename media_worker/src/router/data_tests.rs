//! Unit tests of `data.rs`: ORTC receivers and senders, and the label relay,
//! with a sink that records what would be written.

use super::*;
use crate::sctp::Reliability;

#[derive(Default)]
struct Recorder {
    sent: Vec<(TransportKey, ChannelRef, Vec<u8>)>,
    opened: Vec<(TransportKey, ChannelOptions)>,
    /// Transports whose queue is full.
    full: Vec<TransportKey>,
}

impl DataSink for Recorder {
    fn send(&mut self, transport: TransportKey, channel: ChannelRef, _binary: bool, data: &[u8]) -> bool {
        if self.full.contains(&transport) {
            return false;
        }
        self.sent.push((transport, channel, data.to_vec()));
        true
    }

    fn open(&mut self, transport: TransportKey, options: &ChannelOptions) -> Option<ChannelRef> {
        self.opened.push((transport, options.clone()));
        Some(100 + self.opened.len() as ChannelRef)
    }
}

fn chat() -> ChannelOptions {
    ChannelOptions::in_band("chat", "")
}

#[test]
fn a_message_on_a_label_reaches_every_other_member_and_opens_the_label_where_missing() {
    let mut router = DataRouter::new(true);
    router.channel_opened(1, "alice", 0, &chat(), true);
    router.channel_opened(2, "bob", 0, &chat(), true);
    let cursor = ChannelOptions { ordered: false, reliability: Reliability::MaxRetransmits(0), ..ChannelOptions::in_band("cursor", "") };
    router.channel_opened(3, "carol", 7, &cursor, true);
    let mut sink = Recorder::default();
    router.route(1, 0, false, b"hi", &mut sink);
    // Bob's own chat; Carol gets one opened, with the delivery of the source.
    assert_eq!(sink.opened, vec![(3, chat())]);
    let mut sent = sink.sent.clone();
    sent.sort();
    assert_eq!(sent, vec![(2, 0, b"hi".to_vec()), (3, 101, b"hi".to_vec())]);
    // Carol's unreliable cursor reaches the others as unreliable, unordered channels.
    let mut sink = Recorder::default();
    router.route(3, 7, true, b"xy", &mut sink);
    assert!(sink.opened.iter().all(|(_, options)| options == &cursor));
    assert_eq!(sink.opened.len(), 2);
    // Carol's opened chat is hers from now on: Bob's message goes there, nothing is opened.
    let mut sink = Recorder::default();
    router.route(2, 0, false, b"yo", &mut sink);
    assert!(sink.opened.is_empty());
    let mut sent = sink.sent.clone();
    sent.sort();
    assert_eq!(sent, vec![(1, 0, b"yo".to_vec()), (3, 101, b"yo".to_vec())]);
}

#[test]
fn without_the_relay_or_out_of_band_a_channel_goes_nowhere() {
    let mut off = DataRouter::new(false);
    off.channel_opened(1, "alice", 0, &chat(), true);
    off.channel_opened(2, "bob", 0, &chat(), true);
    let mut sink = Recorder::default();
    off.route(1, 0, false, b"hi", &mut sink);
    assert!(sink.sent.is_empty() && sink.opened.is_empty());
    // An ORTC client's negotiated channel does not join the relay.
    let mut on = DataRouter::new(true);
    on.channel_opened(1, "alice", 0, &chat(), true);
    on.channel_opened(2, "bob", 4, &chat().with_stream_id(Some(4)), false);
    let mut sink = Recorder::default();
    on.route(2, 4, false, b"hi", &mut sink);
    assert!(sink.sent.is_empty());
}

#[test]
fn a_receiver_reaches_its_placed_senders_and_the_relay_and_counts() {
    let mut router = DataRouter::new(true);
    let options = ChannelOptions { stream_id: Some(2), ..chat() };
    let receiver = DataReceiver { id: "r".into(), peer_id: "alice".into(), transport_id: "t1".into(), transport: 1, channel: 5, options, received: DataCounters::default() };
    router.add_receiver(receiver).unwrap();
    let answer = router.create_sender("s", "bob", "r").unwrap();
    assert_eq!(answer, serde_json::json!({"label": "chat", "protocol": "", "sctpStreamParameters": {"ordered": true}}));
    assert!(router.create_sender("s2", "alice", "r").is_err(), "a peer's own channel");
    router.channel_opened(3, "carol", 0, &chat(), true);
    // Not placed yet: only the relay.
    let mut sink = Recorder::default();
    router.route(1, 5, false, b"one", &mut sink);
    assert_eq!(sink.sent, vec![(3, 0, b"one".to_vec())]);
    let (parameters, left) = router.place_sender("s", "t2", 2, 9, 0).unwrap();
    assert_eq!((parameters, left), (serde_json::json!({"streamId": 0, "ordered": true}), None));
    let mut sink = Recorder { full: vec![3], ..Recorder::default() };
    router.route(1, 5, false, b"two", &mut sink);
    assert_eq!(sink.sent, vec![(2, 9, b"two".to_vec())]);
    assert_eq!(router.receiver("r").unwrap().received, DataCounters { messages: 2, bytes: 6, dropped: 0 });
    assert_eq!(router.sender("s").unwrap().sent, DataCounters { messages: 1, bytes: 3, dropped: 0 });
    // A full queue counts a drop.
    let mut sink = Recorder { full: vec![2], ..Recorder::default() };
    router.route(1, 5, false, b"3", &mut sink);
    assert_eq!(router.sender("s").unwrap().sent.dropped, 1);
}

#[test]
fn closing_cascades_and_a_closed_channel_leaves_the_relay() {
    let mut router = DataRouter::new(true);
    let receiver = DataReceiver { id: "r".into(), peer_id: "alice".into(), transport_id: "t1".into(), transport: 1, channel: 5, options: chat().with_stream_id(Some(1)), received: DataCounters::default() };
    router.add_receiver(receiver).unwrap();
    router.create_sender("s", "bob", "r").unwrap();
    router.place_sender("s", "t2", 2, 9, 0).unwrap();
    assert_eq!(router.senders_of_peer("bob"), vec!["s".to_owned()]);
    // The sender's transport closes: unplaced, not removed.
    assert!(router.detach_transport(2).is_empty());
    assert!(router.sender("s").unwrap().placed.is_none());
    // The receiver's transport closes: it ends, with its sender.
    assert_eq!(router.detach_transport(1), vec!["r".to_owned()]);
    let (_, senders) = router.remove_receiver("r").unwrap();
    assert_eq!(senders.len(), 1);
    assert!(router.sender("s").is_none());
    // A relay channel closed by its endpoint is opened anew when needed.
    router.channel_opened(3, "carol", 0, &chat(), true);
    router.channel_opened(4, "dave", 0, &chat(), true);
    router.channel_closed(4, 0);
    assert_eq!(router.relay_channel(4, "chat"), None);
    let mut sink = Recorder::default();
    router.route(3, 0, false, b"back?", &mut sink);
    assert_eq!(sink.opened, vec![(4, chat())]);
}

#[test]
fn the_relay_opens_at_most_its_budget_on_a_member_and_a_closed_channel_frees_its_place() {
    let mut router = DataRouter::new(true);
    router.channel_opened(2, "bob", 0, &chat(), true);
    let mut sink = Recorder::default();
    // Alice writes on ever new labels, each on a channel of her own.
    for index in 0..MAX_RELAY_OPENED as ChannelRef + 10 {
        router.channel_opened(1, "alice", index, &ChannelOptions::in_band(&format!("label {index}"), ""), true);
        router.route(1, index, false, b"x", &mut sink);
    }
    assert_eq!(sink.opened.len(), MAX_RELAY_OPENED);
    assert_eq!(sink.sent.len(), MAX_RELAY_OPENED);
    // Bob's own label still reaches him; a channel the relay opened him, closed, makes room for one more.
    router.channel_opened(1, "alice", 999, &chat(), true);
    router.route(1, 999, false, b"chat", &mut sink);
    assert_eq!(sink.sent.last(), Some(&(2, 0, b"chat".to_vec())));
    router.channel_closed(2, 101);
    router.route(1, MAX_RELAY_OPENED as ChannelRef + 5, false, b"y", &mut sink);
    assert_eq!(sink.opened.len(), MAX_RELAY_OPENED + 1);
    assert_eq!(sink.opened.last().map(|(key, options)| (*key, options.label.clone())), Some((2, format!("label {}", MAX_RELAY_OPENED + 5))));
}
