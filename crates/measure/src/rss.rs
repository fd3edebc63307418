//! Three-party replicated secret sharing over the integers modulo 2^64,
//! with honest-majority multiplication (the protocol of Araki, Furukawa,
//! Lindell, Nof and Ohara, CCS 2016, in its semi-honest form).
//!
//! A secret `x` is split as `x = x0 + x1 + x2`; facilitator `i` holds the
//! pair `(x_i, x_{i+1})` (indices mod 3), so any two facilitators hold every
//! component and one alone learns nothing. Additions and constants are
//! local. A product costs each facilitator one word to its predecessor:
//! facilitator `i` computes `z_i = x_i y_i + x_i y_{i+1} + x_{i+1} y_i +
//! alpha_i`, where the `alpha_i` are a sharing of zero drawn from the keys
//! each pair of facilitators shares, and sends `z_i` to facilitator `i-1`.
//!
//! When an output is opened every component is reported twice, by its two
//! holders, so a facilitator that changes a component is caught, and one
//! that stays silent does not stop the other two from opening the result.

use sha2::{Digest, Sha256};

/// The number of facilitators.
pub const PARTIES: usize = 3;

/// Facilitator `i`'s share of one secret: `(x_i, x_{i+1})`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Share {
    /// Component `i`.
    pub own: u64,
    /// Component `i + 1`.
    pub next: u64,
}

impl Share {
    /// A public constant added to a shared value (component 0 carries it).
    pub fn add_const(self, index: usize, c: u64) -> Share {
        match index {
            0 => Share {
                own: self.own.wrapping_add(c),
                next: self.next,
            },
            2 => Share {
                own: self.own,
                next: self.next.wrapping_add(c),
            },
            _ => self,
        }
    }

    /// A shared value times a public constant.
    pub fn scale(self, c: u64) -> Share {
        Share {
            own: self.own.wrapping_mul(c),
            next: self.next.wrapping_mul(c),
        }
    }
}

impl std::ops::Add for Share {
    type Output = Share;

    /// The share of the sum of two shared values.
    fn add(self, o: Share) -> Share {
        Share {
            own: self.own.wrapping_add(o.own),
            next: self.next.wrapping_add(o.next),
        }
    }
}

impl std::ops::Sub for Share {
    type Output = Share;

    /// The share of the difference of two shared values.
    fn sub(self, o: Share) -> Share {
        Share {
            own: self.own.wrapping_sub(o.own),
            next: self.next.wrapping_sub(o.next),
        }
    }
}

/// Splits `x` into the three facilitators' shares with two random words.
pub fn share(x: u64, r0: u64, r1: u64) -> [Share; PARTIES] {
    let c = [r0, r1, x.wrapping_sub(r0).wrapping_sub(r1)];
    [0, 1, 2].map(|i| Share {
        own: c[i],
        next: c[(i + 1) % PARTIES],
    })
}

/// Splits `x` with fresh randomness (an input party's dealing).
pub fn share_random(x: u64) -> [Share; PARTIES] {
    share(x, rand::random(), rand::random())
}

/// Why an output could not be opened cleanly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Fewer than two facilitators reported.
    #[error("fewer than two facilitators reported")]
    TooFew,
    /// Two holders of one component reported different values.
    #[error("facilitators disagree on component {component}: suspects {suspects:?}")]
    Inconsistent {
        /// The component.
        component: usize,
        /// The facilitators to blame: the one common to two inconsistent
        /// components, else the two holders of the one.
        suspects: Vec<usize>,
    },
}

