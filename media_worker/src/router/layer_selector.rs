//! Which layer of a stream a sender forwards. A publisher may send a stream
//! as several encodings (simulcast: spatial layers, each its own SSRC), and
//! each encoding in temporal layers (the payload names them); a sender
//! forwards one spatial layer and the temporal layers up to one.
//!
//! With SVC (VP9) one stream carries the spatial layers, each packet
//! naming its own: a sender forwards the packets of the layers up to one,
//! moves down at the start of any picture (lower layers never depend on
//! upper ones), up at a keyframe, and marks the end of the picture on the
//! last packet of the top layer it forwards.
//!
//! The target spatial layer is the highest one the publisher sends now
//! ([`LayerActivity`]) at or below the subscriber's preference (the lowest
//! one sent if none is). A switch to it happens on its keyframe (requested
//! by the router while [`LayerSelector::wants_keyframe`] says so); a layer
//! silent for [`LAYER_TIMEOUT`] is no longer sent, and the sender leaves it
//! for the best one that is. Temporal layers are climbed at a layer-sync
//! point or a keyframe, and left at the start of any frame. The selector
//! only decides: numbering is the [`Rewriter`](super::rewriter::Rewriter)'s.
//! The transport's bandwidth estimate caps the target, spatial and temporal
//! ([`super::bandwidth`] shares it among the transport's senders). When it
//! moves a sender down, what the transport still holds of the old layers
//! (queued by its pacer at the old rate) is dropped: at the new layer's
//! keyframe for simulcast, at the next picture for SVC (with a keyframe
//! asked for: the dropped packets break the lower layers' chain too). A
//! sender that the bandwidth moved to a lower spatial layer climbs no
//! higher for [`CLIMB_HOLD`] (its temporal layers may): an estimate that
//! hovers near a link's rate would otherwise move it up and down, and each
//! spatial switch costs a keyframe that a narrow link delivers late. A move
//! down for another reason (a preference, a layer the publisher stopped or
//! not measured yet) holds nothing.

use std::time::{Duration, Instant};

use crate::rtp::codecs::FrameInfo;
use crate::rtp::packet::IncomingRtp;
use crate::rtp::stats::RateWindow;

/// A layer silent this long has stopped: a sender forwarding it moves to
/// one that is sent.
pub const LAYER_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a sender that the bandwidth moved to a lower spatial layer
/// stays at most on the layer it forwards (as mediasoup's worker does after
/// a downgrade). Behind a 250 kbit/s bottleneck, H264 viewers
/// were moved 2 → 0 → 1 while limited in 13 of 30 runs of `bench/adapt`
/// (GCC's estimate overshoots a link with a short queue), and the middle
/// layer's keyframes froze the picture.
pub const CLIMB_HOLD: Duration = Duration::from_secs(10);

/// The bitrate of a layer not measured yet: more than any estimate.
pub const UNMEASURED: u64 = u64::MAX / 64;

/// Encodings beyond this many are forwarded as the last one.
pub const MAX_SPATIAL_LAYERS: usize = 4;

/// Temporal layers beyond this many are measured with the last one.
pub const MAX_TEMPORAL_LAYERS: usize = 4;

/// A spatial and a temporal layer, each counted from 0 (the lowest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Layers {
    pub spatial: u8,
    pub temporal: u8,
}

impl Layers {
    /// The highest layers: what a sender prefers until told otherwise.
    pub const HIGHEST: Layers = Layers { spatial: u8::MAX, temporal: u8::MAX };
}

/// What a receiver's publisher sends now, per spatial layer: the SSRC, when
/// its latest packet arrived, the highest temporal layer seen in it, and
/// the bitrate of each of its temporal layers.
#[derive(Debug, Clone, Default)]
pub struct LayerActivity {
    layers: [Option<LayerSeen>; MAX_SPATIAL_LAYERS],
}

#[derive(Debug, Clone, Copy)]
struct LayerSeen {
    ssrc: u32,
    last_arrival: Instant,
    max_temporal: u8,
    /// Per temporal layer (a payload that names none counts as layer 0).
    rates: [RateWindow; MAX_TEMPORAL_LAYERS],
}

