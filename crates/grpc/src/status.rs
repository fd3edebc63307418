//! Errors as oasis-node returns them.
//!
//! oasis-core (`go/common/grpc/errors.go`) turns an error that has a module
//! and a code into a gRPC status whose details hold one `google.protobuf.Any`
//! with an empty type URL and the CBOR map `{module, code}` as its value; the
//! status travels in the `grpc-status-details-bin` trailer as an encoded
//! `google.rpc.Status`. `@oasisprotocol/client` reads exactly that (one
//! detail, empty type URL) and exposes `oasisModule` and `oasisCode`. Errors
//! without a module (bad arguments, decoding) carry no details, as there.

use bytes::Bytes;
use serde::Serialize;
use tonic::{Code, Status};

/// `{module, code}`, the CBOR inside the status detail (fields left out when
/// empty or zero, as Go's `omitempty` writes them).
#[derive(Serialize)]
struct GrpcError<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    module: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    code: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A status with Oasis's `{module, code}` detail.
pub fn coded(code: Code, module: &str, oasis_code: u32, message: &str) -> Status {
    let detail = atoll_types::cbor::to_vec(&GrpcError {
        module,
        code: oasis_code,
    })
    .unwrap_or_default();
    let mut any = Vec::with_capacity(detail.len() + 4);
    // google.protobuf.Any { type_url = "" (left out), value = 2 }.
    put_bytes_field(&mut any, 2, &detail);
    let mut status = Vec::with_capacity(any.len() + message.len() + 16);
    // google.rpc.Status { code = 1, message = 2, details = 3 }.
    put_varint_field(&mut status, 1, u64::from(code as u32));
    put_bytes_field(&mut status, 2, message.as_bytes());
    put_bytes_field(&mut status, 3, &any);
    Status::with_details(code, message, Bytes::from(status))
}

/// Appends a protobuf varint.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a varint field (wire type 0); zero is left out, as proto3 does.
fn put_varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
    if v != 0 {
        put_varint(out, field << 3);
        put_varint(out, v);
    }
}

/// Appends a length-delimited field (wire type 2); empty is left out.
fn put_bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    if !bytes.is_empty() {
        put_varint(out, (field << 3) | 2);
        put_varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
}

/// What a method answers with when it fails.
#[derive(Debug, thiserror::Error)]
pub enum MethodError {
    /// The request body is not what the method takes (oasis-node: the codec
    /// fails to unmarshal, status `Internal`, no module).
    #[error("grpc: error unmarshalling request: {0}")]
    BadRequest(String),
    /// A refusal with Oasis's module and code (a transaction's error).
    #[error("{message}")]
    Coded {
        /// The module, `"consensus"`, `"staking"`...
        module: String,
        /// The module's code.
        code: u32,
        /// The message.
        message: String,
    },
    /// No such height, object or transaction.
    #[error("{0}")]
    NotFound(String),
    /// The node could not answer.
    #[error("{0}")]
    Internal(String),
}

impl From<MethodError> for Status {
    fn from(e: MethodError) -> Self {
        match e {
            MethodError::BadRequest(_) => Status::new(Code::Internal, e.to_string()),
            MethodError::Coded {
                module,
                code,
                message,
            } => coded(Code::Unknown, &module, code, &message),
            MethodError::NotFound(why) => Status::new(Code::NotFound, why),
            MethodError::Internal(why) => Status::new(Code::Internal, why),
        }
    }
}

impl From<atoll_rpc::ApiError> for MethodError {
    fn from(e: atoll_rpc::ApiError) -> Self {
        use atoll_rpc::ApiError;
        match e {
            ApiError::Tx(t) => Self::Coded {
                module: t.module,
                code: t.code,
                message: t.message,
            },
            ApiError::NotFound(w) => Self::NotFound(w),
            ApiError::InvalidParams(w) => Self::BadRequest(w),
            ApiError::Internal(w) => Self::Internal(w),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coded_status_holds_one_any_with_the_cbor_detail() {
        let s = coded(Code::Unknown, "staking", 5, "x");
        // Status{code: 2, message: "x", details: [Any{value: {"code": 5, "module": "staking"}}]}.
        let detail = atoll_types::cbor::to_vec(&GrpcError {
            module: "staking",
            code: 5,
        })
        .unwrap();
        assert_eq!(detail[0], 0xa2);
        let mut want = vec![0x08, 0x02, 0x12, 0x01, b'x', 0x1a];
        want.push(u8::try_from(detail.len() + 2).unwrap());
        want.extend([0x12, u8::try_from(detail.len()).unwrap()]);
        want.extend(&detail);
        assert_eq!(s.details(), want.as_slice());
        assert_eq!(s.code(), Code::Unknown);
        assert_eq!(s.message(), "x");
    }
}
