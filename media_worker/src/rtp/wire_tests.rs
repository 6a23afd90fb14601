//! Raw RTP: written packets read back, what is not RTP is refused with a
//! reason, sequence numbers extend across the wrap.

use super::*;
use crate::rtp::stream_ids::read_audio_level;

fn fields(sequence_number: u16) -> RtpFields {
    RtpFields { ssrc: 0xdead_beef, payload_type: 100, sequence_number, timestamp: 123_456, marker: true, payload: 0..0 }
}

#[test]
fn a_written_packet_reads_back_with_its_extensions() {
    let mut packet = Vec::new();
    write_rtp(&fields(65_535), &[(1, &[0x80 | 30]), (4, &[1]), (0, &[9]), (3, &[])], b"opus frame", &mut packet);
    let read = read_rtp(&packet).unwrap();
    assert_eq!(read, RtpFields { payload: read.payload.clone(), ..fields(65_535) });
    assert_eq!(&packet[read.payload], b"opus frame");
    assert_eq!(read_audio_level(&packet, 1), Some((0xdead_beef, -30)), "the level extension is where it was written");
    assert_eq!(packet[12..14], [0xbe, 0xde]);
    assert_eq!(packet.len(), 12 + 4 + 4 + b"opus frame".len(), "id 0 and empty values left out, padded to a word");
}

#[test]
fn extensions_that_do_not_fit_the_one_byte_form_are_written_in_the_two_byte_form() {
    let descriptor: Vec<u8> = (0..40).collect();
    let mut packet = Vec::new();
    write_rtp(&fields(7), &[(1, &[0x80 | 30]), (12, &descriptor), (200, &[9])], b"av1", &mut packet);
    assert_eq!(packet[12..14], [0x10, 0x00], "RFC 8285's two-byte profile");
    let read = read_rtp(&packet).unwrap();
    assert_eq!(&packet[read.payload], b"av1");
    let mut found = Vec::new();
    crate::rtp::stream_ids::for_each_extension(&packet, |id, value| found.push((id, value.to_vec())));
    assert_eq!(found, vec![(1, vec![0x80 | 30]), (12, descriptor), (200, vec![9])]);
    assert_eq!(read_audio_level(&packet, 1), Some((0xdead_beef, -30)));
}

#[test]
fn a_packet_without_extensions_is_twelve_bytes_of_header() {
    let mut packet = Vec::new();
    write_rtp(&fields(1), &[], b"x", &mut packet);
    assert_eq!(packet.len(), 13);
    assert_eq!(packet[0], 0x80);
    assert_eq!(packet[1], 0x80 | 100);
}

#[test]
fn csrcs_and_padding_are_not_payload() {
    let mut packet = vec![0xa1, 96, 0, 7, 0, 0, 0, 9, 0, 0, 0, 5];
    packet.extend_from_slice(&[0, 0, 0, 42]); // one CSRC
    packet.extend_from_slice(b"payload");
    packet.extend_from_slice(&[0, 0, 3]); // three bytes of padding
    let read = read_rtp(&packet).unwrap();
    assert_eq!(&packet[read.payload], b"payload");
    assert_eq!((read.ssrc, read.sequence_number, read.timestamp, read.marker), (5, 7, 9, false));
}

#[test]
fn what_is_not_rtp_is_refused_with_a_reason() {
    assert_eq!(read_rtp(&[0x80; 11]), Err("shorter than an RTP header"));
    assert_eq!(read_rtp(&[0x40; 12]), Err("not RTP version 2"));
    assert_eq!(read_rtp(&[0x80, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Err("an RTCP packet type, not RTP"));
    assert_eq!(read_rtp(&[0x90, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde]), Err("its header extension is cut"));
    assert_eq!(read_rtp(&[0x90, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 9]), Err("its header, extensions and padding are longer than the packet"));
    assert_eq!(read_rtp(&[0xa0, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Err("a padding length of 0"));
    assert_eq!(read_rtp(&[0xa0, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200]), Err("its header, extensions and padding are longer than the packet"));
    assert!(read_rtp(&[0x8f; 12]).is_err(), "fifteen CSRCs announced, none there");
}

#[test]
fn sequence_numbers_extend_across_the_wrap_and_keep_late_ones_in_place() {
    let mut extender = SequenceExtender::default();
    let first = extender.extend(65_530);
    let mut extended = Vec::new();
    for sequence_number in [65_531u16, 65_535, 0, 1, 65_534, 2, 40_000, 7_000] {
        extended.push(extender.extend(sequence_number) as i64 - first as i64);
    }
    // 40,000 is nearer to the past (25,538 back from 2) than to the future.
    assert_eq!(extended, vec![1, 5, 6, 7, 4, 8, 2 + 6 - 25_538, 7_006]);
    let mut early = SequenceExtender::default();
    let start = early.extend(3);
    assert_eq!(early.extend(65_535), start - 4, "a packet sent before the first one received");
}