impl LayerSeen {
    /// Bits per second of its temporal layers up to `temporal`.
    fn bitrate_up_to(&self, temporal: u8, now: Instant) -> u64 {
        self.rates.iter().take(usize::from(temporal) + 1).map(|rate| rate.bitrate(now)).sum()
    }
}

impl LayerActivity {
    /// Notes a packet of spatial layer `spatial` (`bytes` of payload).
    pub fn record(&mut self, spatial: u8, ssrc: u32, arrival: Instant, temporal: Option<u8>, bytes: usize) {
        let slot = &mut self.layers[usize::from(spatial).min(MAX_SPATIAL_LAYERS - 1)];
        let temporal = temporal.unwrap_or(0);
        match slot {
            Some(seen) if seen.ssrc == ssrc => {
                seen.last_arrival = seen.last_arrival.max(arrival);
                seen.max_temporal = seen.max_temporal.max(temporal);
            }
            _ => *slot = Some(LayerSeen { ssrc, last_arrival: arrival, max_temporal: temporal, rates: [RateWindow::default(); MAX_TEMPORAL_LAYERS] }),
        }
        if let Some(seen) = slot {
            seen.rates[usize::from(temporal).min(MAX_TEMPORAL_LAYERS - 1)].record(bytes, arrival);
        }
    }

    /// Bits per second of payload arriving on spatial layer `spatial`.
    pub fn bitrate(&self, spatial: u8, now: Instant) -> u64 {
        self.seen(spatial).map_or(0, |seen| seen.bitrate_up_to(u8::MAX, now))
    }

    /// The layers a sender preferring `preferred` could forward now, lowest
    /// first, with their bitrates: the lowest spatial layer sent at each of
    /// its temporal layers (below its full frame rate, the frame rate falls
    /// before anything else), then each spatial layer sent at or below the
    /// preference at its full frame rate (at most the preferred temporal
    /// layer). `cumulative` (SVC): a spatial layer costs those below it
    /// too. A layer not measured yet (its first second) costs
    /// [`UNMEASURED`]: no estimate pays for it.
    pub fn claimable(&self, preferred: Layers, cumulative: bool, now: Instant) -> Vec<(Layers, u64)> {
        let mut spatial_layers: Vec<u8> = self.active(now).filter(|spatial| *spatial <= preferred.spatial).collect();
        if spatial_layers.is_empty() {
            spatial_layers.extend(self.active(now).next());
        }
        let cost = |spatial: u8, temporal: u8| match self.seen(spatial) {
            Some(seen) if seen.rates[0].is_measured() => seen.bitrate_up_to(temporal, now),
            _ => UNMEASURED,
        };
        let mut ladder = Vec::new();
        let mut below = 0u64;
        for (index, spatial) in spatial_layers.into_iter().enumerate() {
            let top = self.max_temporal(spatial).min(preferred.temporal);
            // Temporal steps where they are measured (an unmeasured base is given whole).
            let first = if index == 0 && cost(spatial, 0) < UNMEASURED { 0 } else { top };
            for temporal in first..=top {
                ladder.push((Layers { spatial, temporal }, below.saturating_add(cost(spatial, temporal))));
            }
            if cumulative {
                below = below.saturating_add(cost(spatial, top));
            }
        }
        ladder
    }

    /// Whether spatial layer `spatial` is sent (heard within [`LAYER_TIMEOUT`] of `now`).
    pub fn is_active(&self, spatial: u8, now: Instant) -> bool {
        self.seen(spatial).is_some_and(|seen| now.saturating_duration_since(seen.last_arrival) < LAYER_TIMEOUT)
    }

    /// The SSRC spatial layer `spatial` was last heard on.
    pub fn ssrc_of(&self, spatial: u8) -> Option<u32> {
        self.seen(spatial).map(|seen| seen.ssrc)
    }

    /// The highest temporal layer heard in spatial layer `spatial` (0 if its payloads name none).
    pub fn max_temporal(&self, spatial: u8) -> u8 {
        self.seen(spatial).map_or(0, |seen| seen.max_temporal)
    }

