//! What a WebRTC transport knows of its bandwidth toward the endpoint, and
//! when str0m's estimator must start over.
//!
//! str0m's send-side estimate (GCC from the endpoint's transport-cc
//! feedback) can stop moving after a congestion: its loss-based part holds
//! the estimate at the rate it fell to (a hold that doubles each time the
//! loss state is entered again, up to 60 s), and the prober, which would
//! find the link clear again, stays off as long as the estimate was last set
//! while loss-limited (str0m 0.25 `bwe/probe/control.rs` `can_probe`, read
//! again only when the estimate changes). Behind a 250 kbit/s bottleneck of
//! 18 s, Chromium's viewer stayed on the lowest layer 35 s after the link
//! cleared in 2 of 11 runs (`bench/adapt`), the estimate unchanged to the
//! bit. [`Restarts`] notices an estimate that has not moved for
//! [`STILL`] while the senders want more, and starts the estimator over
//! from it (`Bwe::reset`): its first probes, at 3× and 6× the estimate, find
//! what the link carries now. A link that is really that narrow makes the
//! probes fail and the estimate settle again; restarts then come less often
//! (the wait doubles, up to [`LONGEST_WAIT`]).

use std::time::{Duration, Instant};

use str0m::bwe::BweKind;

use crate::router::bandwidth::UPGRADE_MARGIN;

/// The bandwidth estimate a transport starts from, in bits per second (as
/// mediasoup's `initialAvailableOutgoingBitrate`): probing climbs from there.
pub const INITIAL_BANDWIDTH_ESTIMATE: u64 = 600_000;

/// How often an estimate is shared again among the senders when it does not change.
pub const RESHARE_INTERVAL: Duration = Duration::from_secs(1);

/// How long str0m's estimate must stay the same, below what the senders
/// want, before the estimator starts over. A live estimator moves more often:
/// each transport-cc report changes it a little, and while the senders are
/// application-limited str0m probes every 5 s.
pub const STILL: Duration = Duration::from_secs(6);

/// The longest wait between two restarts of an estimate that does not climb.
pub const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// What the transport knows of its bandwidth toward the endpoint: str0m's
/// send-side estimate from the endpoint's transport-cc feedback, or, from an
/// endpoint that sends none (aiortc), its REMB.
#[derive(Debug, Default, Clone)]
pub struct BandwidthEstimate {
    /// The room asks for estimates (else none is taken, REMB included).
    enabled: bool,
    twcc: Option<u64>,
    remb: Option<u64>,
    /// A new estimate since the worker last took one.
    fresh: bool,
    /// When the worker last took one.
    taken_at: Option<Instant>,
    /// What the transport last asked str0m to sustain and to probe for.
    wanted: Option<(u64, u64)>,
    restarts: Restarts,
}

impl BandwidthEstimate {
    pub fn new(enabled: bool) -> Self {
        Self { enabled, ..Self::default() }
    }

    /// str0m's estimate event.
    pub fn update(&mut self, kind: BweKind) {
        if !self.enabled {
            return;
        }
        match kind {
            BweKind::Twcc { estimate, can_probe: true } => self.twcc = Some(estimate.as_u64()),
            BweKind::Remb { estimate, .. } => self.remb = Some(estimate.as_u64()),
            _ => return,
        }
        self.fresh = true;
    }

    /// Bits per second, if the endpoint's feedback told any.
    pub fn estimate(&self) -> Option<u64> {
        self.twcc.or(self.remb)
    }

    /// The estimate, if a new one came since the last call or
    /// [`RESHARE_INTERVAL`] passed (the layers' bitrates move while the
    /// estimate stays).
    pub fn take(&mut self, now: Instant) -> Option<u64> {
        if let Some(estimate) = self.twcc {
            self.restarts.observe(estimate, now);
        }
        let due = self.taken_at.is_none_or(|at| now.saturating_duration_since(at) >= RESHARE_INTERVAL);
        if !(std::mem::take(&mut self.fresh) || due) {
            return None;
        }
        let estimate = self.estimate()?;
        self.taken_at = Some(now);
        Some(estimate)
    }

    /// Whether (`minimum`, `wanted`) differ enough from what str0m was last
    /// told to be worth telling (measured bitrates move a little all the time).
    pub fn wants(&mut self, minimum: u64, wanted: u64) -> bool {
        let close = |last: u64, new: u64| last.abs_diff(new) < last / 10;
        if self.wanted.is_some_and(|(last_minimum, last_wanted)| close(last_minimum, minimum) && close(last_wanted, wanted)) {
            return false;
        }
        self.wanted = Some((minimum, wanted));
        true
    }

    /// The estimate to start str0m's estimator over from, when it is due
    /// (see [`Restarts`]); the senders want `wanted`.
    pub fn restart_due(&mut self, wanted: u64, now: Instant) -> Option<u64> {
        self.restarts.due(self.twcc?, wanted, now)
    }
}

/// When a still estimate is started over (the module's comment says why).
#[derive(Debug, Default, Clone)]
pub struct Restarts {
    /// The estimate last seen, and since when it has been that.
    still: Option<(u64, Instant)>,
    /// The last restart: when, and from which estimate.
    last: Option<(Instant, u64)>,
    /// The wait before another restart: [`STILL`], doubled by each restart
    /// after which the estimate did not climb.
    wait: Duration,
}

impl Restarts {
    /// The estimate is `estimate` at `now`.
    pub fn observe(&mut self, estimate: u64, now: Instant) {
        if self.still.is_none_or(|(seen, _)| seen != estimate) {
            self.still = Some((estimate, now));
        }
        if self.last.is_some_and(|(_, from)| estimate as f64 > from as f64 * UPGRADE_MARGIN) {
            // The last restart found more: the next one may come as soon.
            self.wait = STILL;
        }
    }

    /// The estimate to restart from, if `estimate` has not moved for
    /// [`STILL`] while the senders want more than it with the margin a
    /// layer's step needs, and the wait since the last restart is over.
    /// It observes `estimate` itself (observing is idempotent), so it holds
    /// whether or not [`BandwidthEstimate::take`] ran first.
    pub fn due(&mut self, estimate: u64, wanted: u64, now: Instant) -> Option<u64> {
        self.observe(estimate, now);
        let (_, since) = self.still?;
        let wait = self.wait.max(STILL);
        let ready = now.saturating_duration_since(since) >= STILL
            && self.last.is_none_or(|(at, _)| now.saturating_duration_since(at) >= wait)
            && wanted as f64 > estimate as f64 * UPGRADE_MARGIN;
        if !ready {
            return None;
        }
        self.last = Some((now, estimate));
        self.wait = (wait * 2).min(LONGEST_WAIT);
        self.still = Some((estimate, now));
        Some(estimate)
    }
}

#[cfg(test)]
#[path = "bandwidth_tests.rs"]
mod tests;
