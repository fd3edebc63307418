//! A small, length-checked binary codec for everything MKVS stores or ships.
//!
//! Integers are big-endian; byte strings carry a `u32` length prefix. Every
//! read is bounded by the remaining input and by explicit limits, so decoding
//! hostile bytes returns a [`DecodeError`] and never panics or over-allocates.

/// Largest key MKVS accepts, in bytes.
pub const MAX_KEY_LEN: usize = 16 * 1024;
/// Largest value MKVS accepts, in bytes.
pub const MAX_VALUE_LEN: usize = 16 * 1024 * 1024;

/// Deepest a leaf can sit (internal nodes above it): the number of bits in
/// the encoding of a [`MAX_KEY_LEN`]-byte key (nine per byte and a
/// terminator). Every internal node on a leaf's path branches on a distinct
/// bit of that leaf's encoded key, so no trie is deeper, whatever its keys.
/// Random or hashed keys give depth ≈ log2(keys) (about 20 at 1M keys);
/// only crafted chains of keys, each a bit-level extension of the previous
/// one, get deep, and every walk is iterative so that any depth up to this
/// one is accepted. It bounds proofs too.
pub const MAX_DEPTH: usize = MAX_KEY_LEN * 9 + 1;

/// Why a byte string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before the item was complete.
    #[error("input truncated: needed {needed} more bytes for {what}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes missing.
        needed: usize,
    },
    /// A length field exceeds its limit.
    #[error("{what} length {len} exceeds the limit {max}")]
    TooLong {
        /// What was being read.
        what: &'static str,
        /// The length found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An unknown format version or tag byte.
    #[error("unknown {what} tag {tag:#04x}")]
    BadTag {
        /// What was being read.
        what: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// Bytes left over after a complete item.
    #[error("{0} trailing bytes after the item")]
    Trailing(usize),
    /// A structurally valid item that breaks an invariant.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// Appends encoded items to a byte vector.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn raw(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    /// A length-prefixed byte string. Callers keep lengths under `u32::MAX`
    /// (keys and values are checked against their limits on insertion).
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.buf.extend_from_slice(v);
    }
    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads encoded items from a byte slice, with bounds checks.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated {
                what,
                needed: n - self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let b = self.take(1, what)?;
        Ok(b.first().copied().unwrap_or_default())
    }
    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let b = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    pub(crate) fn hash(&mut self, what: &'static str) -> Result<atoll_crypto::Hash, DecodeError> {
        Ok(atoll_crypto::Hash(self.array(what)?))
    }
    /// A length-prefixed byte string of at most `max` bytes.
    pub(crate) fn bytes(
        &mut self,
        what: &'static str,
        max: usize,
    ) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(what)? as usize;
        if len > max {
            return Err(DecodeError::TooLong { what, len, max });
        }
        self.take(len, what)
    }
    /// A count of items, each at least `min_item` bytes long, so the count
    /// can never promise more items than the input can hold.
    pub(crate) fn count(
        &mut self,
        what: &'static str,
        min_item: usize,
        max: usize,
    ) -> Result<usize, DecodeError> {
        let n = self.u32(what)? as usize;
        let fits = self.remaining() / min_item.max(1);
        if n > max || n > fits {
            return Err(DecodeError::TooLong {
                what,
                len: n,
                max: max.min(fits),
            });
        }
        Ok(n)
    }
    pub(crate) fn end(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing(self.buf.len()))
        }
    }
}
