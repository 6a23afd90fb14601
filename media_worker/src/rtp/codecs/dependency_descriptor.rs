//! The dependency descriptor (AV1 RTP specification, appendix A): the
//! header extension that names, on every packet, the layers of the frame
//! it carries, whatever the codec (AV1 carries no layer ids a packet can
//! always show). Three bytes on every packet say where the frame starts
//! and ends, its number and its *template*; a keyframe's first packet
//! attaches the stream's template structure, which gives each template a
//! spatial and a temporal layer, the frames it refers to (as differences
//! of frame numbers) and what it is to each *decode target* (a layer
//! combination a decoder may follow).
//!
//! [`DescriptorReader`] keeps a stream's structure and the layers of its
//! recent frames, and reads what the router needs of each packet:
//! [`Descriptor`]. Malformed or truncated bytes, and a descriptor that
//! names a template before any structure was seen, read as None.

use std::sync::Arc;

use str0m::rtp::{ExtensionSerializer, ExtensionValues};

/// The extension's URI (`a=extmap`, ORTC `headerExtensions`).
pub const URI: &str = "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension";

/// Templates a structure may hold (template ids are 6 bits).
const MAX_TEMPLATES: usize = 64;
/// Decode targets a structure may name (5 bits, plus one).
const MAX_DECODE_TARGETS: usize = 32;
/// Spatial and temporal ids (templates name at most 4 of each).
const MAX_LAYER_ID: u8 = 3;
/// Recent frames whose layers are kept, to tell a frame's references.
const RECENT_FRAMES: usize = 64;

/// A decode target indication: "switch", the frame is where a decoder may
/// start following that decode target.
const DTI_SWITCH: u8 = 2;

/// What a packet's descriptor says of its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// The packet is its frame's first.
    pub start_of_frame: bool,
    /// The packet is its frame's last.
    pub end_of_frame: bool,
    pub frame_number: u16,
    pub spatial: u8,
    pub temporal: u8,
    /// The frame refers to no other: a decoder may start at it.
    pub independent: bool,
    /// A decoder of the lower temporal layers may climb to this frame's
    /// here: it is a switch point of its own layers' decode target, or
    /// every frame it refers to is of a lower temporal layer.
    pub switch_up: bool,
}

/// One template of a structure.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Template {
    spatial: u8,
    temporal: u8,
    /// Two bits per decode target (decode target 0 lowest).
    dtis: u64,
    /// The frames it refers to, as differences of frame numbers.
    fdiffs: Vec<u16>,
}

/// A stream's template structure.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Structure {
    /// The template id of template 0 (ids count on from it, modulo 64).
    id_offset: u8,
    decode_targets: usize,
    templates: Vec<Template>,
    /// Each decode target's highest spatial and temporal layer.
    target_layers: Vec<(u8, u8)>,
}

impl Structure {
    /// The decode target of exactly these layers, if there is one.
    fn target_of(&self, spatial: u8, temporal: u8) -> Option<usize> {
        self.target_layers.iter().position(|layers| *layers == (spatial, temporal))
    }
}

/// A stream's descriptors, read in arrival order.
#[derive(Debug, Clone)]
pub struct DescriptorReader {
    structure: Option<Structure>,
    /// (frame number, temporal layer) of recent frames, by frame number modulo the length.
    recent: [Option<(u16, u8)>; RECENT_FRAMES],
}

impl Default for DescriptorReader {
    fn default() -> Self {
        Self { structure: None, recent: [None; RECENT_FRAMES] }
    }
}