    /// The spatial layers heard on `ssrc` (one for a simulcast encoding,
    /// several for SVC), lowest first, each with its bitrate and the
    /// number of temporal layers heard in it.
    pub fn layers_of(&self, ssrc: u32, now: Instant) -> Vec<(u8, u64, u8)> {
        (0..MAX_SPATIAL_LAYERS as u8)
            .filter_map(|spatial| {
                let seen = self.seen(spatial).filter(|seen| seen.ssrc == ssrc)?;
                Some((spatial, seen.bitrate_up_to(u8::MAX, now), seen.max_temporal + 1))
            })
            .collect()
    }

    /// The spatial layers sent now, lowest first.
    pub fn active(&self, now: Instant) -> impl Iterator<Item = u8> + '_ {
        (0..MAX_SPATIAL_LAYERS as u8).filter(move |spatial| self.is_active(*spatial, now))
    }

    /// The highest spatial layer sent now at or below `limit`, else the
    /// lowest one sent; None if none is.
    pub fn best_at_most(&self, limit: u8, now: Instant) -> Option<u8> {
        let mut active = self.active(now).peekable();
        let lowest = *active.peek()?;
        Some(active.filter(|spatial| *spatial <= limit).last().unwrap_or(lowest))
    }

    fn seen(&self, spatial: u8) -> Option<&LayerSeen> {
        self.layers.get(usize::from(spatial)).and_then(Option::as_ref)
    }
}

/// The stream a packet belongs to, as a selector needs to know it.
#[derive(Debug, Clone, Copy)]
pub struct StreamShape<'a> {
    /// How many encodings the publisher declared (more than one: simulcast).
    pub encodings: usize,
    /// Whether its codec's keyframes are found in payloads.
    pub keyframes_known: bool,
    /// One encoding carrying several spatial layers (SVC): a packet's
    /// spatial layer is the one its payload names.
    pub svc: bool,
    pub activity: &'a LayerActivity,
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// It is of the source being forwarded.
    Forward,
    /// It starts a source: the first one, or another encoding switched to
    /// (`replaced`: one was forwarded before).
    Start { replaced: bool },
    /// Of the source forwarded, but of a temporal layer above the one
    /// forwarded: not sent, and its number is taken out of the stream.
    Skip,
    /// Of another encoding: not forwarded.
    Drop,
    /// Of the source forwarded, the first at a lower SVC layer that the
    /// bandwidth took the sender to: forwarded, what its transport still
    /// holds of the stream (queued at the old rate) dropped, and a keyframe
    /// asked for, which the dropped packets make the subscriber's decoder need.
    Restart,
}

/// The source forwarded: its SSRC and spatial layer (with SVC: the highest
/// one of it forwarded), and when its latest packet arrived.
#[derive(Debug, Clone, Copy)]
struct Source {
    ssrc: u32,
    spatial: u8,
    last_arrival: Instant,
}

#[derive(Debug, Clone)]
pub struct LayerSelector {
    preferred: Layers,
    /// The highest layers its transport's bandwidth estimate allows (None: no estimate).
    bandwidth_cap: Option<Layers>,
    /// The estimate, not the preference or the layers sent, set that cap.
    bandwidth_limited: bool,
    source: Option<Source>,
    /// The spatial layer it should forward, as of the latest packet.
    target: Option<u8>,
    /// The highest temporal layer forwarded.
    temporal: u8,
    /// The latest frame of the source decided on: its timestamp and whether it is forwarded.
    frame: Option<(u32, bool)>,
    /// The layers last reported (see [`Self::take_change`]).
    reported: Option<Layers>,
    /// The stream is SVC (as of the latest packet).
    svc: bool,
    /// The bandwidth moved an SVC sender down: its next forwarded packet restarts the stream.
    restart_due: bool,
    /// When the bandwidth last moved it to a lower spatial layer.
    held_down_at: Option<Instant>,
}

