//! The `data_channels` target: media_worker::fuzzing's, under libFuzzer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| media_worker::fuzzing::target("data_channels").expect("a known target")(data));
