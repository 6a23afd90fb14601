//! How one transport's bandwidth estimate is shared among the senders on
//! it: which layers each may forward at most. A pure function of the
//! estimate and of the layers each sender could be given (their bitrates,
//! measured where they arrive, lowest first: see
//! [`LayerActivity::claimable`](super::layer_selector::LayerActivity::claimable)):
//! every sender gets its lowest layer, then the senders climb one layer at
//! a time, in turns (a sender of priority `p` climbs up to `p` layers per
//! turn), while what is left of the estimate pays for the step. A step
//! above the layers a sender forwards now must fit with a margin
//! ([`UPGRADE_MARGIN`]), so that an estimate that hovers near a layer's
//! bitrate does not make it switch back and forth (each spatial switch
//! costs a keyframe); a claim `held` (the bandwidth moved it down lately:
//! [`CLIMB_HOLD`](super::layer_selector::CLIMB_HOLD)) climbs no spatial
//! layer above the one it forwards.

use super::layer_selector::{Layers, UNMEASURED};

/// A step up must fit in what is left of the estimate with this much to spare.
pub const UPGRADE_MARGIN: f64 = 1.15;

/// A sender to share the estimate with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The layers it could forward (those sent, at or below its
    /// preference), lowest first, each with its bitrate in bits per second.
    pub layers: Vec<(Layers, u64)>,
    /// The layers it forwards now, if any.
    pub current: Option<Layers>,
    /// Its share of each turn: it climbs up to this many layers per turn (at least 1).
    pub priority: u8,
    /// Its spatial layer may not climb above `current` for now.
    pub held: bool,
}

/// What the senders of a transport were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shares {
    /// The highest layers each claim may forward (None for a claim with
    /// no layer), in the claims' order.
    pub caps: Vec<Option<Layers>>,
    /// Whether the estimate is what stopped each claim's climb (a measured
    /// step that did not fit), rather than its preference, the layers sent,
    /// an unmeasured layer or its hold.
    pub limited: Vec<bool>,
    /// The bitrate all of them would take at their best: what the transport
    /// probes for (a layer whose bitrate is [`UNMEASURED`] is never climbed
    /// to, nor probed for).
    pub wanted: u64,
    /// The bitrate of what they were given plus the cheapest next step (with
    /// its margin): what the transport keeps sending, padding the rest, so
    /// that the estimate can grow to the next layer once the link allows.
    pub next_step: u64,
}

/// Shares `estimate` among `claims` (see the module's comment).
pub fn share(estimate: u64, claims: &[Claim]) -> Shares {
    // What to probe for: each claim's best layer whose bitrate is known.
    let wanted = claims.iter().filter_map(|claim| claim.layers.iter().rev().map(|(_, bitrate)| *bitrate).find(|bitrate| *bitrate < UNMEASURED)).sum();
    // The index in each claim's layers given so far.
    let mut given: Vec<Option<usize>> = claims.iter().map(|claim| (!claim.layers.is_empty()).then_some(0)).collect();
    let mut limited = vec![false; claims.len()];
    // An unmeasured base layer is given all the same, at no known cost.
    let known = |bitrate: u64| if bitrate >= UNMEASURED { 0 } else { bitrate };
    let mut left = estimate.saturating_sub(claims.iter().filter_map(|claim| claim.layers.first()).map(|(_, bitrate)| known(*bitrate)).sum());
    loop {
        let mut climbed = false;
        for ((claim, index), limited) in claims.iter().zip(given.iter_mut()).zip(limited.iter_mut()) {
            for _ in 0..claim.priority.max(1) {
                let Some(at) = *index else { break };
                let Some(&(layers, bitrate)) = claim.layers.get(at + 1) else { break };
                if claim.held && claim.current.is_some_and(|current| layers.spatial > current.spatial) {
                    break;
                }
                let step = if bitrate >= UNMEASURED { UNMEASURED } else { bitrate.saturating_sub(known(claim.layers[at].1)) };
                let needed = if claim.current.is_some_and(|current| layers > current) { (step as f64 * UPGRADE_MARGIN) as u64 } else { step };
                if needed > left {
                    *limited = bitrate < UNMEASURED;
                    break;
                }
                left -= step;
                *index = Some(at + 1);
                climbed = true;
            }
        }
        if !climbed {
            break;
        }
    }
    let caps = claims.iter().zip(&given).map(|(claim, index)| index.map(|at| claim.layers[at].0)).collect();
    let used: u64 = claims.iter().zip(&given).filter_map(|(claim, index)| index.map(|at| known(claim.layers[at].1))).sum();
    let cheapest_step = claims
        .iter()
        .zip(&given)
        .filter_map(|(claim, index)| {
            let at = (*index)?;
            let (_, next) = *claim.layers.get(at + 1)?;
            (next < UNMEASURED).then(|| (next.saturating_sub(known(claim.layers[at].1)) as f64 * UPGRADE_MARGIN) as u64)
        })
        .min()
        .unwrap_or(0);
    Shares { caps, limited, wanted, next_step: used + cheapest_step }
}

#[cfg(test)]
#[path = "bandwidth_tests.rs"]
mod tests;