/// Opens a shared value from the reports of the facilitators (`None`: it
/// withheld its share). Two reports suffice; every component reported
/// twice must agree.
pub fn open(reports: &[Option<Share>; PARTIES]) -> Result<u64, OpenError> {
    let mut comps: [Option<u64>; PARTIES] = [None; PARTIES];
    let mut bad: Vec<usize> = Vec::new();
    for j in 0..PARTIES {
        // Component j is held by facilitator j (own) and j-1 (next).
        let a = reports[j].map(|s| s.own);
        let b = reports[(j + PARTIES - 1) % PARTIES].map(|s| s.next);
        comps[j] = match (a, b) {
            (Some(a), Some(b)) if a != b => {
                bad.push(j);
                None
            }
            (Some(v), _) | (_, Some(v)) => Some(v),
            (None, None) => None,
        };
    }
    if let Some(&component) = bad.first() {
        let holders = |j: usize| [j, (j + PARTIES - 1) % PARTIES];
        let suspects = if bad.len() >= 2 {
            let (h0, h1) = (holders(bad[0]), holders(bad[1]));
            h0.into_iter().filter(|p| h1.contains(p)).collect()
        } else {
            let mut h = holders(component).to_vec();
            h.sort_unstable();
            h
        };
        return Err(OpenError::Inconsistent {
            component,
            suspects,
        });
    }
    let mut sum = 0u64;
    for c in comps {
        sum = sum.wrapping_add(c.ok_or(OpenError::TooFew)?);
    }
    Ok(sum)
}

/// A stream of pseudo-random words from a key (SHA-256 in counter mode).
#[derive(Clone)]
pub struct Prf {
    key: [u8; 32],
    counter: u64,
    buf: [u64; 4],
    used: usize,
}

impl Prf {
    /// The stream of `key`.
    pub fn new(key: [u8; 32]) -> Self {
        Prf {
            key,
            counter: 0,
            buf: [0; 4],
            used: 4,
        }
    }

    /// The next word.
    pub fn next_word(&mut self) -> u64 {
        if self.used == 4 {
            let mut h = Sha256::new();
            h.update(b"atoll-measure/v1 rss prf");
            h.update(self.key);
            h.update(self.counter.to_be_bytes());
            let d: [u8; 32] = h.finalize().into();
            for (k, chunk) in d.chunks_exact(8).enumerate() {
                let mut w = [0u8; 8];
                w.copy_from_slice(chunk);
                self.buf[k] = u64::from_le_bytes(w);
            }
            self.counter += 1;
            self.used = 0;
        }
        let w = self.buf[self.used];
        self.used += 1;
        w
    }
}

/// Facilitator `index`'s side of the multiplications: its two pairwise keys.
/// Key `k_i` is shared by facilitators `i` and `i-1`; facilitator `i` holds
/// `k_i` and `k_{i+1}`.
pub struct Multiplier {
    index: usize,
    own: Prf,
    next: Prf,
}

impl Multiplier {
    /// Facilitator `index` with keys `k_index` and `k_{index+1}`.
    pub fn new(index: usize, own_key: [u8; 32], next_key: [u8; 32]) -> Self {
        Multiplier {
            index,
            own: Prf::new(own_key),
            next: Prf::new(next_key),
        }
    }

    /// This facilitator's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Step 1 of products `x[k] * y[k]`: this facilitator's additive shares
    /// of them, to send to facilitator `index - 1` and keep.
    pub fn start(&mut self, x: &[Share], y: &[Share]) -> Vec<u64> {
        x.iter()
            .zip(y)
            .map(|(x, y)| {
                let alpha = self.own.next_word().wrapping_sub(self.next.next_word());
                x.own
                    .wrapping_mul(y.own)
                    .wrapping_add(x.own.wrapping_mul(y.next))
                    .wrapping_add(x.next.wrapping_mul(y.own))
                    .wrapping_add(alpha)
            })
            .collect()
    }

    /// Step 2: this facilitator's own words and those facilitator `index + 1`
    /// sent, into shares of the products.
    pub fn finish(own: &[u64], from_next: &[u64]) -> Option<Vec<Share>> {
        (own.len() == from_next.len()).then(|| {
            own.iter()
                .zip(from_next)
                .map(|(&own, &next)| Share { own, next })
                .collect()
        })
    }
}

