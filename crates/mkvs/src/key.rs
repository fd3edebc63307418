//! Bit addressing of keys.
//!
//! The trie branches on the bits of an *encoded* key: every byte is preceded
//! by a `1` marker bit and the key ends with a `0` terminator bit, so byte `j`
//! of a key occupies bits `9j..9j+9` and the terminator is bit `9·len`. This
//! encoding is prefix-free (no encoded key is a prefix of another, even when
//! one byte key is a prefix of another), so every key ends in a leaf and
//! every internal node has exactly two children; and it preserves order
//! (the terminator `0` sorts a key before all its extensions), so an in-order
//! walk yields keys in bytewise lexicographic order.

/// Bit `i` of the encoded form of `key` (0 past the end).
#[inline]
pub(crate) fn bit(key: &[u8], i: u32) -> u8 {
    let i = i as usize;
    let (j, r) = (i / 9, i % 9);
    match key.get(j) {
        None => 0,
        Some(_) if r == 0 => 1,
        Some(b) => (b >> (8 - r)) & 1,
    }
}

/// The first bit at which the encodings of `a` and `b` differ, or `None`
/// when the keys are equal.
pub(crate) fn crit_bit(a: &[u8], b: &[u8]) -> Option<u32> {
    let common = a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
    let idx = match (a.get(common), b.get(common)) {
        (None, None) => return None,
        // One key ends here: its terminator (0) meets the other's marker (1).
        (None, Some(_)) | (Some(_), None) => common * 9,
        (Some(x), Some(y)) => common * 9 + 1 + (x ^ y).leading_zeros() as usize,
    };
    // Keys are limited to MAX_KEY_LEN bytes, so this always fits.
    Some(u32::try_from(idx).unwrap_or(u32::MAX))
}

/// Number of encoded bits covered by the bytes of `prefix` (without terminator).
pub(crate) fn prefix_bits(prefix: &[u8]) -> u32 {
    u32::try_from(prefix.len().saturating_mul(9)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(k: &[u8]) -> Vec<u8> {
        (0..(k.len() as u32 * 9 + 1)).map(|i| bit(k, i)).collect()
    }

    #[test]
    fn crit_bit_matches_encoding() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b"a"),
            (b"a", b"ab"),
            (b"abc", b"abd"),
            (b"\x00", b"\x80"),
            (b"x", b""),
        ];
        for (a, b) in cases {
            let (ea, eb) = (encoded(a), encoded(b));
            let first = ea.iter().zip(eb.iter()).position(|(x, y)| x != y).unwrap();
            assert_eq!(crit_bit(a, b), Some(first as u32), "{a:?} {b:?}");
            // Order of the differing bit agrees with byte order.
            assert_eq!(ea[first] < eb[first], a < b);
        }
        assert_eq!(crit_bit(b"same", b"same"), None);
    }
}
