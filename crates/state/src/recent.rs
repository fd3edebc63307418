//! A bounded set of hashes that forgets the oldest first: what the consensus
//! app and the runtime SDK use to remember transactions whose signatures
//! verified.

use std::collections::{BTreeSet, VecDeque};

use atoll_crypto::Hash;

/// At most `cap` hashes; inserting past that forgets the oldest.
#[derive(Debug)]
pub struct RecentHashes {
    cap: usize,
    set: BTreeSet<Hash>,
    order: VecDeque<Hash>,
}

impl RecentHashes {
    /// An empty set holding at most `cap` hashes.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            set: BTreeSet::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether `h` is remembered.
    pub fn contains(&self, h: &Hash) -> bool {
        self.set.contains(h)
    }

    /// Remembers `h`, forgetting the oldest hashes beyond the bound.
    pub fn insert(&mut self, h: Hash) {
        if self.set.insert(h) {
            self.order.push_back(h);
            while self.order.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_the_oldest_beyond_its_bound() {
        let mut r = RecentHashes::new(2);
        let h = |i: u8| Hash::digest(&[i]);
        r.insert(h(1));
        r.insert(h(2));
        r.insert(h(1));
        r.insert(h(3));
        assert!(!r.contains(&h(1)));
        assert!(r.contains(&h(2)) && r.contains(&h(3)));
    }
}
