//! The targets on parsers that need no transport: the Channel (its framing,
//! then its requests through a whole worker), RFC 4571 framing, RTP and
//! its payloads, RTCP, SRTP, and the media path's frames.

use std::sync::OnceLock;
use std::time::Duration;

use super::Input;
use crate::channel::frame::{encode_rfc4571, FrameDecoder, Decoded};
use crate::channel::media::MediaFrameReader;
use crate::channel::message::{RequestFrame, Response, WorkerMessage};
use crate::channel::settings::WorkerSettings;
use crate::rtp::codecs::dependency_descriptor::DescriptorReader;
use crate::rtp::codecs::{vp8, PayloadFormat};
use crate::rtp::rtcp::{is_rtcp, read_compound};
use crate::rtp::stream_ids::{read_audio_level, read_stream_ids, StreamIdExtensions};
use crate::rtp::wire::{read_rtp, write_rtp};
use crate::shell::event_loop::{push_message, read_request};
use crate::testing::{ready_worker_with, settings, FakeNetwork};
use crate::transport::srtp::{CryptoSuite, SrtpContext};
use crate::worker::Worker;

/// One certificate for every case: making a key per input would be most
/// of a run.
pub(super) fn worker_settings() -> WorkerSettings {
    static SETTINGS: OnceLock<WorkerSettings> = OnceLock::new();
    SETTINGS.get_or_init(settings).clone()
}

/// Answers a request as the event loop does (without its `catch_unwind`:
/// a panic is a finding) and writes the answer out.
fn answer(worker: &mut Worker, network: &mut FakeNetwork, frame: Result<RequestFrame, Response>, now: std::time::Instant) {
    let response = match frame {
        Ok(frame) => Response::new(Some(frame.id), worker.handle_request(frame.request, now, network)),
        Err(response) => response,
    };
    push_message(&mut Vec::new(), &WorkerMessage::Response(response));
}

/// What a worker does after requests: time passes, datagrams leave,
/// notifications are written.
fn settle(worker: &mut Worker, network: &mut FakeNetwork, now: std::time::Instant) {
    for step in 1..=3 {
        worker.handle_timeout(now + Duration::from_millis(700 * step));
        while worker.poll_datagram().is_some() {}
        for notification in worker.take_notifications() {
            push_message(&mut Vec::new(), &WorkerMessage::Notification(notification));
        }
    }
    if let Ok(frame) = RequestFrame::parse(br#"{"id":1,"method":"worker.dump"}"#) {
        answer(worker, network, Ok(frame), now);
    }
}

/// The Channel's byte stream as a worker reads it: the input's first byte
/// sets how it is cut into reads, the rest are the bytes; every frame is
/// answered by one worker.
pub fn channel(data: &[u8]) {
    let mut input = Input::new(data);
    let read_len = usize::from(input.byte()) + 1;
    let (mut worker, mut network, now) = ready_worker_with(worker_settings());
    let mut decoder = FrameDecoder::new();
    for read in input.rest().chunks(read_len) {
        decoder.push(read);
        while let Some(decoded) = decoder.next_frame() {
            answer(&mut worker, &mut network, read_request(decoded), now);
        }
    }
    settle(&mut worker, &mut network, now);
}

/// Requests as the extension writes them, one JSON object a line, answered
/// by one worker: what reaches each handler past the framing.
pub fn requests(data: &[u8]) {
    let (mut worker, mut network, now) = ready_worker_with(worker_settings());
    for line in data.split(|byte| *byte == b'\n') {
        answer(&mut worker, &mut network, read_request(Decoded::Frame(line.to_vec())), now);
    }
    settle(&mut worker, &mut network, now);
}

