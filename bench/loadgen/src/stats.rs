//! Counting what arrives: distinct packets per stream (a retransmission
//! that arrives after the original is a duplicate) and a latency histogram
//! of bounded size and < 1 % error (log-linear buckets, as HDR histograms).

use serde_json::{json, Value};

/// Buckets below this value are exact (microseconds).
const EXACT: u64 = 128;
/// Enough buckets for about 18 hours.
const BUCKETS: usize = (EXACT as usize) + 64 * 40;

fn bucket_of(value: u64) -> usize {
    if value < EXACT {
        return value as usize;
    }
    let exponent = u64::from(63 - value.leading_zeros()) - 6;
    let index = EXACT + (exponent - 1) * 64 + ((value >> exponent) - 64);
    (index as usize).min(BUCKETS - 1)
}

fn lower_bound(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < EXACT {
        return bucket;
    }
    let offset = bucket - EXACT;
    (offset % 64 + 64) << (offset / 64 + 1)
}

/// Latencies in microseconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, micros: u64) {
        self.record_many(micros, 1);
    }

    pub fn record_many(&mut self, micros: u64, count: u64) {
        self.counts[bucket_of(micros)] += count;
        self.total += count;
        self.max = self.max.max(micros);
    }

    #[cfg(test)]
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The value at quantile `q` (0..=1): the lower bound of its bucket.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return lower_bound(bucket).min(self.max);
            }
        }
        self.max
    }

    pub fn to_json(&self) -> Value {
        json!({"count": self.total, "p50": self.quantile(0.5), "p99": self.quantile(0.99), "p999": self.quantile(0.999), "max": self.max})
    }

    /// The non-empty buckets, for merging across processes: [[lower bound, count], …].
    pub fn buckets(&self) -> Vec<(u64, u64)> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(bucket, count)| (lower_bound(bucket), *count))
            .collect()
    }
}

/// Which sequence numbers of a stream arrived, in a window of the last 1024.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    highest: Option<u32>,
    bits: [u64; 16],
}

impl Seen {
    const SPAN: u32 = 1024;

    /// True the first time `sequence` is seen; false for a duplicate or one
    /// older than the window (counted as lost: it is too late to matter).
    pub fn first_time(&mut self, sequence: u32) -> bool {
        let highest = match self.highest {
            None => {
                self.highest = Some(sequence);
                self.set(sequence);
                return true;
            }
            Some(highest) => highest,
        };
        if sequence > highest {
            let advance = sequence - highest;
            if advance >= Self::SPAN {
                self.bits = [0; 16];
            } else {
                for skipped in highest + 1..sequence {
                    self.clear(skipped);
                }
            }
            self.highest = Some(sequence);
            self.set(sequence);
            return true;
        }
        if highest - sequence >= Self::SPAN || self.is_set(sequence) {
            return false;
        }
        self.set(sequence);
        true
    }

    fn position(sequence: u32) -> (usize, u64) {
        let bit = sequence % Self::SPAN;
        ((bit / 64) as usize, 1u64 << (bit % 64))
    }

    fn set(&mut self, sequence: u32) {
        let (word, mask) = Self::position(sequence);
        self.bits[word] |= mask;
    }

    fn clear(&mut self, sequence: u32) {
        let (word, mask) = Self::position(sequence);
        self.bits[word] &= !mask;
    }

    fn is_set(&self, sequence: u32) -> bool {
        let (word, mask) = Self::position(sequence);
        self.bits[word] & mask != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_exact_below_128_and_within_one_percent_above() {
        for value in [
            0u64,
            1,
            127,
            128,
            129,
            255,
            256,
            1_000,
            12_345,
            1_000_000,
            3_600_000_000,
        ] {
            let lower = lower_bound(bucket_of(value));
            assert!(lower <= value, "{value}: {lower}");
            assert!(
                (value - lower) as f64 <= value as f64 * 0.016,
                "{value}: {lower}"
            );
        }
        assert!((0..100_000u64).all(|v| bucket_of(v) <= bucket_of(v + 1)));
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut histogram = Histogram::default();
        for micros in 1..=1000 {
            histogram.record(micros);
        }
        assert_eq!(histogram.quantile(0.5), 500);
        assert!(
            (980..=990).contains(&histogram.quantile(0.99)),
            "{}",
            histogram.quantile(0.99)
        );
        assert_eq!(histogram.quantile(1.0), 1000);
        let mut other = Histogram::default();
        other.record(5_000);
        histogram.merge(&other);
        assert_eq!(histogram.to_json()["count"], 1001);
        assert_eq!(histogram.to_json()["max"], 5000);
    }

    #[test]
    fn duplicates_and_late_packets() {
        let mut seen = Seen::default();
        assert!(seen.first_time(10));
        assert!(seen.first_time(12));
        assert!(
            seen.first_time(11),
            "a late one (a retransmission) counts once"
        );
        assert!(!seen.first_time(11));
        assert!(!seen.first_time(12));
        assert!(seen.first_time(5000));
        assert!(!seen.first_time(12), "out of the window");
        assert!(seen.first_time(4990));
        assert!(!seen.first_time(4990));
    }
}
