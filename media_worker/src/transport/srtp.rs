//! SRTP and SRTCP for the transports keyed through the API rather than
//! DTLS (plain transports, pipes between hosts): RFC 3711 with AES
//! counter mode and HMAC-SHA1 (`AES_CM_128_HMAC_SHA1_80` and `_32`, what
//! ffmpeg and GStreamer speak), RFC 7714 with AES-GCM (`AEAD_AES_128_GCM`,
//! `AEAD_AES_256_GCM`). str0m keeps the SRTP of WebRTC transports to
//! itself, so this is its own, on the aws-lc already linked.
//!
//! A [`SrtpContext`] is one direction's master key: the one that protects
//! what a transport sends, or the one that reads what its endpoint sends.
//! Per SSRC it keeps the rollover counter of sequence numbers (RFC 3711
//! §3.3.1) and a replay window of 128 packets; an SRTCP index per SSRC
//! too. A packet that does not authenticate, is replayed or is too old
//! leaves no trace in it. No MKI, no key derivation rate (both optional,
//! neither used by the endpoints this serves).

use std::fmt;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128, AES_256};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use rustc_hash::FxHashMap;

/// The suites, by the names of mediasoup's `srtpCryptoSuite` (RFC 4568's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoSuite {
    AeadAes256Gcm,
    AeadAes128Gcm,
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

impl CryptoSuite {
    pub const ALL: [CryptoSuite; 4] = [Self::AeadAes256Gcm, Self::AeadAes128Gcm, Self::AesCm128HmacSha1_80, Self::AesCm128HmacSha1_32];

    pub fn name(self) -> &'static str {
        match self {
            Self::AeadAes256Gcm => "AEAD_AES_256_GCM",
            Self::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Self::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Self::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|suite| suite.name() == name)
    }

    fn gcm(self) -> bool {
        matches!(self, Self::AeadAes256Gcm | Self::AeadAes128Gcm)
    }

    fn key_len(self) -> usize {
        if self == Self::AeadAes256Gcm {
            32
        } else {
            16
        }
    }

    fn salt_len(self) -> usize {
        if self.gcm() {
            12
        } else {
            14
        }
    }

    /// Bytes of the master key and salt together (what `keyBase64` holds).
    pub fn master_len(self) -> usize {
        self.key_len() + self.salt_len()
    }

    fn rtp_tag_len(self) -> usize {
        match self {
            Self::AeadAes256Gcm | Self::AeadAes128Gcm => 16,
            Self::AesCm128HmacSha1_80 => 10,
            Self::AesCm128HmacSha1_32 => 4,
        }
    }

    /// SRTCP's tag: 80 bits with either HMAC suite (RFC 4568 §6.2.1).
    fn rtcp_tag_len(self) -> usize {
        if self.gcm() {
            16
        } else {
            10
        }
    }
}

/// Why a packet was not protected or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpError {
    /// A master key and salt of the wrong length for the suite.
    KeyLength { expected: usize, got: usize },
    /// Shorter than its header and tag, or a header longer than the packet.
    Malformed,
    /// Its tag is not the one its key gives: forged, damaged or another key.
    Authentication,
    /// Received already, or older than the replay window.
    Replayed,
    /// On a new SSRC while the context keeps [`MAX_STREAMS`] already.
    TooManyStreams,
}

impl fmt::Display for SrtpError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyLength { expected, got } => write!(formatter, "an SRTP master key and salt of {got} bytes: the suite needs {expected}"),
            Self::Malformed => formatter.write_str("too short for an SRTP header and tag"),
            Self::Authentication => formatter.write_str("SRTP authentication failed"),
            Self::Replayed => formatter.write_str("an SRTP packet received already (or too old)"),
            Self::TooManyStreams => write!(formatter, "an SRTP packet on a new SSRC past the {MAX_STREAMS} streams a transport keeps"),
        }
    }
}

/// Packets a replay window remembers behind the newest.
const REPLAY_WINDOW: u64 = 128;

