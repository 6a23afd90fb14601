//! Unit tests of `bandwidth.rs`.

use super::*;

fn layer(spatial: u8, temporal: u8) -> Layers {
    Layers { spatial, temporal }
}

/// Three spatial layers of 150 kbit/s, 500 kbit/s and 1.5 Mbit/s (one temporal layer each).
fn three_layers(current: Option<u8>) -> Claim {
    Claim {
        layers: vec![(layer(0, 0), 150_000), (layer(1, 0), 500_000), (layer(2, 0), 1_500_000)],
        current: current.map(|spatial| layer(spatial, 0)),
        priority: 1,
        held: false,
    }
}

fn spatial(caps: &[Option<Layers>]) -> Vec<Option<u8>> {
    caps.iter().map(|cap| cap.map(|layers| layers.spatial)).collect()
}

#[test]
fn an_estimate_that_pays_for_every_top_layer_gives_each_its_top() {
    let Shares { caps, wanted, next_step, limited } = share(10_000_000, &[three_layers(None), three_layers(Some(2))]);
    assert_eq!(limited, [false, false], "the top layers: nothing left to climb, the estimate stopped neither");
    assert_eq!(next_step, 3_000_000, "nothing left to climb");
    assert_eq!(spatial(&caps), [Some(2), Some(2)]);
    assert_eq!(wanted, 3_000_000);
}

#[test]
fn every_sender_keeps_its_lowest_layer_however_low_the_estimate() {
    let Shares { caps, next_step, limited, .. } = share(50_000, &[three_layers(Some(2)), three_layers(None)]);
    assert_eq!(limited, [true, true]);
    // The base layers, and layer 1's step for one of them (350 k × 1.15).
    assert_eq!(next_step, 300_000 + (350_000.0 * UPGRADE_MARGIN) as u64);
    assert_eq!(spatial(&caps), [Some(0), Some(0)]);
}

#[test]
fn senders_climb_in_turns_while_the_estimate_pays_for_the_step() {
    // 150 + 150 for the base layers, then 350 for one step to layer 1: 650 k pays for one.
    let Shares { caps, .. } = share(650_000, &[three_layers(Some(1)), three_layers(Some(1))]);
    assert_eq!(spatial(&caps), [Some(1), Some(0)]);
    let Shares { caps, .. } = share(1_000_000, &[three_layers(Some(1)), three_layers(Some(1))]);
    assert_eq!(spatial(&caps), [Some(1), Some(1)]);
    // A sender limited to the base layer (its preference) leaves the rest to the other.
    let thumbnail = Claim { layers: vec![(layer(0, 0), 150_000)], current: Some(layer(0, 0)), priority: 1, held: false };
    let Shares { caps, wanted, .. } = share(1_700_000, &[thumbnail, three_layers(Some(2))]);
    assert_eq!((spatial(&caps), wanted), (vec![Some(0), Some(2)], 1_650_000));
}

#[test]
fn a_sender_of_higher_priority_climbs_more_layers_per_turn() {
    // 300 k for the base layers, then 350 k steps: 1 Mbit/s pays for two of them.
    let mut first = three_layers(Some(2));
    first.priority = 2;
    let Shares { caps, .. } = share(1_000_000, &[three_layers(Some(2)), first.clone()]);
    assert_eq!(spatial(&caps), [Some(1), Some(1)], "one turn each: a step each");
    // 2.05 Mbit/s: 1,750 k to share; priority 2 takes its two steps (350 k, 1,000 k) in the first turn, the other one.
    let Shares { caps, .. } = share(2_050_000, &[three_layers(Some(2)), first]);
    assert_eq!(spatial(&caps), [Some(1), Some(2)]);
    let Shares { caps, .. } = share(2_050_000, &[three_layers(Some(2)), three_layers(Some(2))]);
    assert_eq!(spatial(&caps), [Some(2), Some(1)], "equal priorities: the first in turn");
    // Priority 0 counts as 1.
    let mut zero = three_layers(Some(2));
    zero.priority = 0;
    assert_eq!(spatial(&share(10_000_000, &[zero]).caps), [Some(2)]);
}

