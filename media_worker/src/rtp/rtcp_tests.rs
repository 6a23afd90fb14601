//! RTCP written and read against the byte layouts of RFC 3550 and RFC 4585,
//! spelled out here.

use crate::testing::Noise;
use super::*;

#[test]
fn a_sender_report_and_its_cname_are_laid_out_as_rfc_3550_says() {
    let info = SenderInfo { ssrc: 0x1234_5678, ntp: 0xE000_0000_8000_0000, rtp_timestamp: 90_000, packets: 42, octets: 42_000 };
    let mut out = Vec::new();
    write_sender_report(&info, "abc", &mut out);
    assert!(is_rtcp(&out));
    // SR: V=2, RC=0, PT=200, length 6 words; SSRC, NTP, RTP time, counts.
    assert_eq!(&out[..4], &[0x80, 200, 0, 6]);
    assert_eq!(&out[4..8], &0x1234_5678u32.to_be_bytes());
    assert_eq!(&out[8..16], &0xE000_0000_8000_0000u64.to_be_bytes());
    assert_eq!(&out[16..20], &90_000u32.to_be_bytes());
    assert_eq!(&out[20..24], &42u32.to_be_bytes());
    assert_eq!(&out[24..28], &42_000u32.to_be_bytes());
    // SDES: SC=1, PT=202, one chunk: SSRC, CNAME (1) "abc", a null, in 3 words.
    assert_eq!(&out[28..], &[0x81, 202, 0, 3, 0x12, 0x34, 0x56, 0x78, 1, 3, b'a', b'b', b'c', 0, 0, 0]);
    let mut read = Vec::new();
    read_compound(&out, &mut read).unwrap();
    assert_eq!(read, vec![Feedback::SenderReport { ssrc: 0x1234_5678 }]);
}

#[test]
fn cnames_of_every_length_pad_the_description_to_whole_words_with_a_null() {
    for length in 0..12 {
        let cname = "c".repeat(length);
        let mut out = Vec::new();
        write_sender_report(&SenderInfo { ssrc: 1, ntp: 0, rtp_timestamp: 0, packets: 0, octets: 0 }, &cname, &mut out);
        assert_eq!(out.len() % 4, 0, "{length}");
        let sdes = &out[28..];
        assert_eq!(usize::from(u16::from_be_bytes([sdes[2], sdes[3]])) * 4 + 4, sdes.len(), "{length}");
        assert_eq!(sdes[8 + 2 + length], 0, "{length}: the item list ends with a null");
        let mut read = Vec::new();
        read_compound(&out, &mut read).unwrap();
        assert_eq!(read.len(), 1, "{length}");
    }
}

#[test]
fn a_pli_is_laid_out_as_rfc_4585_says() {
    let mut out = Vec::new();
    write_pli(7, 0xCAFE, &mut out);
    assert!(is_rtcp(&out));
    assert_eq!(out, vec![0x81, 206, 0, 2, 0, 0, 0, 7, 0, 0, 0xCA, 0xFE]);
}

#[test]
fn keyframe_requests_nacks_and_reports_are_read() {
    let mut compound = Vec::new();
    // RR from SSRC 9 with one report block on 0xAAAA, a quarter lost.
    compound.extend_from_slice(&[0x81, 201, 0, 7, 0, 0, 0, 9, 0, 0, 0xAA, 0xAA, 64, 0, 0, 3]);
    compound.extend_from_slice(&[0; 16]);
    // PLI on 0xBBBB.
    write_pli(9, 0xBBBB, &mut compound);
    // FIR (FMT 4): media SSRC 0, one entry for 0xCCCC.
    compound.extend_from_slice(&[0x84, 206, 0, 4, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0xCC, 0xCC, 1, 0, 0, 0]);
    // Generic NACK on 0xDDDD: packet 10 and, in the bitmask, 11 and 13.
    compound.extend_from_slice(&[0x81, 205, 0, 3, 0, 0, 0, 9, 0, 0, 0xDD, 0xDD, 0, 10, 0, 0b101]);
    // A BYE, ignored.
    compound.extend_from_slice(&[0x81, 203, 0, 1, 0, 0, 0, 9]);
    let mut read = Vec::new();
    read_compound(&compound, &mut read).unwrap();
    assert_eq!(
        read,
        vec![
            Feedback::ReceptionReport { media_ssrc: 0xAAAA, fraction_lost: 64 },
            Feedback::KeyframeRequest { media_ssrc: 0xBBBB },
            Feedback::KeyframeRequest { media_ssrc: 0xCCCC },
            Feedback::Nack { media_ssrc: 0xDDDD, first: 10, mask: 0b101 },
        ]
    );
}

#[test]
fn rtp_is_not_rtcp_and_bad_rtcp_is_an_error_that_keeps_what_came_before() {
    // RTP with payload type 96, marker or not.
    assert!(!is_rtcp(&[0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]));
    assert!(!is_rtcp(&[0x80, 0x80 | 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]));
    assert!(!is_rtcp(&[0x80, 200, 0]));
    let mut compound = Vec::new();
    write_pli(1, 2, &mut compound);
    let good = compound.len();
    for bad in [&[0x81u8, 201, 0, 9, 0, 0, 0, 1][..], &[0x40, 201, 0, 1, 0, 0, 0, 1], &[0x81, 201, 0, 1, 0, 0, 0, 1], &[0x81, 206]] {
        compound.truncate(good);
        compound.extend_from_slice(bad);
        let mut read = Vec::new();
        assert!(read_compound(&compound, &mut read).is_err(), "{bad:?}");
        assert_eq!(read, vec![Feedback::KeyframeRequest { media_ssrc: 2 }]);
    }
}

#[test]
fn any_bytes_are_read_without_a_panic() {
    let mut noise = Noise::new(0x9E37_79B9_7F4A_7C15);
    let mut read = Vec::new();
    for length in 0..2_000 {
        let bytes = noise.version_2(length % 64);
        read.clear();
        let _ = read_compound(&bytes, &mut read);
    }
}

#[test]
fn a_nack_names_the_packets_lost_in_entries_of_seventeen() {
    // 65534 and 65535, then 0 to 15 after the wrap: the first entry holds
    // 65534 and the 16 after it (to 14); 15 needs a second.
    let lost: Vec<u16> = [65_534u16, 65_535].into_iter().chain(0..16).collect();
    let mut out = Vec::new();
    write_nack(7, 0xDDDD, &lost, &mut out);
    assert!(is_rtcp(&out));
    assert_eq!(&out[..12], &[0x81, 205, 0, 4, 0, 0, 0, 7, 0, 0, 0xDD, 0xDD]);
    assert_eq!(&out[12..], &[0xFF, 0xFE, 0xFF, 0xFF, 0, 15, 0, 0]);
    let mut read = Vec::new();
    read_compound(&out, &mut read).unwrap();
    let named: Vec<u16> = read
        .iter()
        .flat_map(|feedback| match *feedback {
            Feedback::Nack { media_ssrc: 0xDDDD, first, mask } => nacked(first, mask).collect::<Vec<_>>(),
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(named, lost);
    // Gaps in the middle: 100, 103 and 200.
    let mut out = Vec::new();
    write_nack(7, 1, &[100, 103, 200], &mut out);
    assert_eq!(&out[12..], &[0, 100, 0, 0b100, 0, 200, 0, 0]);
}