/// The most SSRCs whose state (rollover counter, replay windows) a context
/// keeps. What arrives authenticates with the endpoint's key, but on any
/// SSRC it likes: past this, a new SSRC is refused (streams that close are
/// forgotten: [`SrtpContext::remove_stream`]). A pipe carries two per
/// encoding of every stream of a room; 8,192 is far past the streams a
/// worker forwards, and about 1 MB.
pub const MAX_STREAMS: usize = 8_192;

/// The E flag of an SRTCP index word: the payload is encrypted.
const SRTCP_ENCRYPTED: u32 = 0x8000_0000;

/// The session keys of RTP or of RTCP, derived from the master's.
struct SessionKeys {
    cipher: Cipher,
    /// 14 bytes for counter mode, 12 for GCM (the rest zero).
    salt: [u8; 14],
}

enum Cipher {
    CounterMode { key: Box<EncryptingKey>, auth: Box<hmac::Key> },
    Gcm(LessSafeKey),
}

/// What one direction keeps: its keys and, per SSRC, where its indexes are.
pub struct SrtpContext {
    suite: CryptoSuite,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    streams: FxHashMap<u32, StreamIndexes>,
}

#[derive(Default)]
struct StreamIndexes {
    /// RTP: the highest packet index (rollover counter × 2¹⁶ + sequence number) and those seen.
    rtp: Option<ReplayWindow>,
    /// SRTCP read: the indexes seen; written: the next to use.
    rtcp: Option<ReplayWindow>,
    next_rtcp_index: u32,
}

/// The newest index, and which of the 128 before it were seen.
#[derive(Debug, Clone, Copy)]
struct ReplayWindow {
    highest: u64,
    seen: u128,
}

impl ReplayWindow {
    fn new(index: u64) -> Self {
        Self { highest: index, seen: 1 }
    }

    fn check(&self, index: u64) -> Result<(), SrtpError> {
        if index > self.highest {
            return Ok(());
        }
        let behind = self.highest - index;
        if behind >= REPLAY_WINDOW || self.seen & (1 << behind) != 0 {
            return Err(SrtpError::Replayed);
        }
        Ok(())
    }

    fn accept(&mut self, index: u64) {
        if index > self.highest {
            let ahead = index - self.highest;
            self.seen = if ahead >= REPLAY_WINDOW { 0 } else { self.seen << ahead };
            self.seen |= 1;
            self.highest = index;
        } else {
            self.seen |= 1 << (self.highest - index);
        }
    }

    /// The index of a packet with `sequence` (RFC 3711 §3.3.1): the
    /// rollover counter that puts it nearest the highest.
    fn estimate(&self, sequence: u16) -> u64 {
        let rollover = self.highest >> 16;
        let highest_sequence = self.highest as u16;
        let rollover = if highest_sequence < 0x8000 {
            if sequence > highest_sequence && sequence - highest_sequence > 0x8000 && rollover > 0 {
                rollover - 1
            } else {
                rollover
            }
        } else if highest_sequence - 0x8000 > sequence {
            rollover + 1
        } else {
            rollover
        };
        (rollover << 16) | u64::from(sequence)
    }
}

impl SrtpContext {
    /// A direction keyed by `master` (the master key, then its salt).
    pub fn new(suite: CryptoSuite, master: &[u8]) -> Result<Self, SrtpError> {
        if master.len() != suite.master_len() {
            return Err(SrtpError::KeyLength { expected: suite.master_len(), got: master.len() });
        }
        let (key, salt) = master.split_at(suite.key_len());
        Ok(Self { suite, rtp: SessionKeys::derive(suite, key, salt, 0), rtcp: SessionKeys::derive(suite, key, salt, 3), streams: FxHashMap::default() })
    }

    pub fn suite(&self) -> CryptoSuite {
        self.suite
    }

