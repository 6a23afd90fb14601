//! Unit tests of `frame.rs`.

use super::*;

fn frames(decoder: &mut FrameDecoder) -> Vec<Decoded> {
    std::iter::from_fn(|| decoder.next_frame()).collect()
}

#[test]
fn frames_survive_any_split_of_the_stream() {
    let mut stream = Vec::new();
    encode_frame(b"{\"a\":1}", &mut stream);
    encode_frame(b"", &mut stream);
    encode_frame(&[7u8; 1000], &mut stream);
    for chunk_size in [1, 2, 3, 5, 64, stream.len()] {
        let mut decoder = FrameDecoder::new();
        let mut out = Vec::new();
        for chunk in stream.chunks(chunk_size) {
            decoder.push(chunk);
            out.extend(frames(&mut decoder));
        }
        assert_eq!(
            out,
            vec![
                Decoded::Frame(b"{\"a\":1}".to_vec()),
                Decoded::Frame(Vec::new()),
                Decoded::Frame(vec![7u8; 1000]),
            ],
            "chunk size {chunk_size}"
        );
        assert_eq!(decoder.buffered(), 0);
    }
}

#[test]
fn an_oversized_frame_is_skipped_and_the_next_one_decodes() {
    let huge = MAX_FRAME_LEN + 10;
    let mut stream = (huge as u32).to_be_bytes().to_vec();
    stream.extend(std::iter::repeat_n(0xAAu8, huge));
    encode_frame(b"after", &mut stream);
    let mut decoder = FrameDecoder::new();
    let mut out = Vec::new();
    for chunk in stream.chunks(65536) {
        decoder.push(chunk);
        out.extend(frames(&mut decoder));
    }
    assert_eq!(
        out,
        vec![Decoded::Oversized { len: huge, head: vec![0xAA; OVERSIZED_HEAD] }, Decoded::Frame(b"after".to_vec())]
    );
}

#[test]
fn an_oversized_frame_is_reported_once_its_head_has_arrived() {
    let huge = MAX_FRAME_LEN + 1;
    let mut stream = (huge as u32).to_be_bytes().to_vec();
    stream.extend_from_slice(b"{\"type\":\"response\",\"id\":7,\"data\":");
    stream.extend(std::iter::repeat_n(b'1', 100));
    let mut decoder = FrameDecoder::new();
    decoder.push(&stream[..20]);
    assert_eq!(decoder.next_frame(), None, "not before OVERSIZED_HEAD bytes of it are in");
    decoder.push(&stream[20..]);
    let Some(Decoded::Oversized { len, head }) = decoder.next_frame() else { panic!("an oversized frame") };
    assert_eq!((len, &head[..], head.len()), (huge, &stream[4..4 + OVERSIZED_HEAD], OVERSIZED_HEAD));
}

#[test]
fn rfc4571_frames_have_a_two_byte_length() {
    let mut stream = Vec::new();
    assert!(encode_rfc4571(b"stun", &mut stream));
    assert!(encode_rfc4571(&[1u8; 1200], &mut stream));
    assert!(!encode_rfc4571(&vec![0u8; 70000], &mut stream));
    assert_eq!(&stream[..2], &[0, 4]);
    let mut decoder = FrameDecoder::rfc4571();
    for byte in &stream {
        decoder.push(std::slice::from_ref(byte));
    }
    assert_eq!(frames(&mut decoder), vec![Decoded::Frame(b"stun".to_vec()), Decoded::Frame(vec![1u8; 1200])]);
}

#[test]
fn a_partial_frame_waits_for_the_rest() {
    let mut stream = Vec::new();
    encode_frame(b"hello", &mut stream);
    let mut decoder = FrameDecoder::new();
    decoder.push(&stream[..6]);
    assert_eq!(decoder.next_frame(), None);
    decoder.push(&stream[6..]);
    assert_eq!(decoder.next_frame(), Some(Decoded::Frame(b"hello".to_vec())));
}
