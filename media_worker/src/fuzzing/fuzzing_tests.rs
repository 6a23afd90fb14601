//! The suite's short run of every fuzz target: each input of its corpus
//! (`fuzz/corpus/<target>/`: the seeds, and what the coverage-guided runs
//! kept), then seeded mutations of them (bytes flipped, cut, repeated,
//! spliced), the same every run. The long, coverage-guided runs are
//! `fuzz/run` (docs/reliability.md).
//!
//! `FUZZ_MUTATIONS` sets how many mutations each target gets.

use std::fs;
use std::path::PathBuf;

use super::{target, TARGETS};
use crate::testing::Noise;

fn corpus_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(name)
}

/// A target's stored inputs, in name order.
fn corpus(name: &str) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = fs::read_dir(corpus_dir(name))
        .unwrap_or_else(|err| panic!("fuzz/corpus/{name}: {err}"))
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    paths.iter().map(|path| fs::read(path).unwrap()).collect()
}

/// `input` changed as a mutating fuzzer would, `other` spliced in sometimes.
fn mutate(noise: &mut Noise, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for _ in 0..1 + noise.byte() % 4 {
        let at = if bytes.is_empty() { 0 } else { usize::from(noise.byte()) * 256 % bytes.len().max(1) + usize::from(noise.byte()) % bytes.len().max(1) };
        let at = at.min(bytes.len());
        match noise.byte() % 6 {
            0 if at < bytes.len() => bytes[at] ^= 1 << (noise.byte() % 8),
            1 if at < bytes.len() => bytes[at] = [0, 0xff, 0x7f, 0x80, 1][usize::from(noise.byte()) % 5],
            2 => bytes.truncate(at),
            3 => {
                let len = usize::from(noise.byte()) % 16;
                let chunk = noise.bytes(len);
                bytes.splice(at..at, chunk);
            }
            4 => {
                let end = (at + usize::from(noise.byte())).min(bytes.len());
                let repeated = bytes[at..end].to_vec();
                bytes.splice(at..at, repeated);
            }
            _ => {
                let from = if other.is_empty() { 0 } else { usize::from(noise.byte()) % other.len() };
                bytes.truncate(at);
                bytes.extend_from_slice(&other[from..]);
            }
        }
    }
    bytes
}

#[test]
fn every_target_takes_its_corpus_and_seeded_mutations_of_it() {
    let mutations: usize = std::env::var("FUZZ_MUTATIONS").ok().and_then(|value| value.parse().ok()).unwrap_or(400);
    for (name, run) in TARGETS {
        let inputs = corpus(name);
        assert!(!inputs.is_empty(), "fuzz/corpus/{name} has no seed");
        for input in &inputs {
            run(input);
        }
        let mut noise = Noise::new(0x5eed ^ name.len() as u64);
        for index in 0..mutations {
            let input = &inputs[index % inputs.len()];
            let other = &inputs[usize::from(noise.byte()) % inputs.len()];
            run(&mutate(&mut noise, input, other));
        }
    }
}

#[test]
fn each_target_takes_empty_and_tiny_inputs() {
    for (_, run) in TARGETS {
        for input in [&[][..], &[0], &[0xff], &[0xff; 7], &[0x80, 0, 0, 0]] {
            run(input);
        }
    }
}

#[test]
fn every_target_has_a_fuzz_target_file_and_names_are_known() {
    for (name, _) in TARGETS {
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../fuzz/fuzz_targets/{name}.rs"));
        let text = fs::read_to_string(&file).unwrap_or_else(|err| panic!("{}: {err}", file.display()));
        assert!(text.contains(&format!("target(\"{name}\")")), "{} runs another target", file.display());
        assert!(target(name).is_some());
    }
}

#[test]
fn the_data_channels_scene_relays_what_one_client_writes_to_the_other() {
    let seeds = super::seeds::all().into_iter().find(|(name, _)| *name == "data_channels").unwrap().1;
    // Alice's "hello" on her channel "chat" reaches Bob; Bob's answer on the channel the relay opened him reaches Alice.
    let ([alice, bob], _) = super::data_channels::delivered(&seeds[0]);
    assert_eq!((alice, bob), (vec![vec![0, 1, 2, 255]], vec![b"hello".to_vec()]));
    // Of the second: a 64 KiB message crosses whole; the 300 KiB one does not (over what a channel takes).
    let ([_, bob], _) = super::data_channels::delivered(&seeds[1]);
    assert!(bob.iter().any(|message| message.len() == 65_536), "{:?}", bob.iter().map(Vec::len).collect::<Vec<_>>());
    assert!(bob.iter().all(|message| message.len() < 300_000));
}

#[test]
fn the_label_relay_opens_a_member_no_more_channels_than_its_budget() {
    // Bob joins the relay with a channel of his; Alice writes once on each
    // of 1,100 channels, each with a label of its own (her client keeps 32
    // open, closing the oldest): the relay opened Bob a channel for each,
    // without end, before the bound (1,101 channels).
    let input: Vec<u8> = std::iter::once(super::seeds::open(4, 0, 0, b"bob's", b""))
        .chain((0..1_100u16).map(|i| [super::seeds::open(0, 0, 0, format!("label {i}").as_bytes(), b""), super::seeds::wait(1), super::seeds::write(0, i.min(31) as u8, 0, b"x")].concat()))
        .flatten()
        .collect();
    let ([_, bob], [alice_dump, bob_dump]) = super::data_channels::delivered(&input);
    let channels = |dump: &serde_json::Value| dump["dataChannels"].as_array().unwrap_or_else(|| panic!("{dump}")).len();
    let budget = crate::router::data::MAX_RELAY_OPENED;
    // His own and those the relay opened him; a message on each of those.
    assert_eq!((channels(&bob_dump), bob.len()), (budget + 1, budget));
    assert_eq!(channels(&alice_dump), 32);
}

/// Writes the seeds (`cargo test --release -p media_worker --lib
/// write_the_seeds -- --ignored`): valid inputs of each target, for the
/// fuzzers to start from.
#[test]
#[ignore]
fn write_the_seeds() {
    for (name, seeds) in super::seeds::all() {
        let dir = corpus_dir(name);
        fs::create_dir_all(&dir).unwrap();
        for (index, seed) in seeds.iter().enumerate() {
            fs::write(dir.join(format!("seed-{index:02}")), seed).unwrap();
        }
    }
}