#[test]
fn below_the_lowest_layer_at_full_rate_the_frame_rate_falls() {
    // Layer 0 in three temporal layers (50, 80, 120 kbit/s up to each), then layer 1.
    let claim = Claim {
        layers: vec![(layer(0, 0), 50_000), (layer(0, 1), 80_000), (layer(0, 2), 120_000), (layer(1, 2), 400_000)],
        current: Some(layer(0, 2)),
        priority: 1,
        held: false,
    };
    assert_eq!(share(60_000, &[claim.clone()]).caps, [Some(layer(0, 0))]);
    assert_eq!(share(100_000, &[claim.clone()]).caps, [Some(layer(0, 1))]);
    assert_eq!(share(200_000, &[claim.clone()]).caps, [Some(layer(0, 2))]);
    assert_eq!(share(500_000, &[claim]).caps, [Some(layer(1, 2))]);
}

#[test]
fn a_step_up_needs_a_margin_that_keeping_a_layer_does_not() {
    // 150 + 350 = 500 k: enough to keep layer 1, not enough to climb to it.
    assert_eq!(spatial(&share(500_000, &[three_layers(Some(1))]).caps), [Some(1)]);
    assert_eq!(spatial(&share(500_000, &[three_layers(Some(0))]).caps), [Some(0)]);
    assert_eq!(spatial(&share(553_000, &[three_layers(Some(0))]).caps), [Some(1)]);
}

#[test]
fn a_claim_with_no_layer_sent_gets_none() {
    let nothing = Claim { layers: vec![], current: None, priority: 1, held: false };
    let Shares { caps, wanted, .. } = share(1_000_000, &[nothing, three_layers(None)]);
    assert_eq!(spatial(&caps), [None, Some(1)]);
    assert_eq!(wanted, 1_500_000);
}

#[test]
fn a_layer_not_measured_yet_is_neither_climbed_to_nor_probed_for() {
    let claim = Claim { layers: vec![(layer(0, 0), 150_000), (layer(1, 0), UNMEASURED), (layer(2, 0), UNMEASURED)], current: None, priority: 1, held: false };
    // Stopped by a layer not measured yet, not by the estimate: a fall to it would hold nothing.
    assert_eq!(share(200_000, &[claim.clone()]).limited, [false]);
    let shares = share(100_000_000, &[claim]);
    assert_eq!((spatial(&shares.caps), shares.wanted, shares.next_step), (vec![Some(0)], 150_000, 150_000));
    // Not even its base layer measured: it keeps it, with nothing to probe for.
    let claim = Claim { layers: vec![(layer(0, 0), UNMEASURED)], current: None, priority: 1, held: false };
    let shares = share(1_000_000, &[claim, three_layers(None)]);
    assert_eq!((spatial(&shares.caps), shares.wanted), (vec![Some(0), Some(1)], 1_500_000));
}

#[test]
fn a_held_claim_climbs_its_temporal_layers_but_no_spatial_one_above_the_one_it_forwards() {
    let claim = Claim {
        layers: vec![(layer(0, 0), 50_000), (layer(0, 1), 80_000), (layer(1, 0), 300_000), (layer(1, 1), 400_000), (layer(2, 1), 1_200_000)],
        current: Some(layer(0, 0)),
        priority: 1,
        held: true,
    };
    // Plenty: the top temporal layer of the spatial layer it forwards, no higher (the hold, not the estimate).
    let shares = share(10_000_000, &[claim.clone()]);
    assert_eq!(shares.caps, [Some(layer(0, 1))]);
    assert_eq!(shares.limited, [false]);
    // What it would take at its best is still probed for.
    assert_eq!(shares.wanted, 1_200_000);
    // Forwarding layer 1 (a keyframe of layer 0 not come yet): up to layer 1, not 2.
    assert_eq!(share(10_000_000, &[Claim { current: Some(layer(1, 0)), ..claim.clone() }]).caps, [Some(layer(1, 1))]);
    // Not held: the top.
    assert_eq!(share(10_000_000, &[Claim { held: false, ..claim }]).caps, [Some(layer(2, 1))]);
}
