//! Write logs: the key-level changes between two roots.
//!
//! Unlike Oasis, where an empty value means "delete", an entry's value is an
//! `Option`: `None` deletes, `Some(vec![])` stores an empty value. atoll keeps
//! the two apart so that "present but empty" is a state a module can use and
//! a diff round-trips it faithfully.

use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, MAX_KEY_LEN, MAX_VALUE_LEN, Reader, Writer};

/// Format version byte of an encoded [`WriteLog`].
pub const WRITE_LOG_FORMAT: u8 = 1;
/// Most entries a decoded write log may hold.
pub const MAX_WRITE_LOG_ENTRIES: usize = 1 << 24;

/// One change: set `key` to `value`, or delete it when `value` is `None`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LogEntry {
    /// The key.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// The new value, `None` for a deletion.
    #[serde(with = "serde_bytes")]
    pub value: Option<Vec<u8>>,
}

/// A list of changes, sorted by key, each key at most once.
pub type WriteLog = Vec<LogEntry>;

/// Encodes a write log: `u8 format || u32 n || n × (bytes key || u8 flag || [bytes value])`.
pub fn encode(log: &[LogEntry]) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(WRITE_LOG_FORMAT);
    w.u32(u32::try_from(log.len()).unwrap_or(u32::MAX));
    for e in log {
        w.bytes(&e.key);
        match &e.value {
            None => w.u8(0),
            Some(v) => {
                w.u8(1);
                w.bytes(v);
            }
        }
    }
    w.finish()
}

/// Decodes a write log, checking bounds, that keys are strictly increasing.
pub fn decode(bytes: &[u8]) -> Result<WriteLog, DecodeError> {
    let mut r = Reader::new(bytes);
    let tag = r.u8("write log format")?;
    if tag != WRITE_LOG_FORMAT {
        return Err(DecodeError::BadTag {
            what: "write log format",
            tag,
        });
    }
    let n = r.count("write log entries", 5, MAX_WRITE_LOG_ENTRIES)?;
    let mut out: WriteLog = Vec::with_capacity(n);
    for _ in 0..n {
        let key = r.bytes("log key", MAX_KEY_LEN)?.to_vec();
        if out.last().is_some_and(|p| p.key >= key) {
            return Err(DecodeError::Invalid(
                "write log keys not strictly increasing",
            ));
        }
        let value = match r.u8("log value flag")? {
            0 => None,
            1 => Some(r.bytes("log value", MAX_VALUE_LEN)?.to_vec()),
            tag => {
                return Err(DecodeError::BadTag {
                    what: "log value flag",
                    tag,
                });
            }
        };
        out.push(LogEntry { key, value });
    }
    r.end()?;
    Ok(out)
}
