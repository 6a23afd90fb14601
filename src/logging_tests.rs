//! Unit tests of `logging.rs`.

use super::*;

#[test]
fn targets_map_to_children_of_the_mediasoup_logger() {
    assert_eq!(logger_name("media_worker::shell::event_loop"), "mediasoup.worker");
    assert_eq!(logger_name("media_worker::worker"), "mediasoup.worker");
    assert_eq!(logger_name("media_worker::transport::webrtc"), "mediasoup.worker.transport");
    assert_eq!(logger_name("media_worker::room"), "mediasoup.worker.room");
    assert_eq!(logger_name("media_worker::channel::frame"), "mediasoup.worker.channel");
    assert_eq!(logger_name("_mediasoup::channel"), "mediasoup.channel");
    assert_eq!(logger_name("_mediasoup::worker_process"), "mediasoup.worker");
    assert_eq!(logger_name("str0m::ice"), "mediasoup");
}
