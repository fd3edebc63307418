//! A small deterministic mutator, for running targets without libFuzzer.

/// Makes variants of seed inputs from a fixed seed: the same seed gives the
/// same inputs on every machine, so a failure seen once is seen again.
#[derive(Debug, Clone)]
pub struct Mutator {
    state: u64,
}

/// Bytes that sit on decoders' boundaries: CBOR major-type heads and their
/// length escapes, RLP list and string prefixes, signs and extremes.
const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x20, 0x40, 0x5f, 0x60, 0x7f, 0x80, 0x81, 0x9f,
    0xa0, 0xb7, 0xb8, 0xbf, 0xc0, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfb, 0xff,
];

impl Mutator {
    /// A mutator whose choices follow from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// SplitMix64.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        // The modulo bias is irrelevant for choosing mutations.
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }

    /// A variant of `input`: one to four edits (bit flips, boundary bytes,
    /// insertions, deletions, truncations, repeated runs, splices from
    /// `others`), or now and then a run of random bytes.
    pub fn mutate(&mut self, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
        if self.below(16) == 0 {
            let len = self.below(96);
            return (0..len).map(|_| self.byte()).collect();
        }
        let mut out = input.to_vec();
        for _ in 0..=self.below(4) {
            self.edit(&mut out, others);
        }
        out
    }

    fn edit(&mut self, out: &mut Vec<u8>, others: &[Vec<u8>]) {
        let at = self.below(out.len() + 1);
        match self.below(8) {
            0 if !out.is_empty() => {
                let i = self.below(out.len());
                let bit = self.below(8);
                out[i] ^= 1 << bit;
            }
            1 if !out.is_empty() => {
                let i = self.below(out.len());
                out[i] = INTERESTING[self.below(INTERESTING.len())];
            }
            2 => {
                let b = if self.below(2) == 0 {
                    INTERESTING[self.below(INTERESTING.len())]
                } else {
                    self.byte()
                };
                out.insert(at, b);
            }
            3 if !out.is_empty() => {
                let i = self.below(out.len());
                let n = 1 + self.below((out.len() - i).min(8));
                out.drain(i..i + n);
            }
            4 => out.truncate(at),
            5 if !out.is_empty() => {
                let i = self.below(out.len());
                let n = 1 + self.below((out.len() - i).min(16));
                let run = out[i..i + n].to_vec();
                let times = 1 + self.below(4);
                for _ in 0..times {
                    out.splice(i..i, run.iter().copied());
                }
            }
            6 if !others.is_empty() => {
                let other = &others[self.below(others.len())];
                let from = self.below(other.len() + 1);
                let n = self.below(other.len() - from + 1);
                out.splice(at..at, other[from..from + n].iter().copied());
            }
            _ if !out.is_empty() => {
                // An arithmetic nudge of one byte, as a length or count.
                let i = self.below(out.len());
                let delta = 1 + self.byte() % 4;
                out[i] = if self.below(2) == 0 {
                    out[i].wrapping_add(delta)
                } else {
                    out[i].wrapping_sub(delta)
                };
            }
            _ => out.push(self.byte()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Mutator;

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let seeds = vec![b"hello world".to_vec(), vec![0xa2, 0x01, 0x02]];
        let run = |seed| {
            let mut m = Mutator::new(seed);
            (0..200)
                .map(|i| m.mutate(&seeds[i % 2], &seeds))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        // It does change things, and not always the same way.
        let out = run(7);
        assert!(
            out.iter()
                .filter(|v| **v != seeds[0] && **v != seeds[1])
                .count()
                > 150
        );
        let distinct: std::collections::BTreeSet<_> = out.iter().collect();
        assert!(distinct.len() > 150, "{} distinct", distinct.len());
    }
}
