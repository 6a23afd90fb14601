//! Unit tests of `dependency_descriptor.rs`.

use super::testing::{descriptor, BitWriter, L1T3, L3T1_KEY};
use super::*;

fn read(reader: &mut DescriptorReader, templates: &[testing::TemplateSpec], template: usize, frame_number: u16) -> Descriptor {
    reader.read(&descriptor(templates, template, frame_number, false, (true, true))).expect("a descriptor")
}

#[test]
fn a_template_names_nothing_until_a_structure_is_attached() {
    let mut reader = DescriptorReader::default();
    assert_eq!(reader.read(&descriptor(L1T3, 1, 7, false, (true, true))), None);
    let key = reader.read(&descriptor(L1T3, 0, 8, true, (true, false))).unwrap();
    assert_eq!((key.start_of_frame, key.end_of_frame, key.frame_number), (true, false, 8));
    assert_eq!((key.spatial, key.temporal, key.independent), (0, 0, true));
    let delta = read(&mut reader, L1T3, 1, 9);
    assert_eq!((delta.temporal, delta.independent), (0, false));
}

#[test]
fn temporal_layers_and_their_switch_points() {
    let mut reader = DescriptorReader::default();
    reader.read(&descriptor(L1T3, 0, 100, true, (true, true))).unwrap();
    // T2 from the keyframe (T0), T1 from it too, T2 from the T1: each refers below its layer.
    let t2 = read(&mut reader, L1T3, 3, 101);
    assert_eq!((t2.temporal, t2.switch_up), (2, true));
    let t1 = read(&mut reader, L1T3, 2, 102);
    assert_eq!((t1.temporal, t1.switch_up), (1, true));
    assert!(read(&mut reader, L1T3, 3, 103).switch_up);
    // A T1 frame whose reference was never seen (lost, or before the structure) is no switch point.
    let t1 = read(&mut reader, L1T3, 2, 110);
    assert_eq!((t1.temporal, t1.switch_up), (1, false));
    // A T2 frame referring to a T2 frame is none either.
    read(&mut reader, L1T3, 3, 120);
    assert!(!read(&mut reader, L1T3, 3, 121).switch_up);
}

#[test]
fn a_decode_target_switch_indication_is_a_switch_point() {
    // A T1 template marked "switch" for its own decode target, referring to an unseen frame.
    const SWITCHING: &[testing::TemplateSpec] = &[(0, 0, &[], [2, 2, 2]), (0, 1, &[9], [0, 2, 2]), (0, 2, &[9], [0, 0, 1])];
    let mut reader = DescriptorReader::default();
    reader.read(&descriptor(SWITCHING, 0, 1, true, (true, true))).unwrap();
    assert!(read(&mut reader, SWITCHING, 1, 20).switch_up);
    assert!(!read(&mut reader, SWITCHING, 2, 30).switch_up);
}

#[test]
fn spatial_layers_of_a_k_svc_structure() {
    let mut reader = DescriptorReader::default();
    let layers: Vec<(u8, bool)> = [(0, true), (2, false), (4, false), (1, false), (3, false), (5, false)]
        .iter()
        .enumerate()
        .map(|(index, (template, attach))| {
            let found = reader.read(&descriptor(L3T1_KEY, *template, 40 + index as u16, *attach, (true, true))).unwrap();
            (found.spatial, found.independent)
        })
        .collect();
    assert_eq!(layers, [(0, true), (1, false), (2, false), (0, false), (1, false), (2, false)]);
}

#[test]
fn custom_decode_target_indications_and_frame_differences() {
    let mut reader = DescriptorReader::default();
    reader.read(&descriptor(L1T3, 0, 500, true, (true, true))).unwrap();
    let mut out = BitWriter::default();
    out.write(0b11, 2);
    out.write(2, 6); // the T1 template
    out.write(501, 16);
    out.write(0b00110, 5); // custom DTIs and frame differences
    out.write(0b00_10_10, 6); // switch for decode targets 1 and 2
    out.write(1, 2); // one 4-bit difference: 1 (the keyframe)
    out.write(0, 4);
    out.write(0, 2); // no more
    let found = reader.read(&out.bytes).unwrap();
    assert_eq!((found.temporal, found.switch_up, found.independent), (1, true, false));
    // The same with an 8-bit difference to a frame never seen: no switch point by references, but by its DTI.
    let mut out = BitWriter::default();
    out.write(0b11, 2);
    out.write(2, 6);
    out.write(502, 16);
    out.write(0b00010, 5); // custom frame differences only
    out.write(2, 2);
    out.write(199, 8);
    out.write(0, 2);
    let found = reader.read(&out.bytes).unwrap();
    assert_eq!((found.temporal, found.switch_up), (1, false));
}

