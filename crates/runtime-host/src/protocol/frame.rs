//! Frames: `[u32 big-endian length][canonical CBOR Message]`.
//!
//! The length counts the CBOR bytes only and may be at most
//! [`MAX_FRAME_LEN`] (16 MiB) or a smaller limit the caller passes. A length
//! over the limit is refused as soon as the four header bytes are read,
//! before anything is allocated; a body is read in bounded steps, so a peer
//! that announces a large frame and then stops sending costs little memory.
//! Nothing here panics on any input.

use std::io::{self, Read, Write};

use atoll_types::cbor::{self, DecodeError, DecodeLimits, EncodeError};
#[cfg(feature = "host")]
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Message;

/// The largest frame body (the CBOR message), in bytes: 16 MiB.
pub const MAX_FRAME_LEN: usize = 16 << 20;

/// The length of the frame header.
const HEADER_LEN: usize = 4;

/// How much body is reserved ahead of the bytes that actually arrive.
const READ_CHUNK: usize = 64 << 10;

/// Why a frame could not be read or written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame's announced (or encoded) length is over the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The announced or encoded length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame: expected {expected} bytes, got {got}")]
    Truncated {
        /// Bytes the header (4) or the body needed.
        expected: usize,
        /// Bytes that arrived.
        got: usize,
    },
    /// Reading or writing the stream failed.
    #[error("i/o error ({kind:?}): {message}")]
    Io {
        /// The error's kind.
        kind: io::ErrorKind,
        /// The error's description.
        message: String,
    },
    /// The body is not the canonical CBOR of a [`Message`].
    #[error("undecodable message: {0}")]
    Decode(#[from] DecodeError),
    /// The message could not be encoded.
    #[error("unencodable message: {0}")]
    Encode(#[from] EncodeError),
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        Self::Io {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// Encodes `msg` as one frame (header and body), refusing a body longer
/// than `max_len`.
pub fn encode_frame(msg: &Message, max_len: usize) -> Result<Vec<u8>, FrameError> {
    let body = cbor::to_vec(msg)?;
    let too_large = || FrameError::TooLarge {
        len: body.len() as u64,
        max: max_len,
    };
    if body.len() > max_len {
        return Err(too_large());
    }
    let len = u32::try_from(body.len()).map_err(|_| too_large())?;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes the first frame of `buf`, if it is complete.
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some((message,
/// consumed)))` when a whole frame is there, and an error when the header
/// announces more than `max_len` bytes or the body is not a message.
pub fn decode_frame(buf: &[u8], max_len: usize) -> Result<Option<(Message, usize)>, FrameError> {
    let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let len = body_len(*header, max_len)?;
    let Some(body) = buf.get(HEADER_LEN..HEADER_LEN + len) else {
        return Ok(None);
    };
    Ok(Some((decode_message(body, max_len)?, HEADER_LEN + len)))
}

/// Reads one frame from a blocking stream.
///
/// Returns `Ok(None)` on a clean end of stream (before the first header
/// byte); an end of stream anywhere else is [`FrameError::Truncated`].
pub fn read_frame<R: Read>(r: &mut R, max_len: usize) -> Result<Option<Message>, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        let Some(rest) = header.get_mut(got..) else {
            break;
        };
        match r.read(rest) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(FrameError::Truncated {
                    expected: HEADER_LEN,
                    got,
                });
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = body_len(header, max_len)?;
    let mut body = Vec::with_capacity(len.min(READ_CHUNK));
    let n = r.take(len as u64).read_to_end(&mut body)?;
    if n < len {
        return Err(FrameError::Truncated {
            expected: len,
            got: n,
        });
    }
    decode_message(&body, max_len).map(Some)
}

/// Writes one frame to a blocking stream and flushes it.
pub fn write_frame<W: Write>(w: &mut W, msg: &Message, max_len: usize) -> Result<(), FrameError> {
    let frame = encode_frame(msg, max_len)?;
    w.write_all(&frame)?;
    w.flush()?;
    Ok(())
}

#[cfg(feature = "host")]
/// Reads one frame from an async stream; see [`read_frame`].
pub async fn read_frame_async<R: AsyncRead + Unpin>(
    r: &mut R,
    max_len: usize,
) -> Result<Option<Message>, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        let Some(rest) = header.get_mut(got..) else {
            break;
        };
        match r.read(rest).await {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(FrameError::Truncated {
                    expected: HEADER_LEN,
                    got,
                });
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = body_len(header, max_len)?;
    let mut body = Vec::with_capacity(len.min(READ_CHUNK));
    let n = r.take(len as u64).read_to_end(&mut body).await?;
    if n < len {
        return Err(FrameError::Truncated {
            expected: len,
            got: n,
        });
    }
    decode_message(&body, max_len).map(Some)
}

#[cfg(feature = "host")]
/// Writes one frame to an async stream and flushes it.
pub async fn write_frame_async<W: AsyncWrite + Unpin>(
    w: &mut W,
    msg: &Message,
    max_len: usize,
) -> Result<(), FrameError> {
    let frame = encode_frame(msg, max_len)?;
    w.write_all(&frame).await?;
    w.flush().await?;
    Ok(())
}

/// The body length a header announces, refused over `max_len`.
fn body_len(header: [u8; HEADER_LEN], max_len: usize) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header);
    match usize::try_from(len) {
        Ok(len) if len <= max_len => Ok(len),
        _ => Err(FrameError::TooLarge {
            len: u64::from(len),
            max: max_len,
        }),
    }
}

/// Decodes a frame body.
fn decode_message(body: &[u8], max_len: usize) -> Result<Message, FrameError> {
    let limits = DecodeLimits {
        max_input_len: max_len,
        ..DecodeLimits::DEFAULT
    };
    Ok(cbor::from_slice_with_limits(body, &limits)?)
}