/// The three pairwise keys from a seed (tests and local demonstrations;
/// real facilitators agree on theirs pairwise over their channels).
pub fn keys_from_seed(seed: &[u8; 32]) -> [[u8; 32]; PARTIES] {
    [0u8, 1, 2].map(|i| {
        let mut h = Sha256::new();
        h.update(b"atoll-measure/v1 rss key");
        h.update(seed);
        h.update([i]);
        h.finalize().into()
    })
}

/// The three facilitators' multipliers for `keys`.
pub fn multipliers(keys: &[[u8; 32]; PARTIES]) -> [Multiplier; PARTIES] {
    [0, 1, 2].map(|i| Multiplier::new(i, keys[i], keys[(i + 1) % PARTIES]))
}

/// Runs one multiplication layer among three local multipliers (what the
/// facilitators do over their channels): `x[i]` and `y[i]` are
/// facilitator `i`'s shares.
pub fn multiply_local(
    ms: &mut [Multiplier; PARTIES],
    x: &[Vec<Share>; PARTIES],
    y: &[Vec<Share>; PARTIES],
) -> Option<[Vec<Share>; PARTIES]> {
    let z: Vec<Vec<u64>> = ms
        .iter_mut()
        .enumerate()
        .map(|(i, m)| m.start(&x[i], &y[i]))
        .collect();
    let out: Vec<Vec<Share>> = (0..PARTIES)
        .map(|i| Multiplier::finish(&z[i], &z[(i + 1) % PARTIES]))
        .collect::<Option<_>>()?;
    out.try_into().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn all(s: [Share; 3]) -> [Option<Share>; 3] {
        s.map(Some)
    }

    #[test]
    fn shares_open_and_any_two_suffice() {
        let s = share(42, 7, 9);
        assert_eq!(open(&all(s)), Ok(42));
        for missing in 0..3 {
            let mut r = all(s);
            r[missing] = None;
            assert_eq!(open(&r), Ok(42), "without {missing}");
        }
        assert_eq!(open(&[Some(s[0]), None, None]), Err(OpenError::TooFew));
    }

    #[test]
    fn a_lie_is_caught_and_a_double_lie_located() {
        let s = share(5, 100, 200);
        let mut r = all(s);
        r[1] = Some(Share {
            own: s[1].own + 1,
            next: s[1].next + 1,
        });
        assert_eq!(
            open(&r),
            Err(OpenError::Inconsistent {
                component: 1,
                suspects: vec![1]
            })
        );
        let mut r = all(s);
        r[2] = Some(Share {
            own: s[2].own,
            next: s[2].next ^ 4,
        });
        assert_eq!(
            open(&r),
            Err(OpenError::Inconsistent {
                component: 0,
                suspects: vec![0, 2]
            })
        );
    }

    #[test]
    fn products_and_linear_operations() {
        let keys = keys_from_seed(&[1; 32]);
        let mut ms = multipliers(&keys);
        let xs = [3u64, 0, 1, u64::MAX];
        let ys = [5u64, 9, 1, 2];
        let sx: Vec<[Share; 3]> = xs
            .iter()
            .enumerate()
            .map(|(k, &x)| share(x, k as u64 * 31, 77))
            .collect();
        let sy: Vec<[Share; 3]> = ys
            .iter()
            .enumerate()
            .map(|(k, &y)| share(y, 5, k as u64 * 13))
            .collect();
        let per =
            |v: &Vec<[Share; 3]>| [0, 1, 2].map(|i| v.iter().map(|s| s[i]).collect::<Vec<_>>());
        let z = multiply_local(&mut ms, &per(&sx), &per(&sy)).unwrap();
        for k in 0..xs.len() {
            let r = [Some(z[0][k]), Some(z[1][k]), Some(z[2][k])];
            assert_eq!(open(&r), Ok(xs[k].wrapping_mul(ys[k])));
        }
        let a = share(10, 1, 2);
        let b = share(4, 3, 4);
        let lin: [Share; 3] = [0, 1, 2].map(|i| (a[i] - b[i]).scale(3).add_const(i, 100));
        assert_eq!(open(&all(lin)), Ok(118));
    }
}