impl DescriptorReader {
    /// What a descriptor's `bytes` say, the structure it attaches kept for
    /// the packets that follow.
    pub fn read(&mut self, bytes: &[u8]) -> Option<Descriptor> {
        let mut bits = Bits::new(bytes);
        let start_of_frame = bits.flag()?;
        let end_of_frame = bits.flag()?;
        let template_id = bits.read(6)? as u8;
        let frame_number = bits.read(16)? as u16;
        let (mut custom_dtis, mut custom_fdiffs, mut active_targets_present) = (false, false, false);
        let mut attached = None;
        if bytes.len() > 3 {
            let structure_present = bits.flag()?;
            active_targets_present = bits.flag()?;
            custom_dtis = bits.flag()?;
            custom_fdiffs = bits.flag()?;
            let _custom_chains = bits.flag()?;
            if structure_present {
                attached = Some(read_structure(&mut bits)?);
            }
        }
        let structure = attached.as_ref().or(self.structure.as_ref())?;
        if active_targets_present {
            bits.read(structure.decode_targets)?;
        }
        let index = (usize::from(template_id) + MAX_TEMPLATES - usize::from(structure.id_offset)) % MAX_TEMPLATES;
        let template = structure.templates.get(index)?;
        let mut dtis = template.dtis;
        if custom_dtis {
            dtis = 0;
            for target in 0..structure.decode_targets {
                dtis |= u64::from(bits.read(2)?) << (2 * target);
            }
        }
        let mut custom = Vec::new();
        if custom_fdiffs {
            loop {
                let size = bits.read(2)?;
                if size == 0 {
                    break;
                }
                custom.push(bits.read(4 * size as usize)? as u16 + 1);
            }
        }
        let fdiffs = if custom_fdiffs { &custom } else { &template.fdiffs };
        let (spatial, temporal) = (template.spatial, template.temporal);
        let own_switch = structure.target_of(spatial, temporal).is_some_and(|target| (dtis >> (2 * target)) & 3 == u64::from(DTI_SWITCH));
        let refers_below = temporal > 0
            && fdiffs.iter().all(|fdiff| {
                let referred = frame_number.wrapping_sub(*fdiff);
                self.recent[usize::from(referred) % RECENT_FRAMES].is_some_and(|(number, tid)| number == referred && tid < temporal)
            });
        let descriptor = Descriptor {
            start_of_frame,
            end_of_frame,
            frame_number,
            spatial,
            temporal,
            independent: fdiffs.is_empty(),
            switch_up: own_switch || refers_below,
        };
        if attached.is_some() {
            self.structure = attached;
            self.recent = [None; RECENT_FRAMES];
        }
        self.recent[usize::from(frame_number) % RECENT_FRAMES] = Some((frame_number, temporal));
        Some(descriptor)
    }
}

/// `template_dependency_structure()`: templates, their decode target
/// indications, frame differences and chains, and the resolutions.
fn read_structure(bits: &mut Bits<'_>) -> Option<Structure> {
    let id_offset = bits.read(6)? as u8;
    let decode_targets = bits.read(5)? as usize + 1;
    // template_layers(): each template's layers follow the previous one's.
    let mut templates = Vec::new();
    let (mut spatial, mut temporal) = (0u8, 0u8);
    loop {
        if templates.len() == MAX_TEMPLATES {
            return None;
        }
        templates.push(Template { spatial, temporal, dtis: 0, fdiffs: Vec::new() });
        match bits.read(2)? {
            0 => {}
            1 => temporal += 1,
            2 => (spatial, temporal) = (spatial + 1, 0),
            _ => break,
        }
        if spatial > MAX_LAYER_ID || temporal > MAX_LAYER_ID {
            return None;
        }
    }
    for template in &mut templates {
        for target in 0..decode_targets {
            template.dtis |= u64::from(bits.read(2)?) << (2 * target);
        }
    }
    for template in &mut templates {
        while bits.flag()? {
            template.fdiffs.push(bits.read(4)? as u16 + 1);
        }
    }
    let chains = bits.non_symmetric(decode_targets as u32 + 1)?;
    if chains > 0 {
        for _ in 0..decode_targets {
            bits.non_symmetric(chains)?;
        }
        bits.skip(templates.len() * chains as usize * 4)?;
    }
    if bits.flag()? {
        // A width and a height per spatial layer.
        let spatial_layers = usize::from(templates.last().map_or(0, |last| last.spatial)) + 1;
        bits.skip(spatial_layers * 32)?;
    }
    let target_layers = (0..decode_targets)
        .map(|target| {
            templates
                .iter()
                .filter(|template| (template.dtis >> (2 * target)) & 3 != 0)
                .fold((0, 0), |(spatial, temporal), template| (spatial.max(template.spatial), temporal.max(template.temporal)))
        })
        .collect();
    debug_assert!(decode_targets <= MAX_DECODE_TARGETS);
    Some(Structure { id_offset, decode_targets, templates, target_layers })
}

