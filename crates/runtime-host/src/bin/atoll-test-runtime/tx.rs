//! The transactions of the test runtime (shared with the integration
//! tests, which include this file).

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// One transaction of the test runtime, CBOR-encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestTx {
    /// Sets a key; result `null`, event `"put"`.
    Put {
        /// The key.
        key: ByteBuf,
        /// The value.
        value: ByteBuf,
    },
    /// Adds one to a big-endian `u64` counter (absent is 0); result: the
    /// new count.
    Incr {
        /// The key.
        key: ByteBuf,
    },
    /// Removes a key; result `null`.
    Del {
        /// The key.
        key: ByteBuf,
    },
    /// Reads a key; result: the value or `null`.
    Get {
        /// The key.
        key: ByteBuf,
    },
    /// Lists up to `limit` keys from `start`; result: an array of keys.
    Scan {
        /// The first key.
        start: ByteBuf,
        /// The most keys.
        limit: u64,
    },
    /// Reads a key of the consensus state; result: the value or `null`.
    ConsensusRead {
        /// The height.
        height: u64,
        /// The key.
        key: ByteBuf,
    },
    /// Sleeps `ms` milliseconds; result `null`.
    Sleep {
        /// How long.
        ms: u64,
    },
    /// Fails the batch with the error `test/7`.
    Fail,
    /// Exits the process with status 42.
    Crash,
    /// Sleeps forever, ignoring aborts.
    Hang,
    /// Sleeps until the host aborts the call.
    HangAbortable,
    /// Writes a frame whose body is not CBOR straight to the socket, then
    /// sleeps forever.
    Garbage,
    /// Writes a frame header announcing 4 GiB straight to the socket, then
    /// sleeps forever.
    Oversize,
}