#[test]
fn a_template_id_counts_from_the_structures_offset() {
    let mut key = descriptor(L1T3, 0, 1, true, (true, true));
    // Template id 60 with an offset of 60: template 0. Offset bits follow the five flags.
    key[0] = (key[0] & 0xc0) | 60;
    let mut bits = BitWriter::default();
    bits.write(60, 6);
    // Offset occupies bits 29..35 of the descriptor (3 bytes, then 5 flag bits).
    let offset = bits.bytes[0];
    key[3] = (key[3] & 0xf8) | (offset >> 5);
    key[4] = (key[4] & 0x1f) | (offset << 3);
    let mut reader = DescriptorReader::default();
    assert!(reader.read(&key).unwrap().independent);
    // Template id 63 is index 3 (T2); id 0 is index 4: no such template.
    let mut t2 = descriptor(L1T3, 3, 2, false, (true, true));
    t2[0] = (t2[0] & 0xc0) | 63;
    assert_eq!(reader.read(&t2).unwrap().temporal, 2);
    let mut none = descriptor(L1T3, 0, 3, false, (true, true));
    none[0] &= 0xc0;
    assert_eq!(reader.read(&none), None);
}

#[test]
fn a_truncated_structure_is_not_kept() {
    let mut reader = DescriptorReader::default();
    let key = descriptor(L1T3, 0, 1, true, (true, true));
    for length in 0..key.len() - 1 {
        assert_eq!(reader.read(&key[..length]), None, "{length} bytes");
    }
    assert_eq!(reader.read(&descriptor(L1T3, 1, 2, false, (true, true))), None);
}

#[test]
fn any_bytes_read_without_panic() {
    let mut reader = DescriptorReader::default();
    reader.read(&descriptor(L3T1_KEY, 0, 1, true, (true, true))).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..200_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let length = (state % 40) as usize;
        let bytes: Vec<u8> = (0..length).map(|i| (state.rotate_left(i as u32 * 8) >> (round % 7)) as u8).collect();
        if let Some(found) = reader.read(&bytes) {
            assert!(found.spatial <= MAX_LAYER_ID && found.temporal <= MAX_LAYER_ID);
        }
    }
}

#[test]
fn str0m_carries_the_bytes_as_they_are() {
    let extension = DescriptorExtension;
    let mut bytes = descriptor(L3T1_KEY, 0, 9, true, (true, true));
    bytes.resize(24, 0xa5);
    let mut values = ExtensionValues::default();
    assert!(!extension.parse_value(&bytes[..2], &mut values));
    assert!(extension.parse_value(&bytes, &mut values));
    assert!(extension.requires_two_byte_form(&values));
    let mut buf = [0u8; 64];
    assert_eq!(extension.write_to(&mut buf, &values), bytes.len());
    assert_eq!(&buf[..bytes.len()], &bytes[..]);
    let mut short = ExtensionValues::default();
    extension.parse_value(&bytes[..3], &mut short);
    assert!(!extension.requires_two_byte_form(&short));
    assert_eq!(extension.write_to(&mut buf, &ExtensionValues::default()), 0);
}

#[test]
fn the_layers_a_payload_names_win_over_the_descriptors() {
    use crate::rtp::codecs::{av1, vp9, PayloadFormat};
    let mut reader = DescriptorReader::default();
    reader.read(&descriptor(L1T3, 0, 1, true, (true, true))).unwrap();
    let t2 = read(&mut reader, L1T3, 3, 2);
    // AV1 (and VP8 from Chromium once the descriptor is negotiated) names none: the descriptor's.
    let frame = PayloadFormat::Av1.inspect(&av1::packet(false)).with_descriptor(&t2);
    assert_eq!((frame.temporal, frame.spatial, frame.layer_sync, frame.ends_layer_frame), (Some(2), Some(0), true, true));
    let keyframe = PayloadFormat::Av1.inspect(&av1::packet(true));
    assert!(keyframe.with_descriptor(&t2).keyframe);
    assert!(!keyframe.with_descriptor(&Descriptor { spatial: 1, ..t2 }).keyframe);
    // VP9 names its own.
    let vp9 = PayloadFormat::Vp9.inspect(&vp9::packet(7, false, 1, 1, false, true, false));
    assert_eq!(vp9.with_descriptor(&t2), vp9);
}
