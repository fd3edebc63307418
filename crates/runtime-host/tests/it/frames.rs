//! Frames: round trips, limits, truncation at every prefix, garbage.

use atoll_runtime_host::protocol::{
    Body, CheckBatchRequest, ExecuteBatchRequest, ExecutedBatch, FrameError, InfoRequest,
    MAX_FRAME_LEN, Message, PROTOCOL_VERSION, QueryRequest, Request, Response, RuntimeError,
    StateRoot, StorageGetManyRequest, StorageGetManyResponse, StorageIterateRequest, WriteLogEntry,
    decode_frame, encode_frame, read_frame, read_frame_async,
};
use atoll_types::cbor::{self, Value};
use proptest::prelude::*;

use crate::ctx;

fn samples() -> Vec<Message> {
    let bodies = vec![
        Body::Request(Request::Info(InfoRequest {
            protocol_version: PROTOCOL_VERSION,
        })),
        Body::Request(Request::ExecuteBatch(ExecuteBatchRequest {
            ctx: ctx(),
            txs: vec![vec![1, 2, 3], vec![]],
            message_results: vec![Value::Unsigned(1)],
        })),
        Body::Request(Request::CheckBatch(CheckBatchRequest {
            ctx: ctx(),
            txs: vec![vec![9]],
        })),
        Body::Request(Request::Query(QueryRequest {
            ctx: ctx(),
            method: "accounts.Balance".into(),
            args: Value::Bytes(vec![7]),
        })),
        Body::Request(Request::Abort),
        Body::Request(Request::Ping),
        Body::Request(Request::Shutdown),
        Body::Request(Request::StorageGetMany(StorageGetManyRequest {
            root: StateRoot::default(),
            keys: vec![b"a".to_vec(), b"".to_vec()],
        })),
        Body::Request(Request::StorageIterate(StorageIterateRequest {
            root: StateRoot::default(),
            start: b"a".to_vec(),
            end: None,
            limit: 10,
        })),
        Body::Response(Response::ExecutedBatch(ExecutedBatch {
            results: vec![Value::Null],
            write_log: vec![
                WriteLogEntry {
                    key: b"k".to_vec(),
                    value: Some(b"v".to_vec()),
                },
                WriteLogEntry {
                    key: b"z".to_vec(),
                    value: None,
                },
            ],
            messages: vec![],
            events: vec![Value::Text("e".into())],
        })),
        Body::Response(Response::StorageGetMany(StorageGetManyResponse {
            values: vec![None, Some(vec![1])],
        })),
        Body::Response(Response::Empty),
        Body::Response(Response::Error(RuntimeError::new(
            "accounts", 2, "no money",
        ))),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| Message {
            id: i as u64 * 1000,
            body,
        })
        .collect()
}

#[test]
fn every_message_kind_round_trips() {
    for msg in samples() {
        let frame = encode_frame(&msg, MAX_FRAME_LEN).unwrap();
        let (back, used) = decode_frame(&frame, MAX_FRAME_LEN).unwrap().unwrap();
        assert_eq!(back, msg);
        assert_eq!(used, frame.len());
        let mut cursor = std::io::Cursor::new(frame);
        assert_eq!(read_frame(&mut cursor, MAX_FRAME_LEN).unwrap(), Some(msg));
        assert_eq!(read_frame(&mut cursor, MAX_FRAME_LEN).unwrap(), None);
    }
}

#[test]
fn wire_form_is_readable_cbor() {
    let frame = encode_frame(
        &Message {
            id: 5,
            body: Body::Request(Request::Ping),
        },
        MAX_FRAME_LEN,
    )
    .unwrap();
    let body = cbor::decode_value(&frame[4..]).unwrap();
    assert_eq!(body.get("id"), Some(&Value::Unsigned(5)));
    assert_eq!(
        body.get("body").and_then(|b| b.get("request")),
        Some(&Value::Text("ping".into()))
    );
    assert_eq!(
        u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize,
        frame.len() - 4
    );
}

#[test]
fn oversized_header_is_refused_before_reading_the_body() {
    let header = u32::MAX.to_be_bytes();
    assert!(matches!(
        decode_frame(&header, MAX_FRAME_LEN),
        Err(FrameError::TooLarge { len, max }) if len == u64::from(u32::MAX) && max == MAX_FRAME_LEN
    ));
    // Only the header exists: a reader that tried to read (or allocate) the
    // body first would report truncation instead.
    let mut r = std::io::Cursor::new(header.to_vec());
    assert!(matches!(
        read_frame(&mut r, MAX_FRAME_LEN),
        Err(FrameError::TooLarge { .. })
    ));
    let just_over = ((MAX_FRAME_LEN + 1) as u32).to_be_bytes();
    assert!(matches!(
        decode_frame(&just_over, MAX_FRAME_LEN),
        Err(FrameError::TooLarge { .. })
    ));
}

