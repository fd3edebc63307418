//! A strict RLP reader (item headers read by `alloy-rlp`) and a small RLP
//! writer.
//!
//! The reader accepts only canonical encodings: a single byte below `0x80`
//! is never wrapped in a string header, lengths use the short form whenever
//! they fit and long-form lengths have no leading zeros. Integers are
//! big-endian without leading zeros (zero is the empty string). So every
//! value has one encoding, and re-encoding a decoded transaction gives the
//! bytes that were signed.

use alloy_rlp::Header;

use crate::tx::TxError;

/// One decoded item: a byte string or the payload of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item<'a> {
    /// A byte string.
    Bytes(&'a [u8]),
    /// A list; the slice is its payload (the concatenated encoded items).
    List(&'a [u8]),
}

fn malformed(reason: &'static str) -> TxError {
    TxError::MalformedRlp(reason)
}

/// The reason an input alloy's header reader finds too short is refused
/// for, as atoll words it: the length bytes of a long form are missing, the
/// declared length overflows, or the item runs past the end.
fn too_short(bytes: &[u8]) -> TxError {
    let long_len_of_len = match bytes.first() {
        Some(b @ 0xb8..=0xbf) => usize::from(b - 0xb7),
        Some(b @ 0xf8..=0xff) => usize::from(b - 0xf7),
        _ => return malformed("item runs past the end of input"),
    };
    let Some(len_bytes) = bytes.get(1..1 + long_len_of_len) else {
        return malformed("truncated length");
    };
    let len = len_bytes
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    match usize::try_from(len)
        .ok()
        .and_then(|len| len.checked_add(1 + long_len_of_len))
    {
        None => malformed("length too large"),
        Some(_) => malformed("item runs past the end of input"),
    }
}

/// atoll's typed error for what alloy's header reader refuses.
fn header_error(e: alloy_rlp::Error, bytes: &[u8]) -> TxError {
    match e {
        alloy_rlp::Error::NonCanonicalSingleByte => {
            malformed("single byte below 0x80 wrapped in a string header")
        }
        alloy_rlp::Error::LeadingZero => malformed("length with leading zero"),
        alloy_rlp::Error::NonCanonicalSize => malformed("long form for a short length"),
        alloy_rlp::Error::InputTooShort => too_short(bytes),
        alloy_rlp::Error::Custom(_) | alloy_rlp::Error::Overflow => malformed("length too large"),
        _ => malformed("malformed item header"),
    }
}

/// Splits the first item off `bytes`: the item and the rest.
///
/// The header is read by [`alloy_rlp::Header::decode`], which refuses every
/// non-canonical form atoll refuses (a single byte below `0x80` in a string
/// header, long-form lengths with leading zeros or below 56); its errors
/// are mapped to atoll's reasons.
pub(crate) fn split(bytes: &[u8]) -> Result<(Item<'_>, &[u8]), TxError> {
    if bytes.is_empty() {
        return Err(malformed("unexpected end of input"));
    }
    let mut buf = bytes;
    let header = Header::decode(&mut buf).map_err(|e| header_error(e, bytes))?;
    // A single byte below 0x80 is its own payload: the header reader then
    // consumes nothing.
    let payload = buf
        .get(..header.payload_length)
        .ok_or(malformed("item runs past the end of input"))?;
    let rest = buf.get(header.payload_length..).unwrap_or_default();
    Ok((
        if header.list {
            Item::List(payload)
        } else {
            Item::Bytes(payload)
        },
        rest,
    ))
}

/// A cursor over the items of a list payload.
pub(crate) struct ListReader<'a> {
    rest: &'a [u8],
}

impl<'a> ListReader<'a> {
    /// Reads the items of a list payload.
    pub(crate) const fn new(payload: &'a [u8]) -> Self {
        Self { rest: payload }
    }

    /// Whether every item was read.
    pub(crate) const fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next item, with its raw encoding.
    pub(crate) fn next_raw(&mut self) -> Result<(Item<'a>, &'a [u8]), TxError> {
        let before = self.rest;
        let (item, rest) = split(before)?;
        self.rest = rest;
        let used = before.len() - rest.len();
        Ok((item, before.get(..used).unwrap_or_default()))
    }

