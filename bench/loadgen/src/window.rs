//! The measuring window: send times as nanoseconds since the process
//! started, and which packets and clip frames were sent while it was open.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// When the process started: send times are nanoseconds since then.
pub(crate) fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

pub(crate) fn nanos_since_epoch(at: Instant) -> u64 {
    at.saturating_duration_since(epoch()).as_nanos() as u64
}

/// How long after the "window open" command the window opens.
pub(crate) const WINDOW_DELAY: Duration = Duration::from_millis(100);

/// The measurement window, shared by every thread: packets sent while it
/// is open are counted (by publishers when sent, by subscribers when they
/// arrive, by their send time).
pub(crate) struct Window {
    pub(crate) open: AtomicBool,
    pub(crate) start_ns: AtomicU64,
    pub(crate) end_ns: AtomicU64,
    /// When each of the last `FRAME_SLOTS` clip frames was sent, by RTP
    /// timestamp: (timestamp, nanoseconds).
    pub(crate) frames: Vec<(AtomicU32, AtomicU64)>,
}

pub(crate) const FRAME_SLOTS: usize = 4096;

/// 90 kHz ticks per frame at 25 frames per second.
pub(crate) const TICKS_PER_FRAME: u32 = 3600;

impl Window {
    pub(crate) fn new() -> Self {
        let frames = (0..FRAME_SLOTS)
            .map(|_| (AtomicU32::new(0), AtomicU64::new(0)))
            .collect();
        Window {
            open: AtomicBool::new(false),
            start_ns: AtomicU64::new(0),
            end_ns: AtomicU64::new(0),
            frames,
        }
    }

    pub(crate) fn contains(&self, sent_ns: u64) -> bool {
        let start = self.start_ns.load(Ordering::Relaxed);
        let end = if self.open.load(Ordering::Relaxed) {
            u64::MAX
        } else {
            self.end_ns.load(Ordering::Relaxed)
        };
        start != 0 && sent_ns >= start && sent_ns <= end
    }

    pub(crate) fn frame_sent(&self, timestamp: u32, sent_ns: u64) {
        let (slot_timestamp, slot_sent) =
            &self.frames[(timestamp / TICKS_PER_FRAME) as usize % FRAME_SLOTS];
        slot_sent.store(sent_ns, Ordering::Relaxed);
        slot_timestamp.store(timestamp, Ordering::Release);
    }

    /// When the clip frame with this RTP timestamp was sent, if recently.
    pub(crate) fn frame_sent_at(&self, timestamp: u32) -> Option<u64> {
        let (slot_timestamp, slot_sent) =
            &self.frames[(timestamp / TICKS_PER_FRAME) as usize % FRAME_SLOTS];
        let sent_ns = slot_sent.load(Ordering::Relaxed);
        (slot_timestamp.load(Ordering::Acquire) == timestamp && sent_ns != 0).then_some(sent_ns)
    }
}