impl Default for LayerSelector {
    fn default() -> Self {
        Self { preferred: Layers::HIGHEST, bandwidth_cap: None, bandwidth_limited: false, source: None, target: None, temporal: u8::MAX, frame: None, reported: None, svc: false, restart_due: false, held_down_at: None }
    }
}

impl LayerSelector {
    /// Decides for a packet of spatial layer `spatial` whose payload says `frame`.
    pub fn select(&mut self, packet: &IncomingRtp, frame: &FrameInfo, spatial: u8, stream: StreamShape<'_>) -> Selection {
        let now = packet.arrival;
        let activity = stream.activity;
        self.svc = stream.svc;
        let cap = self.bandwidth_cap.unwrap_or(Layers::HIGHEST);
        self.target = activity.best_at_most(self.preferred.spatial.min(cap.spatial), now);
        match self.source {
            Some(ref mut source) if source.ssrc == packet.ssrc => {
                source.last_arrival = source.last_arrival.max(now);
                self.select_within(packet, frame, spatial)
            }
            source => {
                let simulcast = stream.encodings > 1;
                let switch = match source {
                    // The first source of a single stream starts at once (its subscriber asks for a keyframe), with SVC at a layer it forwards.
                    None if !simulcast => !self.svc || self.target.is_none_or(|target| spatial <= target),
                    None => self.target == Some(spatial),
                    // A new SSRC for the layer forwarded (or the stream, if single): the publisher restarted the encoding.
                    Some(current) if current.spatial == spatial || !simulcast => now.saturating_duration_since(current.last_arrival) >= LAYER_TIMEOUT,
                    Some(_) => self.target == Some(spatial),
                };
                let decodable = frame.keyframe || !stream.keyframes_known || (source.is_none() && !simulcast);
                if !(switch && decodable) {
                    return Selection::Drop;
                }
                let forwarded = if self.svc { self.target.unwrap_or(spatial).max(spatial) } else { spatial };
                if let Some(source) = source.filter(|source| forwarded < source.spatial) {
                    self.moved_down(source.spatial, now);
                }
                self.source = Some(Source { ssrc: packet.ssrc, spatial: forwarded, last_arrival: now });
                // From a keyframe on, every temporal layer decodes.
                self.temporal = self.temporal_target();
                self.frame = Some((packet.timestamp, true));
                Selection::Start { replaced: source.is_some() }
            }
        }
    }

    /// Within the source: the layers forwarded change at the start of a
    /// frame (a picture newer than the latest one decided on), and every
    /// packet of a frame shares its frame's fate; with SVC, a packet of a
    /// spatial layer above the one forwarded is not forwarded either.
    fn select_within(&mut self, packet: &IncomingRtp, frame: &FrameInfo, spatial: u8) -> Selection {
        if frame.temporal.is_none() && !self.svc {
            return Selection::Forward;
        }
        let tid = frame.temporal.unwrap_or(0);
        let temporal_forwarded = match self.frame {
            Some((timestamp, forwarded)) if timestamp == packet.timestamp => forwarded,
            Some((timestamp, _)) if (packet.timestamp.wrapping_sub(timestamp) as i32) < 0 => tid <= self.temporal,
            _ => {
                self.begin_picture(frame, tid, packet.arrival);
                let forwarded = tid <= self.temporal;
                self.frame = Some((packet.timestamp, forwarded));
                forwarded
            }
        };
        let spatial_forwarded = !self.svc || self.source.is_some_and(|source| spatial <= source.spatial);
        if !(temporal_forwarded && spatial_forwarded) {
            Selection::Skip
        } else if std::mem::take(&mut self.restart_due) {
            Selection::Restart
        } else {
            Selection::Forward
        }
    }