/// A big-endian bit reader.
struct Bits<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Bits<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    /// `f(n)`: the next `count` bits (at most 32).
    fn read(&mut self, count: usize) -> Option<u32> {
        if count > 32 || self.position + count > self.bytes.len() * 8 {
            return None;
        }
        let mut value = 0u32;
        for _ in 0..count {
            let bit = (self.bytes[self.position / 8] >> (7 - self.position % 8)) & 1;
            value = (value << 1) | u32::from(bit);
            self.position += 1;
        }
        Some(value)
    }

    fn flag(&mut self) -> Option<bool> {
        self.read(1).map(|bit| bit == 1)
    }

    fn skip(&mut self, count: usize) -> Option<()> {
        (self.position + count <= self.bytes.len() * 8).then(|| self.position += count)
    }

    /// `ns(n)`: a value below `n` in as few bits as the spec's
    /// non-symmetric code takes.
    fn non_symmetric(&mut self, n: u32) -> Option<u32> {
        let width = 32 - n.leading_zeros() as usize;
        if width == 0 {
            return Some(0);
        }
        let shorter = (1u32 << width) - n;
        let value = self.read(width - 1)?;
        if value < shorter {
            return Some(value);
        }
        Some((value << 1) - shorter + self.read(1)?)
    }
}

/// A descriptor's bytes as received: what a forwarded copy carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorBytes(pub Arc<[u8]>);

/// How str0m reads and writes the extension: its bytes kept as they are,
/// in the packet's `user_values` ([`DescriptorBytes`]).
#[derive(Debug)]
pub struct DescriptorExtension;

impl ExtensionSerializer for DescriptorExtension {
    fn write_to(&self, buf: &mut [u8], values: &ExtensionValues) -> usize {
        match values.user_values.get::<DescriptorBytes>() {
            Some(DescriptorBytes(bytes)) if bytes.len() <= buf.len() && bytes.len() <= 255 => {
                buf[..bytes.len()].copy_from_slice(bytes);
                bytes.len()
            }
            _ => 0,
        }
    }

    fn parse_value(&self, buf: &[u8], values: &mut ExtensionValues) -> bool {
        if buf.len() < 3 {
            return false;
        }
        values.user_values.set(DescriptorBytes(Arc::from(buf)));
        true
    }

    fn is_video(&self) -> bool {
        true
    }

    fn is_audio(&self) -> bool {
        false
    }

    fn requires_two_byte_form(&self, values: &ExtensionValues) -> bool {
        values.user_values.get::<DescriptorBytes>().is_some_and(|DescriptorBytes(bytes)| bytes.len() > 16)
    }
}

/// Descriptors for tests, as a publisher writes them.
#[cfg(test)]
pub mod testing {
    /// A big-endian bit writer.
    #[derive(Default)]
    pub struct BitWriter {
        pub bytes: Vec<u8>,
        bits: usize,
    }

    impl BitWriter {
        pub fn write(&mut self, value: u32, count: usize) {
            for shift in (0..count).rev() {
                if self.bits % 8 == 0 {
                    self.bytes.push(0);
                }
                let bit = ((value >> shift) & 1) as u8;
                *self.bytes.last_mut().unwrap() |= bit << (7 - self.bits % 8); // ok: a test's writer, a byte pushed above
                self.bits += 1;
            }
        }
    }