    /// Encrypts an RTP packet in place and appends its tag.
    pub fn protect_rtp(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        let header = rtp_header_len(packet)?;
        let (ssrc, sequence) = rtp_ids(packet);
        let stream = self.streams.entry(ssrc).or_default();
        let index = match &mut stream.rtp {
            Some(window) => {
                let index = window.estimate(sequence);
                if index > window.highest {
                    window.accept(index);
                }
                index
            }
            None => {
                stream.rtp = Some(ReplayWindow::new(u64::from(sequence)));
                u64::from(sequence)
            }
        };
        let tag_len = self.suite.rtp_tag_len();
        match &self.rtp.cipher {
            Cipher::CounterMode { key, auth } => {
                apply_counter_mode(key, counter_iv(&self.rtp.salt, ssrc, index), &mut packet[header..]);
                let tag = rtp_tag(auth, packet, index);
                packet.extend_from_slice(&tag.as_ref()[..tag_len]);
            }
            Cipher::Gcm(key) => {
                let nonce = gcm_nonce(&self.rtp.salt, ssrc, index);
                let (head, payload) = packet.split_at_mut(header);
                let tag = key.seal_in_place_separate_tag(nonce, Aad::from(&*head), payload).map_err(|_| SrtpError::Malformed)?;
                packet.extend_from_slice(tag.as_ref());
            }
        }
        Ok(())
    }

