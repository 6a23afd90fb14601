//! The media path's framing: frames survive any split of the stream, bad frames
//! are skipped in step, queues hold their bound and hand out whole frames.

use super::*;

fn frames(reader: &mut MediaFrameReader) -> Vec<Result<(FrameKind, u32, u32, Vec<u8>), String>> {
    let mut out = Vec::new();
    while let Some(next) = reader.next_frame() {
        out.push(next.map(|frame| (frame.kind, frame.transport, frame.ssrc, frame.payload.to_vec())));
    }
    out
}

#[test]
fn frames_survive_any_split_of_the_stream() {
    let mut stream = Vec::new();
    encode_media_frame(FrameKind::Rtp, 7, 0x1122_3344, b"first packet", &mut stream);
    encode_media_frame(FrameKind::KeyframeRequest, 8, 99, b"", &mut stream);
    encode_media_frame(FrameKind::Rtp, 7, 5, &[0xab; 1500], &mut stream);
    for chunk in [1, 3, 9, 100, stream.len()] {
        let mut reader = MediaFrameReader::default();
        let mut got = Vec::new();
        for piece in stream.chunks(chunk) {
            reader.push(piece);
            got.extend(frames(&mut reader));
        }
        assert_eq!(
            got,
            vec![
                Ok((FrameKind::Rtp, 7, 0x1122_3344, b"first packet".to_vec())),
                Ok((FrameKind::KeyframeRequest, 8, 99, Vec::new())),
                Ok((FrameKind::Rtp, 7, 5, vec![0xab; 1500])),
            ],
            "chunks of {chunk}"
        );
    }
}

#[test]
fn a_bad_frame_is_reported_and_the_next_one_read() {
    let mut stream = Vec::new();
    // Unknown kind.
    stream.extend_from_slice(&(MEDIA_HEAD as u32 + 2).to_be_bytes());
    stream.extend_from_slice(&[9, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff]);
    // Shorter than its head.
    stream.extend_from_slice(&3u32.to_be_bytes());
    stream.extend_from_slice(&[1, 2, 3]);
    // Over the limit: skipped by its length, however it arrives.
    let huge = MEDIA_HEAD + MAX_MEDIA_PAYLOAD + 1;
    stream.extend_from_slice(&(huge as u32).to_be_bytes());
    stream.extend(std::iter::repeat_n(0u8, huge));
    encode_media_frame(FrameKind::Rtp, 1, 2, b"after", &mut stream);
    let mut reader = MediaFrameReader::default();
    let mut got = Vec::new();
    for piece in stream.chunks(1000) {
        reader.push(piece);
        got.extend(frames(&mut reader));
    }
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got[0].as_ref().unwrap_err().contains("unknown kind 9"));
    assert!(got[1].as_ref().unwrap_err().contains("shorter than its head"));
    assert!(got[2].as_ref().unwrap_err().contains("over the limit"));
    assert_eq!(got[3], Ok((FrameKind::Rtp, 1, 2, b"after".to_vec())));
}

#[test]
fn a_queue_holds_its_limit_and_hands_out_whole_frames() {
    let frame_len = 4 + MEDIA_HEAD + 100;
    let mut queue = FrameQueue::new(frame_len * 3);
    for ssrc in 0..3 {
        assert!(queue.push(FrameKind::Rtp, 1, ssrc, &[0; 100]));
    }
    assert!(!queue.push(FrameKind::Rtp, 1, 3, &[0; 100]), "the fourth does not fit");
    let mut out = Vec::new();
    assert_eq!(queue.take(&mut out, frame_len * 2 - 1), frame_len, "only whole frames within the budget");
    assert_eq!(queue.take(&mut out, 1), frame_len, "at least one frame, whatever the budget");
    assert!(queue.push(FrameKind::Rtp, 1, 3, &[0; 100]), "room again");
    assert_eq!(queue.take(&mut out, usize::MAX), frame_len * 2);
    assert!(queue.is_empty());
    let mut reader = MediaFrameReader::default();
    reader.push(&out);
    let ssrcs: Vec<u32> = frames(&mut reader).into_iter().map(|frame| frame.unwrap().2).collect();
    assert_eq!(ssrcs, vec![0, 1, 2, 3], "in order, nothing lost that was queued");
}