    /// A new picture of the source begins with a packet of temporal layer
    /// `tid`: the temporal layer forwarded climbs at a keyframe or a sync
    /// frame, and falls at once; with SVC the spatial layer forwarded
    /// climbs to the target at a keyframe, and falls to it at once.
    fn begin_picture(&mut self, frame: &FrameInfo, tid: u8, now: Instant) {
        let target = self.temporal_target();
        if frame.keyframe {
            self.temporal = target;
        } else if tid > self.temporal && tid <= target && frame.layer_sync {
            self.temporal = tid;
        } else if target < self.temporal {
            self.temporal = target;
        }
        if let (true, Some(source), Some(target)) = (self.svc, self.source, self.target) {
            if target < source.spatial {
                let by_bandwidth = self.moved_down(source.spatial, now);
                self.restart_due |= by_bandwidth && !frame.keyframe;
            }
            if let Some(source) = self.source.as_mut().filter(|source| target < source.spatial || frame.keyframe) {
                source.spatial = target;
            }
        }
    }

    /// It leaves spatial layer `from` for a lower one: if the bandwidth
    /// said so (its cap is below `from`, and the estimate set it), it is
    /// held there, and the answer is true.
    fn moved_down(&mut self, from: u8, now: Instant) -> bool {
        let by_bandwidth = self.bandwidth_limited && self.bandwidth_cap.is_some_and(|cap| cap.spatial < from);
        if by_bandwidth {
            self.held_down_at = Some(now);
        }
        by_bandwidth
    }

    /// Whether a forwarded packet of spatial layer `spatial` ends the
    /// picture as the subscriber gets it (SVC: the end of the top layer
    /// forwarded, where the publisher's marker may be on a layer above).
    pub fn ends_picture(&self, frame: &FrameInfo, spatial: u8) -> bool {
        self.svc && frame.ends_layer_frame && self.source.is_some_and(|source| source.spatial == spatial)
    }

    /// The highest temporal layer to forward: the preferred one, or lower if the bandwidth says so.
    fn temporal_target(&self) -> u8 {
        self.preferred.temporal.min(self.bandwidth_cap.map_or(u8::MAX, |cap| cap.temporal))
    }

    /// `setPreferredLayers`: the highest layers the subscriber wants.
    pub fn set_preferred(&mut self, preferred: Layers) {
        self.preferred = preferred;
    }

    pub fn preferred(&self) -> Layers {
        self.preferred
    }

    /// The highest layers the transport's bandwidth allows (see [`super::bandwidth`]).
    /// `limited`: the estimate set it (rather than the preference or the layers sent).
    pub fn set_bandwidth_cap(&mut self, cap: Option<Layers>, limited: bool) {
        self.bandwidth_cap = cap;
        self.bandwidth_limited = limited && cap.is_some();
    }

    /// Whether its spatial layer may not climb yet (see [`CLIMB_HOLD`]).
    pub fn climb_held(&self, now: Instant) -> bool {
        self.held_down_at.is_some_and(|at| now.saturating_duration_since(at) < CLIMB_HOLD)
    }

    /// The spatial layer forwarded now, if any.
    pub fn current_spatial(&self) -> Option<u8> {
        self.source.map(|source| source.spatial)
    }

    /// The spatial layer whose keyframe the sender waits for, to switch to it.
    /// With SVC only a climb needs one: a lower layer is taken at any picture.
    pub fn wants_keyframe(&self) -> Option<u8> {
        self.target.filter(|target| match self.source {
            None => true,
            Some(source) if self.svc => *target > source.spatial,
            Some(source) => source.spatial != *target,
        })
    }

    /// The SSRC forwarded, if any.
    pub fn current_ssrc(&self) -> Option<u32> {
        self.source.map(|source| source.ssrc)
    }

    /// The layers forwarded: its spatial layer, and the highest temporal
    /// layer of it that is both forwarded and sent.
    pub fn current(&self, activity: &LayerActivity) -> Option<Layers> {
        let source = self.source?;
        Some(Layers { spatial: source.spatial, temporal: self.temporal.min(activity.max_temporal(source.spatial)) })
    }

    /// The layers forwarded, if they changed since the last call.
    pub fn take_change(&mut self, activity: &LayerActivity) -> Option<Option<Layers>> {
        let current = self.current(activity);
        (current != self.reported).then(|| {
            self.reported = current;
            current
        })
    }
}

#[cfg(test)]
#[path = "layer_selector_tests.rs"]
mod tests;
