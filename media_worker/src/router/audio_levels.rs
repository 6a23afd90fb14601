//! Who speaks, from the RFC 6464 audio-level header extension (never by
//! decoding): every interval, the levels of the streams that carried voice
//! (`audiolevels`), and the dominant speaker with hysteresis (`activespeaker`).
//!
//! Per interval and stream, the packets at or above the threshold are the
//! voiced ones: their mean level (in dBov) is the stream's level, and their
//! count × 20 ms (Opus' usual frame) over the interval its activity. A
//! stream *speaks* in an interval when it was voiced at least half of it.
//! The floor goes to the first stream that speaks; it passes to another
//! that has spoken for [`TAKE_FLOOR`] intervals in a row when the holder is
//! silent, or that is [`INTERRUPT_DB`] louder than the holder for
//! [`INTERRUPT`] intervals in a row. A cough, a door, a 100 ms "yes" never
//! speak for a whole interval, so they never take the floor.
//!
//! Sans-IO: levels and `Instant`s in; events and the next deadline out.

use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

/// How long a voiced packet counts for.
const FRAME: Duration = Duration::from_millis(20);
/// Intervals a stream speaks in a row to take a silent holder's floor.
pub const TAKE_FLOOR: u32 = 2;
/// Intervals in a row a louder stream takes to interrupt a speaking holder.
pub const INTERRUPT: u32 = 4;
/// How much louder (dB) an interrupting stream is.
pub const INTERRUPT_DB: f64 = 10.0;

/// `Room(audioLevelInterval=…, audioLevelThreshold=…)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioLevelSettings {
    pub interval: Duration,
    /// dBov (-127..0): quieter packets are silence.
    pub threshold: i8,
}

impl Default for AudioLevelSettings {
    fn default() -> Self {
        Self { interval: Duration::from_millis(500), threshold: -60 }
    }
}

/// What the room reports.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioEvent {
    /// (receiver id, mean dBov) of the streams voiced in the interval,
    /// loudest first; empty once when everyone fell silent.
    Levels(Vec<(String, f64)>),
    /// The dominant speaker changed (None: the speaker's stream ended).
    ActiveSpeaker(Option<String>),
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    voiced: u32,
    level_sum: f64,
}

#[derive(Debug)]
pub struct AudioLevels {
    settings: AudioLevelSettings,
    /// When the current interval ends (None: nothing heard since the last one).
    interval_end: Option<Instant>,
    window: FxHashMap<String, Window>,
    /// Whether the last report listed someone.
    reported_voices: bool,
    speaker: Option<String>,
    /// Intervals each stream spoke in a row, and was louder than the holder by INTERRUPT_DB.
    speaking: FxHashMap<String, u32>,
    louder: FxHashMap<String, u32>,
    holder_silent: u32,
    events: Vec<AudioEvent>,
}

impl AudioLevels {
    pub fn new(settings: AudioLevelSettings) -> Self {
        Self {
            settings,
            interval_end: None,
            window: FxHashMap::default(),
            reported_voices: false,
            speaker: None,
            speaking: FxHashMap::default(),
            louder: FxHashMap::default(),
            holder_silent: 0,
            events: Vec::new(),
        }
    }

    pub fn settings(&self) -> AudioLevelSettings {
        self.settings
    }

    /// A packet of `receiver_id` arrived at `now` with `level` dBov (-127..0).
    pub fn record(&mut self, receiver_id: &str, level: i8, now: Instant) {
        if self.interval_end.is_none_or(|end| now >= end) {
            self.handle_timeout(now);
            self.interval_end.get_or_insert(now + self.settings.interval);
        }
        if level < self.settings.threshold {
            return;
        }
        match self.window.get_mut(receiver_id) {
            Some(window) => {
                window.voiced += 1;
                window.level_sum += f64::from(level);
            }
            None => {
                self.window.insert(receiver_id.to_owned(), Window { voiced: 1, level_sum: f64::from(level) });
            }
        }
    }

    /// When [`Self::handle_timeout`] wants to run.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.interval_end
    }

    /// Ends the interval if it is over: levels and speaker changes.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(end) = self.interval_end.filter(|end| now >= *end) else { return };
        let window = std::mem::take(&mut self.window);
        let mut levels: Vec<(String, f64)> = window
            .iter()
            .map(|(id, window)| (id.clone(), window.level_sum / f64::from(window.voiced)))
            .collect();
        levels.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if !levels.is_empty() || self.reported_voices {
            self.reported_voices = !levels.is_empty();
            self.events.push(AudioEvent::Levels(levels.clone()));
        }
        self.elect(&window, &levels);
        // The next interval starts now if anyone is still to be watched.
        let watching = !window.is_empty() || self.speaking.values().any(|count| *count > 0);
        let next = end + self.settings.interval;
        self.interval_end = watching.then_some(if next > now { next } else { now + self.settings.interval });
    }

    fn elect(&mut self, window: &FxHashMap<String, Window>, levels: &[(String, f64)]) {
        let frames_per_interval = self.settings.interval.as_secs_f64() / FRAME.as_secs_f64();
        let spoke = |id: &str| window.get(id).is_some_and(|w| f64::from(w.voiced) >= frames_per_interval / 2.0);
        for (id, _) in levels {
            if spoke(id) {
                *self.speaking.entry(id.clone()).or_default() += 1;
            }
        }
        self.speaking.retain(|id, count| *count > 0 && spoke(id));
        let level_of = |id: &str| levels.iter().find(|(other, _)| other == id).map(|(_, level)| *level);
        let holder_level = self.speaker.as_deref().and_then(|id| if spoke(id) { level_of(id) } else { None });
        self.holder_silent = if holder_level.is_some() { 0 } else { self.holder_silent + 1 };
        for (id, level) in levels {
            let louder = holder_level.is_some_and(|holder| *level >= holder + INTERRUPT_DB) && spoke(id);
            if louder {
                *self.louder.entry(id.clone()).or_default() += 1;
            } else {
                self.louder.remove(id);
            }
        }
        self.louder.retain(|id, _| level_of(id).is_some());
        // Loudest first: the first that qualifies takes the floor.
        let next = levels.iter().map(|(id, _)| id).find(|id| {
            if self.speaker.as_ref() == Some(*id) {
                return false;
            }
            let run = self.speaking.get(*id).copied().unwrap_or(0);
            match &self.speaker {
                None => run >= 1,
                Some(_) if holder_level.is_none() => run >= TAKE_FLOOR,
                Some(_) => self.louder.get(*id).copied().unwrap_or(0) >= INTERRUPT,
            }
        });
        if let Some(next) = next.cloned() {
            self.louder.clear();
            self.holder_silent = 0;
            self.speaker = Some(next.clone());
            self.events.push(AudioEvent::ActiveSpeaker(Some(next)));
        }
    }

    /// A stream ended: it leaves the levels, and the floor if it held it.
    pub fn forget(&mut self, receiver_id: &str) {
        self.window.remove(receiver_id);
        self.speaking.remove(receiver_id);
        self.louder.remove(receiver_id);
        if self.speaker.as_deref() == Some(receiver_id) {
            self.speaker = None;
            self.events.push(AudioEvent::ActiveSpeaker(None));
        }
    }

    pub fn speaker(&self) -> Option<&str> {
        self.speaker.as_deref()
    }

    pub fn take_events(&mut self) -> Vec<AudioEvent> {
        std::mem::take(&mut self.events)
    }
}

#[cfg(test)]
#[path = "audio_levels_tests.rs"]
mod tests;
