//! Fuzz targets: every parser fed from the network, the Channel or the
//! media path, each a function of arbitrary bytes that must neither panic,
//! hang nor grow without bound. The coverage-guided runs (libFuzzer through
//! `cargo fuzz`) call them from `fuzz/fuzz_targets/`; the suite runs each
//! on its stored corpus and on seeded mutations of it (`fuzzing_tests.rs`).
//! How to run them and what they found: `docs/reliability.md`.
//!
//! Compiled for tests and with the `fuzzing` feature only.

mod data_channels;
mod datagrams;
mod input;
mod parsers;

pub use input::Input;

/// A target: its name (the file in `fuzz/fuzz_targets/` and the corpus
/// folder `fuzz/corpus/<name>/`) and its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("channel", parsers::channel),
    ("requests", parsers::requests),
    ("rfc4571", parsers::rfc4571),
    ("rtp", parsers::rtp),
    ("rtcp", parsers::rtcp),
    ("srtp", parsers::srtp),
    ("media_frames", parsers::media_frames),
    ("datagrams", datagrams::datagrams),
    ("data_channels", data_channels::data_channels),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<fn(&[u8])> {
    TARGETS.iter().find(|(known, _)| *known == name).map(|(_, run)| *run)
}

#[cfg(test)]
mod seeds;

#[cfg(test)]
#[path = "fuzzing_tests.rs"]
mod tests;
