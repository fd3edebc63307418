//! What validators send each other: Malachite's consensus, streaming and
//! sync messages through atoll's codec.

use atoll_bft::codec::CborCodec;
use atoll_bft::context::{AtollContext, Height, PartInit, ProposalPart, ValidatorAddress};
use atoll_bft::engine::app::consensus::LivenessMsg;
use atoll_bft::engine::app::streaming::{StreamContent, StreamId, StreamMessage};
use atoll_bft::engine::app::types::codec::Codec;
use atoll_bft::engine::app::types::core::{PolkaCertificate, ValidatorProof};
use atoll_bft::engine::app::types::sync;
use atoll_bft::engine::app::types::{ProposedValue, SignedConsensusMsg};
use atoll_crypto::Hash;
use atoll_crypto::ed25519::SigningKey;
use bytes::Bytes;

/// Decodes `data` as a `T`; whatever decodes must encode, decode again and
/// encode to the same bytes (the codec has one encoding per message).
fn settles<T>(data: &[u8])
where
    CborCodec: Codec<T>,
    <CborCodec as Codec<T>>::Error: std::fmt::Debug,
{
    let codec = CborCodec;
    let Ok(msg) = codec.decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    let once = codec.encode(&msg).expect("a decoded message encodes");
    let back = codec
        .decode(once.clone())
        .expect("an encoded message decodes");
    let twice = codec.encode(&back).expect("a decoded message encodes");
    assert_eq!(once, twice, "a message does not settle on one encoding");
}

/// Every message type a peer's bytes are decoded as: none panics, and each
/// settles on one encoding.
pub fn bft_codec(data: &[u8]) {
    settles::<ProposalPart>(data);
    settles::<StreamMessage<ProposalPart>>(data);
    settles::<SignedConsensusMsg<AtollContext>>(data);
    settles::<LivenessMsg<AtollContext>>(data);
    settles::<ProposedValue<AtollContext>>(data);
    settles::<PolkaCertificate<AtollContext>>(data);
    settles::<ValidatorProof<AtollContext>>(data);
    settles::<sync::Status<AtollContext>>(data);
    settles::<sync::Request<AtollContext>>(data);
    settles::<sync::Response<AtollContext>>(data);
}

/// A streamed proposal: its init, a data chunk and the signature, each as a
/// part and as a stream message.
pub fn seeds() -> Vec<Vec<u8>> {
    let key = SigningKey::from_seed(&[3; 32]);
    let parts = vec![
        ProposalPart::Init(PartInit {
            height: Height(7),
            round: 0,
            pol_round: -1,
            proposer: ValidatorAddress::from_key(&key.public_key()),
        }),
        ProposalPart::Data(vec![0xa2, 0x61, 0x61, 0x01, 0x61, 0x62, 0x02]),
        ProposalPart::Fin(key.sign_raw(Hash::digest(b"block").as_ref())),
    ];
    let codec = CborCodec;
    let mut seeds: Vec<Vec<u8>> = parts
        .iter()
        .map(|p| codec.encode(p).expect("a part encodes").to_vec())
        .collect();
    let stream = StreamId::new(Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0]));
    for (i, p) in parts.into_iter().enumerate() {
        let msg = StreamMessage::new(
            stream.clone(),
            u64::try_from(i).unwrap_or(0),
            StreamContent::Data(p),
        );
        seeds.push(
            codec
                .encode(&msg)
                .expect("a stream message encodes")
                .to_vec(),
        );
    }
    let fin: StreamMessage<ProposalPart> = StreamMessage::new(stream, 3, StreamContent::Fin);
    seeds.push(codec.encode(&fin).expect("a stream end encodes").to_vec());
    seeds
}