    /// A template: its spatial and temporal layers, frame differences and
    /// its indications for three decode targets.
    pub type TemplateSpec = (u8, u8, &'static [u16], [u8; 3]);

    /// An L1T3 structure with one decode target per temporal layer.
    pub const L1T3: &[TemplateSpec] = &[
        (0, 0, &[], [2, 2, 2]),  // the keyframe
        (0, 0, &[4], [3, 3, 3]), // T0 from the previous T0
        (0, 1, &[2], [0, 1, 3]), // T1 from the T0 before it
        (0, 2, &[1], [0, 0, 1]), // T2 from the frame before it
    ];

    /// A K-SVC structure of three spatial layers, one temporal layer, one
    /// decode target per spatial layer: the key picture's frames (S1 and
    /// S2 from the layer below), then each layer from its own previous frame.
    pub const L3T1_KEY: &[TemplateSpec] = &[
        (0, 0, &[], [2, 2, 2]),
        (0, 0, &[3], [3, 0, 0]),
        (1, 0, &[1], [0, 2, 2]),
        (1, 0, &[3], [0, 3, 0]),
        (2, 0, &[1], [0, 0, 2]),
        (2, 0, &[3], [0, 0, 3]),
    ];

    /// An L3T3_KEY structure, one decode target per spatial layer: per
    /// spatial layer its keyframe's frame (S1 and S2 from the layer below),
    /// then its T0, T1 and T2 frames, from the same layer's 4, 2 and 1 pictures before.
    pub const L3T3_KEY: &[TemplateSpec] = &[
        (0, 0, &[], [2, 2, 2]),
        (0, 0, &[12], [3, 0, 0]),
        (0, 1, &[6], [3, 0, 0]),
        (0, 2, &[3], [1, 0, 0]),
        (1, 0, &[1], [0, 2, 2]),
        (1, 0, &[12], [0, 3, 0]),
        (1, 1, &[6], [0, 3, 0]),
        (1, 2, &[3], [0, 1, 0]),
        (2, 0, &[1], [0, 0, 2]),
        (2, 0, &[12], [0, 0, 3]),
        (2, 1, &[6], [0, 0, 3]),
        (2, 2, &[3], [0, 0, 1]),
    ];

    /// A descriptor of a frame of `templates[template]`, the structure attached if `attach`.
    pub fn descriptor(templates: &[TemplateSpec], template: usize, frame_number: u16, attach: bool, edges: (bool, bool)) -> Vec<u8> {
        let mut out = BitWriter::default();
        out.write(u32::from(edges.0), 1);
        out.write(u32::from(edges.1), 1);
        out.write(template as u32, 6);
        out.write(u32::from(frame_number), 16);
        if !attach {
            return out.bytes;
        }
        out.write(0b10000, 5); // the structure, nothing custom
        out.write(0, 6); // template id offset
        out.write(2, 5); // three decode targets
        for (index, (spatial, temporal, _, _)) in templates.iter().enumerate() {
            let next = match templates.get(index + 1) {
                None => 3,
                Some((next_spatial, _, _, _)) if next_spatial != spatial => 2,
                Some((_, next_temporal, _, _)) if next_temporal != temporal => 1,
                Some(_) => 0,
            };
            out.write(next, 2);
        }
        for (_, _, _, dtis) in templates {
            for dti in dtis {
                out.write(u32::from(*dti), 2);
            }
        }
        for (_, _, fdiffs, _) in templates {
            for fdiff in *fdiffs {
                out.write(1, 1);
                out.write(u32::from(*fdiff - 1), 4);
            }
            out.write(0, 1);
        }
        out.write(0, 2); // no chains: ns(4) of 0 is two bits
        out.write(0, 1); // no resolutions
        out.bytes
    }
}

#[cfg(test)]
#[path = "dependency_descriptor_tests.rs"]
mod tests;