    /// Authenticates and decrypts an SRTP packet in place; answers the
    /// length of the RTP packet it holds now.
    pub fn unprotect_rtp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let tag_len = self.suite.rtp_tag_len();
        let end = packet.len().checked_sub(tag_len).ok_or(SrtpError::Malformed)?;
        let header = rtp_header_len(&packet[..end])?;
        let (ssrc, sequence) = rtp_ids(packet);
        self.check_room_for(ssrc)?;
        let window = self.streams.get(&ssrc).and_then(|stream| stream.rtp);
        let index = window.map_or(u64::from(sequence), |window| window.estimate(sequence));
        if let Some(window) = &window {
            window.check(index)?;
        }
        match &self.rtp.cipher {
            Cipher::CounterMode { key, auth } => {
                let tag = rtp_tag(auth, &packet[..end], index);
                verify_slices_are_equal(&tag.as_ref()[..tag_len], &packet[end..]).map_err(|_| SrtpError::Authentication)?;
                apply_counter_mode(key, counter_iv(&self.rtp.salt, ssrc, index), &mut packet[header..end]);
            }
            Cipher::Gcm(key) => {
                let nonce = gcm_nonce(&self.rtp.salt, ssrc, index);
                let (head, payload) = packet.split_at_mut(header);
                key.open_in_place(nonce, Aad::from(&*head), payload).map_err(|_| SrtpError::Authentication)?;
            }
        }
        let stream = self.streams.entry(ssrc).or_default();
        match &mut stream.rtp {
            Some(window) => window.accept(index),
            None => stream.rtp = Some(ReplayWindow::new(index)),
        }
        Ok(end)
    }

    /// Encrypts a compound RTCP packet in place and appends its index (and tag).
    pub fn protect_rtcp(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        if packet.len() < 8 {
            return Err(SrtpError::Malformed);
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let stream = self.streams.entry(ssrc).or_default();
        let index = stream.next_rtcp_index;
        stream.next_rtcp_index = (index + 1) & !SRTCP_ENCRYPTED;
        let word = (SRTCP_ENCRYPTED | index).to_be_bytes();
        match &self.rtcp.cipher {
            Cipher::CounterMode { key, auth } => {
                apply_counter_mode(key, counter_iv(&self.rtcp.salt, ssrc, u64::from(index)), &mut packet[8..]);
                packet.extend_from_slice(&word);
                let tag = hmac::sign(auth, packet);
                packet.extend_from_slice(&tag.as_ref()[..self.suite.rtcp_tag_len()]);
            }
            Cipher::Gcm(key) => {
                let nonce = gcm_nonce(&self.rtcp.salt, ssrc, u64::from(index));
                let aad = srtcp_aad(&packet[..8], word);
                let tag = key.seal_in_place_separate_tag(nonce, Aad::from(&aad[..]), &mut packet[8..]).map_err(|_| SrtpError::Malformed)?;
                packet.extend_from_slice(tag.as_ref());
                packet.extend_from_slice(&word);
            }
        }
        Ok(())
    }

    /// Authenticates and decrypts an SRTCP packet in place; answers the
    /// length of the compound RTCP packet it holds now.
    pub fn unprotect_rtcp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let tag_len = self.suite.rtcp_tag_len();
        if packet.len() < 8 + 4 + tag_len {
            return Err(SrtpError::Malformed);
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let word_at = if self.suite.gcm() { packet.len() - 4 } else { packet.len() - tag_len - 4 };
        let word = u32::from_be_bytes([packet[word_at], packet[word_at + 1], packet[word_at + 2], packet[word_at + 3]]);
        let (encrypted, index) = (word & SRTCP_ENCRYPTED != 0, u64::from(word & !SRTCP_ENCRYPTED));
        self.check_room_for(ssrc)?;
        let window = self.streams.get(&ssrc).and_then(|stream| stream.rtcp);
        if let Some(window) = &window {
            window.check(index)?;
        }
        let length = match &self.rtcp.cipher {
            Cipher::CounterMode { key, auth } => {
                let tag_at = packet.len() - tag_len;
                let tag = hmac::sign(auth, &packet[..tag_at]);
                verify_slices_are_equal(&tag.as_ref()[..tag_len], &packet[tag_at..]).map_err(|_| SrtpError::Authentication)?;
                if encrypted {
                    apply_counter_mode(key, counter_iv(&self.rtcp.salt, ssrc, index), &mut packet[8..word_at]);
                }
                word_at
            }
            Cipher::Gcm(key) => {
                let nonce = gcm_nonce(&self.rtcp.salt, ssrc, index);
                let length = word_at - tag_len;
                if encrypted {
                    let aad = srtcp_aad(&packet[..8], word.to_be_bytes());
                    key.open_in_place(nonce, Aad::from(&aad[..]), &mut packet[8..word_at]).map_err(|_| SrtpError::Authentication)?;
                } else {
                    // RFC 7714 §9.2: all of it authenticated, nothing encrypted.
                    let mut aad = packet[..length].to_vec();
                    aad.extend_from_slice(&word.to_be_bytes());
                    let mut tag = packet[length..word_at].to_vec();
                    key.open_in_place(nonce, Aad::from(&aad[..]), &mut tag).map_err(|_| SrtpError::Authentication)?;
                }
                length
            }
        };
        let stream = self.streams.entry(ssrc).or_default();
        match &mut stream.rtcp {
            Some(window) => window.accept(index),
            None => stream.rtcp = Some(ReplayWindow::new(index)),
        }
        Ok(length)
    }

    /// Forgets an SSRC (its stream closed): a new stream on it starts afresh.
    pub fn remove_stream(&mut self, ssrc: u32) {
        self.streams.remove(&ssrc);
    }

    /// Whether it keeps state for `ssrc` (for tests).
    #[cfg(test)]
    pub fn has_stream(&self, ssrc: u32) -> bool {
        self.streams.contains_key(&ssrc)
    }

    /// Whether a packet received on `ssrc` may take a stream's state.
    fn check_room_for(&self, ssrc: u32) -> Result<(), SrtpError> {
        if self.streams.len() >= MAX_STREAMS && !self.streams.contains_key(&ssrc) {
            return Err(SrtpError::TooManyStreams);
        }
        Ok(())
    }
}