#[test]
fn encoding_refuses_a_message_over_the_limit() {
    let msg = Message {
        id: 1,
        body: Body::Request(Request::CheckBatch(CheckBatchRequest {
            ctx: ctx(),
            txs: vec![vec![0; 1000]],
        })),
    };
    assert!(matches!(
        encode_frame(&msg, 500),
        Err(FrameError::TooLarge { max: 500, .. })
    ));
    let frame = encode_frame(&msg, MAX_FRAME_LEN).unwrap();
    assert!(matches!(
        decode_frame(&frame, 500),
        Err(FrameError::TooLarge { .. })
    ));
}

#[test]
fn bodies_that_are_not_messages_are_decode_errors() {
    let bad: Vec<Vec<u8>> = vec![
        vec![0xff; 5],          // not CBOR
        vec![0x01],             // CBOR, not a message
        vec![0xa0],             // empty map
        vec![0xf9, 0x3c, 0x00], // a float (outside the profile)
        cbor::to_vec(&Value::Text("x".into())).unwrap(),
    ];
    for body in bad {
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        assert!(
            matches!(
                decode_frame(&frame, MAX_FRAME_LEN),
                Err(FrameError::Decode(_))
            ),
            "{body:?}"
        );
    }
    // A valid message followed by trailing bytes inside the same frame.
    let good = encode_frame(
        &Message {
            id: 1,
            body: Body::Request(Request::Ping),
        },
        MAX_FRAME_LEN,
    )
    .unwrap();
    let mut body = good[4..].to_vec();
    body.push(0);
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    assert!(matches!(
        decode_frame(&frame, MAX_FRAME_LEN),
        Err(FrameError::Decode(_))
    ));
}

#[tokio::test]
async fn async_reader_matches_the_sync_one() {
    for msg in samples() {
        let frame = encode_frame(&msg, MAX_FRAME_LEN).unwrap();
        let mut r = frame.as_slice();
        assert_eq!(
            read_frame_async(&mut r, MAX_FRAME_LEN).await.unwrap(),
            Some(msg)
        );
        let mut cut = &frame[..frame.len() - 1];
        assert!(matches!(
            read_frame_async(&mut cut, MAX_FRAME_LEN).await,
            Err(FrameError::Truncated { .. })
        ));
    }
}

fn arb_message() -> impl Strategy<Value = Message> {
    (
        any::<u64>(),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..6),
        proptest::collection::vec(
            (
                proptest::collection::vec(any::<u8>(), 0..8),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
            ),
            0..5,
        ),
        ".{0,12}",
        any::<u32>(),
    )
        .prop_map(|(id, txs, log, text, code)| {
            let body = match id % 3 {
                0 => Body::Request(Request::ExecuteBatch(ExecuteBatchRequest {
                    ctx: ctx(),
                    txs,
                    message_results: vec![Value::Text(text)],
                })),
                1 => Body::Response(Response::ExecutedBatch(ExecutedBatch {
                    results: txs.into_iter().map(Value::Bytes).collect(),
                    write_log: log
                        .into_iter()
                        .map(|(key, value)| WriteLogEntry { key, value })
                        .collect(),
                    messages: vec![],
                    events: vec![],
                })),
                _ => Body::Response(Response::Error(RuntimeError::new(text, code, "m"))),
            };
            Message { id, body }
        })
}

proptest! {
    #[test]
    fn truncation_at_every_prefix(msg in arb_message()) {
        let frame = encode_frame(&msg, MAX_FRAME_LEN).unwrap();
        for cut in 0..frame.len() {
            let prefix = &frame[..cut];
            prop_assert!(matches!(decode_frame(prefix, MAX_FRAME_LEN), Ok(None)));
            let mut r = std::io::Cursor::new(prefix.to_vec());
            match read_frame(&mut r, MAX_FRAME_LEN) {
                Ok(None) => prop_assert_eq!(cut, 0),
                Err(FrameError::Truncated { .. }) => prop_assert!(cut > 0),
                other => prop_assert!(false, "prefix {} gave {:?}", cut, other),
            }
        }
        let (back, used) = decode_frame(&frame, MAX_FRAME_LEN).unwrap().unwrap();
        prop_assert_eq!(back, msg);
        prop_assert_eq!(used, frame.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_frame(&bytes, MAX_FRAME_LEN);
        let _ = decode_frame(&bytes, 64);
        let mut r = std::io::Cursor::new(bytes.clone());
        let _ = read_frame(&mut r, MAX_FRAME_LEN);
        // With a plausible header in front, the body is what gets tested.
        let mut framed = (bytes.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        let _ = decode_frame(&framed, MAX_FRAME_LEN);
    }

    #[test]
    fn flipped_bytes_are_an_error_or_another_message(msg in arb_message(), at in any::<usize>(), bit in 0u8..8) {
        let mut frame = encode_frame(&msg, MAX_FRAME_LEN).unwrap();
        let at = at % frame.len();
        frame[at] ^= 1 << bit;
        if let Ok(Some((other, _))) = decode_frame(&frame, MAX_FRAME_LEN) {
            prop_assert_ne!(other, msg);
        }
    }
}