    /// The next item.
    pub(crate) fn next(&mut self) -> Result<Item<'a>, TxError> {
        Ok(self.next_raw()?.0)
    }

    /// The next item, which must be a byte string.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], TxError> {
        match self.next()? {
            Item::Bytes(b) => Ok(b),
            Item::List(_) => Err(malformed("expected a string, found a list")),
        }
    }

    /// The next item, which must be a list; its payload.
    pub(crate) fn list(&mut self) -> Result<&'a [u8], TxError> {
        match self.next()? {
            Item::List(p) => Ok(p),
            Item::Bytes(_) => Err(malformed("expected a list, found a string")),
        }
    }

    /// The next item as a canonical unsigned integer of at most `max` bytes.
    pub(crate) fn uint_bytes(&mut self, max: usize) -> Result<&'a [u8], TxError> {
        let b = self.bytes()?;
        if b.first() == Some(&0) {
            return Err(malformed("integer with leading zero"));
        }
        if b.len() > max {
            return Err(TxError::IntegerTooLarge);
        }
        Ok(b)
    }

    /// The next item as a `u64`.
    pub(crate) fn u64(&mut self) -> Result<u64, TxError> {
        let b = self.uint_bytes(8)?;
        Ok(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
    }
}

/// Decodes `bytes` as exactly one list; its payload.
pub(crate) fn single_list(bytes: &[u8]) -> Result<&[u8], TxError> {
    let (item, rest) = split(bytes)?;
    if !rest.is_empty() {
        return Err(TxError::TrailingBytes);
    }
    match item {
        Item::List(p) => Ok(p),
        Item::Bytes(_) => Err(malformed("expected a list")),
    }
}

fn write_header(out: &mut Vec<u8>, len: usize, short_base: u8) {
    if len <= 55 {
        // len <= 55, so it fits the byte.
        out.push(short_base + u8::try_from(len).unwrap_or(0));
        return;
    }
    let be = (len as u64).to_be_bytes();
    let skip = be.iter().take_while(|b| **b == 0).count();
    let n = be.len() - skip;
    out.push(short_base + 55 + u8::try_from(n).unwrap_or(0));
    out.extend_from_slice(be.get(skip..).unwrap_or_default());
}

/// Appends the encoding of a byte string.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    if let [single] = bytes
        && *single < 0x80
    {
        out.push(*single);
        return;
    }
    write_header(out, bytes.len(), 0x80);
    out.extend_from_slice(bytes);
}

/// Appends the encoding of a big-endian unsigned integer (leading zeros are
/// stripped).
pub(crate) fn put_uint_be(out: &mut Vec<u8>, be: &[u8]) {
    let skip = be.iter().take_while(|b| **b == 0).count();
    put_bytes(out, be.get(skip..).unwrap_or_default());
}

/// Appends the encoding of a `u64`.
pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    put_uint_be(out, &v.to_be_bytes());
}

/// Wraps already-encoded items into a list.
pub(crate) fn list(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 9);
    write_header(&mut out, payload.len(), 0xc0);
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_round_trips() {
        for bytes in [
            &b""[..],
            &[0x00][..],
            &[0x7f][..],
            &[0x80][..],
            &[0xff; 55][..],
            &[0xab; 56][..],
            &[0xcd; 300][..],
        ] {
            let mut enc = Vec::new();
            put_bytes(&mut enc, bytes);
            let (item, rest) = split(&enc).unwrap();
            assert!(rest.is_empty());
            assert_eq!(item, Item::Bytes(bytes));
        }
        let mut payload = Vec::new();
        for _ in 0..40 {
            put_u64(&mut payload, 1_000_000);
        }
        let enc = list(&payload);
        assert_eq!(single_list(&enc).unwrap(), &payload[..]);
    }

    #[test]
    fn non_canonical_is_refused() {
        // A single small byte wrapped in a header.
        assert!(split(&[0x81, 0x05]).is_err());
        // Long form for a short string.
        assert!(split(&[0xb8, 0x01, 0x99]).is_err());
        // Long-form length with a leading zero.
        let mut v = vec![0xb9, 0x00, 0x38];
        v.extend_from_slice(&[1; 56]);
        assert!(split(&v).is_err());
        // Truncated.
        assert!(split(&[0x83, 1, 2]).is_err());
        assert!(split(&[]).is_err());
        // Integer with a leading zero.
        let enc = list(&[0x82, 0x00, 0x01]);
        let mut r = ListReader::new(single_list(&enc).unwrap());
        assert!(r.u64().is_err());
        // Trailing bytes after the list.
        let mut enc = list(&[0x01]);
        enc.push(0);
        assert_eq!(single_list(&enc), Err(TxError::TrailingBytes));
    }
}
