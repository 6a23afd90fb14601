//! What the router reads in a video payload, per codec: whether a packet
//! begins a keyframe (where a subscriber may switch to another encoding),
//! its temporal and spatial layer (VP9's SVC) and whether a decoder may climb to that
//! layer there, and VP8's picture numbers, which a sender rewrites
//! ([`vp8::write_ids`]) so that a subscriber sees one continuous stream
//! across switches. Pure functions on byte slices; a payload too short
//! or malformed reads as a packet with nothing to say. Layers a payload
//! does not name come from a header extension, the dependency descriptor,
//! read with the stream's state ([`dependency_descriptor`]) and added to
//! what the payload says ([`FrameInfo::with_descriptor`]): AV1's always,
//! VP8's from Chromium once the descriptor is negotiated (its payloads
//! then carry no TID), H264's temporal layers.

pub mod av1;
pub mod dependency_descriptor;
pub mod h264;
pub mod vp8;
pub mod vp9;

use dependency_descriptor::Descriptor;

/// The codecs whose payloads are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadFormat {
    Vp8,
    Vp9,
    H264,
    Av1,
    /// Audio and anything else: nothing is read.
    #[default]
    Opaque,
}

impl PayloadFormat {
    /// The format of a codec by its MIME type (`video/VP8`…).
    pub fn of_mime_type(mime_type: &str) -> Self {
        match mime_type.to_ascii_lowercase().as_str() {
            "video/vp8" => Self::Vp8,
            "video/vp9" => Self::Vp9,
            "video/h264" => Self::H264,
            "video/av1" => Self::Av1,
            _ => Self::Opaque,
        }
    }

    /// Whether its keyframes are found in its payloads (an encoding of a
    /// simulcast stream is then switched to on a keyframe only).
    pub fn knows_keyframes(self) -> bool {
        self != Self::Opaque
    }

    /// Whether one stream of it may carry several spatial layers (SVC),
    /// each packet naming its own ([`FrameInfo::spatial`]; AV1's in its
    /// dependency descriptor).
    pub fn has_spatial_layers(self) -> bool {
        matches!(self, Self::Vp9 | Self::Av1)
    }

    /// What a payload of this format says.
    pub fn inspect(self, payload: &[u8]) -> FrameInfo {
        match self {
            Self::Vp8 => vp8::inspect(payload),
            Self::Vp9 => vp9::inspect(payload),
            Self::H264 => h264::inspect(payload),
            Self::Av1 => av1::inspect(payload),
            Self::Opaque => FrameInfo::default(),
        }
    }
}

/// What one packet's payload says about the frame it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameInfo {
    /// It begins a keyframe: a decoder can start here.
    pub keyframe: bool,
    /// The temporal layer of its frame, when the payload names one.
    pub temporal: Option<u8>,
    /// A decoder of the lower temporal layers may switch up to this one
    /// here (VP8's layer sync bit, VP9's switching-up point).
    pub layer_sync: bool,
    /// The spatial layer of its frame within the stream (SVC: VP9's SID),
    /// when the payload names one.
    pub spatial: Option<u8>,
    /// It is the last packet of its spatial layer's frame (VP9's E bit).
    pub ends_layer_frame: bool,
    /// VP8's picture numbers, when present.
    pub vp8: Option<vp8::PictureIds>,
}

impl FrameInfo {
    /// What a payload says, with the layers its packet's dependency
    /// descriptor names where the payload names none (a keyframe then only
    /// at the base spatial layer).
    pub fn with_descriptor(self, descriptor: &Descriptor) -> Self {
        if self.temporal.is_some() || self.spatial.is_some() {
            return self;
        }
        Self {
            keyframe: self.keyframe && descriptor.spatial == 0,
            temporal: Some(descriptor.temporal),
            layer_sync: descriptor.switch_up,
            spatial: Some(descriptor.spatial),
            ends_layer_frame: descriptor.end_of_frame,
            ..self
        }
    }
}
