//! SRTP and SRTCP against libsrtp's reference packets (AES-CM with
//! HMAC-SHA1, AES-GCM) and RFC 3711's key derivation; every suite round
//! trip; rollover across wraps; forged, damaged, cut and replayed packets.

use crate::testing::Noise;
use super::*;

fn hex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len()).step_by(2).map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap()).collect()
}

/// The master key and salt of RFC 3711's appendix B.3 (libsrtp's test key).
fn rfc3711_master() -> Vec<u8> {
    hex("e1f97a0d3e018be0d64fa32c06de4139 0ec675ad498afeebb6960b3aabe6")
}

/// libsrtp's GCM test key: a 16-byte key and a 12-byte salt.
fn gcm_master() -> Vec<u8> {
    hex("000102030405060708090a0b0c0d0e0f a0a1a2a3a4a5a6a7a8a9aaab")
}

/// An RTP packet (SSRC cafebabe, sequence 1234) with 16 bytes of 0xab.
fn rtp_plaintext() -> Vec<u8> {
    hex("800f1234decafbadcafebabe abababababababababababababababab")
}

/// A sender report header (SSRC cafebabe) and 16 bytes of 0xab.
fn rtcp_plaintext() -> Vec<u8> {
    hex("81c8000bcafebabe abababababababababababababababab")
}

#[test]
fn key_derivation_gives_rfc_3711_b3_session_keys() {
    // The encryption key and salt show in the keystream of a known IV:
    // encrypting zeros at index 0 of SSRC 0 gives AES(key, salt · 2¹⁶).
    let master = rfc3711_master();
    let (key, salt) = master.split_at(16);
    let keys = SessionKeys::derive(CryptoSuite::AesCm128HmacSha1_80, key, salt, 0);
    assert_eq!(keys.salt.to_vec(), hex("30cbbc08863d8c85d49db34a9ae1"));
    let mut block = [0u8; 16];
    let Cipher::CounterMode { key: derived, .. } = &keys.cipher else { panic!("counter mode") };
    apply_counter_mode(derived, [0; 16], &mut block);
    let mut expected = [0u8; 16];
    apply_counter_mode(&counter_mode_key(&hex("c61e7a93744f39ee10734afe3ff7a087")), [0; 16], &mut expected);
    assert_eq!(block, expected, "the session encryption key of RFC 3711 B.3");
}

#[test]
fn aes_cm_80_matches_libsrtp_reference_packets() {
    let mut sender = SrtpContext::new(CryptoSuite::AesCm128HmacSha1_80, &rfc3711_master()).unwrap();
    let mut packet = rtp_plaintext();
    sender.protect_rtp(&mut packet).unwrap();
    assert_eq!(packet, hex("800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb"));

    let mut receiver = SrtpContext::new(CryptoSuite::AesCm128HmacSha1_80, &rfc3711_master()).unwrap();
    let length = receiver.unprotect_rtp(&mut packet).unwrap();
    assert_eq!(&packet[..length], &rtp_plaintext()[..]);

    // libsrtp's reference SRTCP packet has index 1: the second one sent.
    let mut first = rtcp_plaintext();
    sender.protect_rtcp(&mut first).unwrap();
    let mut rtcp = rtcp_plaintext();
    sender.protect_rtcp(&mut rtcp).unwrap();
    assert_eq!(rtcp, hex("81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001 993e08cd54d6c1230798"));
    let length = receiver.unprotect_rtcp(&mut rtcp).unwrap();
    assert_eq!(&rtcp[..length], &rtcp_plaintext()[..]);
    let length = receiver.unprotect_rtcp(&mut first).unwrap();
    assert_eq!(&first[..length], &rtcp_plaintext()[..], "an older index inside the window reads");
}

#[test]
fn aes_gcm_128_matches_libsrtp_reference_packets() {
    let mut sender = SrtpContext::new(CryptoSuite::AeadAes128Gcm, &gcm_master()).unwrap();
    let mut packet = rtp_plaintext();
    sender.protect_rtp(&mut packet).unwrap();
    assert_eq!(packet, hex("800f1234decafbadcafebabe c5002ede04cfdd2eb91159e0880aa06e d2976826f796b201df3131a127e8a392"));
    let mut receiver = SrtpContext::new(CryptoSuite::AeadAes128Gcm, &gcm_master()).unwrap();
    let length = receiver.unprotect_rtp(&mut packet).unwrap();
    assert_eq!(&packet[..length], &rtp_plaintext()[..]);

    let mut rtcp = rtcp_plaintext();
    sender.protect_rtcp(&mut rtcp.clone()).unwrap();
    sender.protect_rtcp(&mut rtcp).unwrap();
    assert_eq!(rtcp, hex("81c8000bcafebabe c98b8b5df0392a55852b6c21ac8e7025 c52c6fbea2b3b446ea31123ba88ce61e 80000001"));
    let length = receiver.unprotect_rtcp(&mut rtcp).unwrap();
    assert_eq!(&rtcp[..length], &rtcp_plaintext()[..]);
}