/// ICE over TCP (RFC 4571) cut into reads as the input's first byte says:
/// every byte pushed comes out in a frame or stays buffered, and each frame
/// is what was framed.
pub fn rfc4571(data: &[u8]) {
    let mut input = Input::new(data);
    let read_len = usize::from(input.byte()) + 1;
    let stream = input.rest();
    let mut decoder = FrameDecoder::rfc4571();
    let mut reframed = Vec::new();
    for read in stream.chunks(read_len) {
        decoder.push(read);
        while let Some(decoded) = decoder.next_frame() {
            let Decoded::Frame(frame) = decoded else { panic!("RFC 4571 cannot announce more than it carries") };
            assert!(encode_rfc4571(&frame, &mut reframed));
        }
    }
    assert_eq!(reframed.len() + decoder.buffered(), stream.len());
    assert_eq!(reframed, stream[..reframed.len()]);
}

/// Packets in the clear (plain and direct transports, and what SRTP gave):
/// the header, its extensions, each codec's payload, AV1 descriptors read in
/// sequence, a forwarded packet written back. Records of the input are
/// packets; the first byte of each picks the extension ids.
pub fn rtp(data: &[u8]) {
    let mut input = Input::new(data);
    let mut descriptors = DescriptorReader::default();
    while !input.is_empty() {
        let ids = input.byte();
        let packet = input.record();
        let extensions = StreamIdExtensions { mid: Some(ids & 15), rid: Some(ids >> 4), repaired_rid: Some((ids >> 2) & 15) };
        let _ = read_stream_ids(packet, extensions);
        let _ = read_audio_level(packet, ids & 15);
        let _ = descriptors.read(packet);
        let Ok(fields) = read_rtp(packet) else { continue };
        let payload = &packet[fields.payload.clone()];
        for format in [PayloadFormat::Vp8, PayloadFormat::Vp9, PayloadFormat::H264, PayloadFormat::Av1] {
            let _ = format.inspect(payload);
        }
        let mut rewritten = payload.to_vec();
        let _ = vp8::write_ids(&mut rewritten, u16::from(ids) << 7, Some(ids));
        let mut written = Vec::new();
        write_rtp(&fields, &[(ids & 15, &packet[..usize::from(ids) % 20 % packet.len().max(1)])], payload, &mut written);
        let again = read_rtp(&written).expect("a packet written is read back");
        assert_eq!((again.ssrc, again.sequence_number, again.timestamp), (fields.ssrc, fields.sequence_number, fields.timestamp));
        assert_eq!(&written[again.payload], payload);
    }
}

/// RTCP from an endpoint: the compound packet's feedback.
pub fn rtcp(data: &[u8]) {
    let mut feedback = Vec::new();
    if is_rtcp(data) {
        let _ = read_compound(data, &mut feedback);
    }
    let _ = read_compound(data, &mut feedback);
}

/// SRTP and SRTCP in each suite: what an endpoint sends is refused unless
/// its tag holds; what one context protects, its peer reads back the same.
pub fn srtp(data: &[u8]) {
    for suite in CryptoSuite::ALL {
        let master: Vec<u8> = (0..suite.master_len()).map(|index| index as u8).collect();
        let context = || SrtpContext::new(suite, &master).expect("a master key of the suite's length");
        let (mut sender, mut receiver) = (context(), context());
        let _ = receiver.unprotect_rtp(&mut data.to_vec());
        let _ = receiver.unprotect_rtcp(&mut data.to_vec());
        if read_rtp(data).is_ok() {
            let mut packet = data.to_vec();
            if sender.protect_rtp(&mut packet).is_ok() {
                let len = receiver.unprotect_rtp(&mut packet).expect("a protected packet is read back");
                assert_eq!(packet[..len], *data);
            }
        }
        if data.len() >= 8 {
            let mut packet = data.to_vec();
            if sender.protect_rtcp(&mut packet).is_ok() {
                let len = receiver.unprotect_rtcp(&mut packet).expect("a protected report is read back");
                assert_eq!(packet[..len], *data);
            }
        }
    }
}

/// The media path's frames from Python (direct transports), cut into reads
/// as the first byte says.
pub fn media_frames(data: &[u8]) {
    let mut input = Input::new(data);
    let read_len = usize::from(input.byte()) * 16 + 1;
    let mut reader = MediaFrameReader::default();
    for read in input.rest().chunks(read_len) {
        reader.push(read);
        while reader.next_frame().is_some() {}
    }
}