impl SessionKeys {
    /// RTP's keys (`first_label` 0) or RTCP's (3): encryption, authentication, salt.
    fn derive(suite: CryptoSuite, master_key: &[u8], master_salt: &[u8], first_label: u8) -> Self {
        let prf = counter_mode_key(master_key);
        let derive = |label: u8, length: usize| {
            let mut iv = [0u8; 16];
            iv[..master_salt.len()].copy_from_slice(master_salt);
            iv[7] ^= label;
            let mut out = vec![0u8; length];
            apply_counter_mode(&prf, iv, &mut out);
            out
        };
        let session_key = derive(first_label, suite.key_len());
        let mut salt = [0u8; 14];
        salt[..suite.salt_len()].copy_from_slice(&derive(first_label + 2, suite.salt_len()));
        let cipher = if suite.gcm() {
            let algorithm = if suite == CryptoSuite::AeadAes256Gcm { &AES_256_GCM } else { &AES_128_GCM };
            Cipher::Gcm(LessSafeKey::new(UnboundKey::new(algorithm, &session_key).expect("a GCM key of the suite's length")))
        } else {
            let auth = Box::new(hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &derive(first_label + 1, 20)));
            Cipher::CounterMode { key: Box::new(counter_mode_key(&session_key)), auth }
        };
        Self { cipher, salt }
    }
}

fn counter_mode_key(key: &[u8]) -> EncryptingKey {
    let algorithm = if key.len() == 32 { &AES_256 } else { &AES_128 };
    let key = UnboundCipherKey::new(algorithm, key).expect("an AES key of 16 or 32 bytes");
    EncryptingKey::ctr(key).expect("AES in counter mode")
}

fn apply_counter_mode(key: &EncryptingKey, iv: [u8; 16], data: &mut [u8]) {
    if !data.is_empty() {
        key.less_safe_encrypt(data, EncryptionContext::Iv128(FixedLength::from(iv))).expect("counter mode takes any length");
    }
}

/// RFC 3711 §4.1.1: (salt · 2¹⁶) ⊕ (SSRC · 2⁶⁴) ⊕ (index · 2¹⁶).
fn counter_iv(salt: &[u8; 14], ssrc: u32, index: u64) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(salt);
    for (byte, value) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
        *byte ^= value;
    }
    for (byte, value) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
        *byte ^= value;
    }
    iv
}

/// RFC 7714 §8.1 and §9.1: (0⁴ SSRC, rollover counter, sequence number, or
/// 0² and the SRTCP index) ⊕ salt; `index` is 48 bits either way.
fn gcm_nonce(salt: &[u8; 14], ssrc: u32, index: u64) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[2..6].copy_from_slice(&ssrc.to_be_bytes());
    nonce[6..12].copy_from_slice(&index.to_be_bytes()[2..]);
    for (byte, value) in nonce.iter_mut().zip(salt) {
        *byte ^= value;
    }
    Nonce::assume_unique_for_key(nonce)
}

/// HMAC-SHA1 of an SRTP packet (without tag) and its rollover counter.
fn rtp_tag(auth: &hmac::Key, packet: &[u8], index: u64) -> hmac::Tag {
    let mut context = hmac::Context::with_key(auth);
    context.update(packet);
    context.update(&((index >> 16) as u32).to_be_bytes());
    context.sign()
}

fn srtcp_aad(header: &[u8], word: [u8; 4]) -> [u8; 12] {
    let mut aad = [0u8; 12];
    aad[..8].copy_from_slice(header);
    aad[8..].copy_from_slice(&word);
    aad
}

/// The header's length (fixed part, CSRCs, extension): what stays in the clear.
fn rtp_header_len(packet: &[u8]) -> Result<usize, SrtpError> {
    let first = *packet.first().ok_or(SrtpError::Malformed)?;
    let mut length = 12 + 4 * usize::from(first & 0x0f);
    if first & 0x10 != 0 {
        let words = packet.get(length + 2..length + 4).ok_or(SrtpError::Malformed)?;
        length += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    if length > packet.len() {
        return Err(SrtpError::Malformed);
    }
    Ok(length)
}

fn rtp_ids(packet: &[u8]) -> (u32, u16) {
    (u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]), u16::from_be_bytes([packet[2], packet[3]]))
}

#[cfg(test)]
#[path = "srtp_tests.rs"]
mod tests;