/// A packet of `ssrc` and `sequence` with a CSRC and a one-byte extension in the clear.
fn packet(ssrc: u32, sequence: u16, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x91, 96];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&1234u32.to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend_from_slice(&7u32.to_be_bytes());
    packet.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0x55, 0, 0]);
    packet.extend_from_slice(payload);
    packet
}

fn pair(suite: CryptoSuite) -> (SrtpContext, SrtpContext) {
    let master: Vec<u8> = (0..suite.master_len() as u8).map(|byte| byte.wrapping_mul(37)).collect();
    (SrtpContext::new(suite, &master).unwrap(), SrtpContext::new(suite, &master).unwrap())
}

#[test]
fn every_suite_round_trips_keeping_the_header_in_the_clear() {
    for suite in CryptoSuite::ALL {
        let (mut sender, mut receiver) = pair(suite);
        for sequence in [65_530u16, 65_535, 0, 3] {
            let plain = packet(0x1234_5678, sequence, b"a payload of some length, not a multiple of 16");
            let mut protected = plain.clone();
            sender.protect_rtp(&mut protected).unwrap();
            assert_eq!(protected.len(), plain.len() + suite.rtp_tag_len(), "{suite:?}");
            assert_eq!(protected[..24], plain[..24], "{suite:?}: header, CSRC and extension in the clear");
            assert_ne!(protected[24..plain.len()], plain[24..], "{suite:?}: payload encrypted");
            let length = receiver.unprotect_rtp(&mut protected).unwrap();
            assert_eq!(&protected[..length], &plain[..], "{suite:?} at {sequence}");
        }
        let mut rtcp = rtcp_plaintext();
        sender.protect_rtcp(&mut rtcp).unwrap();
        assert_eq!(rtcp.len(), rtcp_plaintext().len() + 4 + suite.rtcp_tag_len(), "{suite:?}");
        let length = receiver.unprotect_rtcp(&mut rtcp).unwrap();
        assert_eq!(&rtcp[..length], &rtcp_plaintext()[..], "{suite:?}");
        // An empty payload (a keep-alive) protects too.
        let mut empty = packet(9, 1, b"");
        sender.protect_rtp(&mut empty).unwrap();
        assert_eq!(receiver.unprotect_rtp(&mut empty), Ok(24), "{suite:?}");
    }
}

#[test]
fn the_rollover_counter_follows_the_sequence_across_wraps() {
    let (mut sender, mut receiver) = pair(CryptoSuite::AesCm128HmacSha1_80);
    // Three wraps, with reordering around each one.
    let mut sequence = 60_000u16;
    let mut held = None;
    for step in 0..200_000u32 {
        let mut protected = packet(1, sequence, &step.to_be_bytes());
        sender.protect_rtp(&mut protected).unwrap();
        if step % 7 == 3 && held.is_none() {
            held = Some(protected);
        } else {
            let length = receiver.unprotect_rtp(&mut protected).unwrap_or_else(|error| panic!("{error} at step {step}"));
            assert_eq!(protected[24..length], step.to_be_bytes());
            if let Some(mut late) = held.take() {
                assert!(receiver.unprotect_rtp(&mut late).is_ok(), "a packet one late reads at step {step}");
            }
        }
        sequence = sequence.wrapping_add(1);
    }
    assert_eq!(receiver.streams[&1].rtp.unwrap().highest >> 16, 3, "three rollovers");
}

#[test]
fn forged_damaged_replayed_and_cut_packets_are_refused_and_change_nothing() {
    for suite in CryptoSuite::ALL {
        let (mut sender, mut receiver) = pair(suite);
        let mut good = packet(5, 100, b"payload");
        sender.protect_rtp(&mut good).unwrap();
        for at in 0..good.len() {
            let mut damaged = good.clone();
            damaged[at] ^= 0x20;
            assert!(receiver.unprotect_rtp(&mut damaged).is_err(), "{suite:?}: a bit flipped at {at}");
        }
        for length in 0..good.len() {
            assert!(receiver.unprotect_rtp(&mut good.clone()[..length]).is_err(), "{suite:?}: cut to {length}");
        }
        assert!(receiver.streams.is_empty(), "{suite:?}: refused packets leave no state");
        assert!(receiver.unprotect_rtp(&mut good.clone()).is_ok());
        assert_eq!(receiver.unprotect_rtp(&mut good.clone()), Err(SrtpError::Replayed), "{suite:?}");

        let mut rtcp = rtcp_plaintext();
        sender.protect_rtcp(&mut rtcp).unwrap();
        for at in 0..rtcp.len() {
            let mut damaged = rtcp.clone();
            damaged[at] ^= 0x01;
            assert!(receiver.unprotect_rtcp(&mut damaged).is_err(), "{suite:?}: RTCP bit flipped at {at}");
        }
        for length in 0..rtcp.len() {
            assert!(receiver.unprotect_rtcp(&mut rtcp.clone()[..length]).is_err(), "{suite:?}: RTCP cut to {length}");
        }
        assert!(receiver.unprotect_rtcp(&mut rtcp.clone()).is_ok());
        assert_eq!(receiver.unprotect_rtcp(&mut rtcp.clone()), Err(SrtpError::Replayed), "{suite:?}");
    }
}

#[test]
fn another_key_does_not_read() {
    let (mut sender, _) = pair(CryptoSuite::AeadAes256Gcm);
    let mut other = SrtpContext::new(CryptoSuite::AeadAes256Gcm, &[7; 44]).unwrap();
    let mut protected = packet(1, 1, b"secret");
    sender.protect_rtp(&mut protected).unwrap();
    assert_eq!(other.unprotect_rtp(&mut protected), Err(SrtpError::Authentication));
}

#[test]
fn the_replay_window_keeps_128_packets() {
    let (mut sender, mut receiver) = pair(CryptoSuite::AesCm128HmacSha1_32);
    let packets: Vec<Vec<u8>> = (0..300u16)
        .map(|sequence| {
            let mut protected = packet(3, sequence, b"x");
            sender.protect_rtp(&mut protected).unwrap();
            protected
        })
        .collect();
    assert!(receiver.unprotect_rtp(&mut packets[299].clone()).is_ok());
    assert!(receiver.unprotect_rtp(&mut packets[299 - 127].clone()).is_ok(), "127 behind: in the window");
    assert_eq!(receiver.unprotect_rtp(&mut packets[299 - 128].clone()), Err(SrtpError::Replayed), "128 behind: too old");
}

#[test]
fn keys_of_the_wrong_length_are_refused() {
    for suite in CryptoSuite::ALL {
        for length in [0, suite.master_len() - 1, suite.master_len() + 1] {
            assert_eq!(SrtpContext::new(suite, &vec![1; length]).err(), Some(SrtpError::KeyLength { expected: suite.master_len(), got: length }));
        }
        assert_eq!(CryptoSuite::from_name(suite.name()), Some(suite));
    }
    assert_eq!(CryptoSuite::from_name("AES_CM_256_HMAC_SHA1_80"), None);
}

#[test]
fn random_bytes_never_read_and_never_panic() {
    let mut noise = Noise::new(0x9e37_79b9_7f4a_7c15);
    for suite in CryptoSuite::ALL {
        let (_, mut receiver) = pair(suite);
        for round in 0..3_000usize {
            let mut bytes = noise.version_2(round % 90);
            assert!(receiver.unprotect_rtp(&mut bytes.clone()).is_err());
            assert!(receiver.unprotect_rtcp(&mut bytes).is_err());
        }
    }
}

#[test]
fn a_context_keeps_at_most_max_streams_and_a_closed_one_makes_room() {
    let (mut sender, mut receiver) = pair(CryptoSuite::AeadAes128Gcm);
    let mut rtcp = rtcp_plaintext();
    let new = MAX_STREAMS as u32;
    rtcp[4..8].copy_from_slice(&new.to_be_bytes());
    sender.protect_rtcp(&mut rtcp).unwrap();
    let mut send = |ssrc: u32, sequence: u16| {
        let mut protected = packet(ssrc, sequence, b"payload");
        sender.protect_rtp(&mut protected).unwrap();
        protected
    };
    for ssrc in 0..MAX_STREAMS as u32 {
        receiver.unprotect_rtp(&mut send(ssrc, 1)).unwrap();
    }
    // A new SSRC, authentic as it is, takes no state past the bound; in
    // SRTCP too (its SSRC is the sender's, bytes 4-7).
    assert_eq!(receiver.unprotect_rtp(&mut send(new, 1)), Err(SrtpError::TooManyStreams));
    assert_eq!(receiver.unprotect_rtcp(&mut rtcp.clone()), Err(SrtpError::TooManyStreams));
    // The streams it keeps go on.
    assert!(receiver.unprotect_rtp(&mut send(7, 2)).is_ok());
    // One closes: the new one is taken.
    receiver.remove_stream(7);
    assert!(receiver.unprotect_rtp(&mut send(new, 2)).is_ok());
    assert!(receiver.unprotect_rtcp(&mut rtcp).is_ok());
    assert_eq!(receiver.unprotect_rtp(&mut send(7, 3)), Err(SrtpError::TooManyStreams));
}
