//! The wire and WAL encoding of every Malachite message: canonical CBOR
//! through small mirror types.
//!
//! Malachite's generic message types (certificates, signed messages, sync
//! requests) carry no serde support, so each has a `Wire*` twin here. The
//! encoding is atoll-internal (validators talk to validators), not an Oasis
//! format. Decoding is bounded by `atoll_types::cbor`'s limits and never
//! panics; signatures are never trusted from the wire bytes but always
//! re-checked over the re-derived signed bytes.

use bytes::Bytes;
use malachitebft_app_channel::app::consensus::LivenessMsg;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, CommitSignature, ExtendedCommitCertificate, ExtendedCommitSignature,
    NilOrVal, PolkaCertificate, PolkaSignature, Round, RoundCertificate, RoundCertificateType,
    RoundSignature, SignedExtension, SignedMessage, ValidatorProof, Validity, VoteType,
};
use malachitebft_app_channel::app::types::sync;
use malachitebft_app_channel::app::types::{PeerId, ProposedValue, SignedConsensusMsg};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use atoll_crypto::ed25519::Signature;

use crate::context::{
    AtollContext, BlockHash, Height, Proposal, ProposalPart, ValidatorAddress, Vote,
};

/// Why bytes could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Not a valid encoding.
    #[error("decode: {0}")]
    Decode(#[from] atoll_types::cbor::DecodeError),
    /// The value does not encode.
    #[error("encode: {0}")]
    Encode(#[from] atoll_types::cbor::EncodeError),
    /// Decoded, but not a valid message.
    #[error("invalid message: {0}")]
    Invalid(String),
}

/// atoll's codec for Malachite's network, WAL and sync messages.
#[derive(Clone, Copy, Debug, Default)]
pub struct CborCodec;

/// A type with a serde twin.
trait Wire: Sized {
    type W: Serialize + DeserializeOwned;
    fn to_wire(&self) -> Self::W;
    fn from_wire(w: Self::W) -> Result<Self, CodecError>;
}

macro_rules! codec_via_wire {
    ($($t:ty),* $(,)?) => {$(
        impl Codec<$t> for CborCodec {
            type Error = CodecError;

            fn decode(&self, bytes: Bytes) -> Result<$t, CodecError> {
                let w = atoll_types::cbor::from_slice(&bytes)?;
                <$t as Wire>::from_wire(w)
            }

            fn encode(&self, msg: &$t) -> Result<Bytes, CodecError> {
                Ok(Bytes::from(atoll_types::cbor::to_vec(&msg.to_wire())?))
            }
        }
    )*};
}

codec_via_wire!(
    ProposalPart,
    SignedConsensusMsg<AtollContext>,
    LivenessMsg<AtollContext>,
    StreamMessage<ProposalPart>,
    ValidatorProof<AtollContext>,
    ProposedValue<AtollContext>,
    PolkaCertificate<AtollContext>,
    sync::Status<AtollContext>,
    sync::Request<AtollContext>,
    sync::Response<AtollContext>,
);

impl HasEncodedLen<sync::Response<AtollContext>> for CborCodec {
    fn encoded_len(&self, msg: &sync::Response<AtollContext>) -> Result<usize, CodecError> {
        Ok(atoll_types::cbor::to_vec(&msg.to_wire())?.len())
    }
}

impl Wire for ProposalPart {
    type W = ProposalPart;
    fn to_wire(&self) -> ProposalPart {
        self.clone()
    }
    fn from_wire(w: ProposalPart) -> Result<Self, CodecError> {
        Ok(w)
    }
}

#[derive(Serialize, Deserialize)]
struct WireExtension {
    #[serde(with = "serde_bytes")]
    message: Vec<u8>,
    signature: Signature,
}

fn ext_to_wire(e: &SignedExtension<AtollContext>) -> WireExtension {
    WireExtension {
        message: e.message.clone(),
        signature: e.signature,
    }
}

fn ext_from_wire(e: WireExtension) -> SignedExtension<AtollContext> {
    SignedMessage::new(e.message, e.signature)
}

fn nil_to_opt(v: &NilOrVal<BlockHash>) -> Option<BlockHash> {
    match v {
        NilOrVal::Nil => None,
        NilOrVal::Val(h) => Some(*h),
    }
}

fn opt_to_nil(v: Option<BlockHash>) -> NilOrVal<BlockHash> {
    v.map_or(NilOrVal::Nil, NilOrVal::Val)
}

fn round(r: i64) -> Result<Round, CodecError> {
    if r < -1 || r > i64::from(u32::MAX) {
        return Err(CodecError::Invalid(format!("round {r} out of range")));
    }
    Ok(Round::from(r))
}

#[derive(Serialize, Deserialize)]
struct WireVote {
    height: Height,
    round: i64,
    value: Option<BlockHash>,
    precommit: bool,
    validator: ValidatorAddress,
    extension: Option<WireExtension>,
}

impl Wire for Vote {
    type W = WireVote;
    fn to_wire(&self) -> WireVote {
        WireVote {
            height: self.height,
            round: self.round.as_i64(),
            value: nil_to_opt(&self.value),
            precommit: self.vote_type == VoteType::Precommit,
            validator: self.validator,
            extension: self.extension.as_ref().map(ext_to_wire),
        }
    }
    fn from_wire(w: WireVote) -> Result<Self, CodecError> {
        Ok(Vote {
            height: w.height,
            round: round(w.round)?,
            value: opt_to_nil(w.value),
            vote_type: if w.precommit {
                VoteType::Precommit
            } else {
                VoteType::Prevote
            },
            validator: w.validator,
            extension: w.extension.map(ext_from_wire),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireSignedVote {
    vote: WireVote,
    signature: Signature,
}

fn signed_vote_to_wire(v: &SignedMessage<AtollContext, Vote>) -> WireSignedVote {
    WireSignedVote {
        vote: v.message.to_wire(),
        signature: v.signature,
    }
}

fn signed_vote_from_wire(
    w: WireSignedVote,
) -> Result<SignedMessage<AtollContext, Vote>, CodecError> {
    Ok(SignedMessage::new(Vote::from_wire(w.vote)?, w.signature))
}

#[derive(Serialize, Deserialize)]
struct WireSignedProposal {
    proposal: Proposal,
    signature: Signature,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireConsensusMsg {
    Vote(WireSignedVote),
    Proposal(WireSignedProposal),
}

impl Wire for SignedConsensusMsg<AtollContext> {
    type W = WireConsensusMsg;
    fn to_wire(&self) -> WireConsensusMsg {
        match self {
            SignedConsensusMsg::Vote(v) => WireConsensusMsg::Vote(signed_vote_to_wire(v)),
            SignedConsensusMsg::Proposal(p) => WireConsensusMsg::Proposal(WireSignedProposal {
                proposal: p.message.clone(),
                signature: p.signature,
            }),
        }
    }
    fn from_wire(w: WireConsensusMsg) -> Result<Self, CodecError> {
        Ok(match w {
            WireConsensusMsg::Vote(v) => SignedConsensusMsg::Vote(signed_vote_from_wire(v)?),
            WireConsensusMsg::Proposal(p) => {
                round(p.proposal.round)?;
                round(p.proposal.pol_round)?;
                SignedConsensusMsg::Proposal(SignedMessage::new(p.proposal, p.signature))
            }
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireAddrSig {
    address: ValidatorAddress,
    signature: Signature,
}

#[derive(Serialize, Deserialize)]
struct WirePolka {
    height: Height,
    round: i64,
    value: BlockHash,
    signatures: Vec<WireAddrSig>,
}

impl Wire for PolkaCertificate<AtollContext> {
    type W = WirePolka;
    fn to_wire(&self) -> WirePolka {
        WirePolka {
            height: self.height,
            round: self.round.as_i64(),
            value: self.value_id,
            signatures: self
                .polka_signatures
                .iter()
                .map(|s| WireAddrSig {
                    address: s.address,
                    signature: s.signature,
                })
                .collect(),
        }
    }
    fn from_wire(w: WirePolka) -> Result<Self, CodecError> {
        Ok(PolkaCertificate {
            height: w.height,
            round: round(w.round)?,
            value_id: w.value,
            polka_signatures: w
                .signatures
                .into_iter()
                .map(|s| PolkaSignature::new(s.address, s.signature))
                .collect(),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireRoundSig {
    precommit: bool,
    value: Option<BlockHash>,
    address: ValidatorAddress,
    signature: Signature,
}

#[derive(Serialize, Deserialize)]
struct WireRoundCert {
    height: Height,
    round: i64,
    skip: bool,
    signatures: Vec<WireRoundSig>,
}

impl Wire for RoundCertificate<AtollContext> {
    type W = WireRoundCert;
    fn to_wire(&self) -> WireRoundCert {
        WireRoundCert {
            height: self.height,
            round: self.round.as_i64(),
            skip: self.cert_type == RoundCertificateType::Skip,
            signatures: self
                .round_signatures
                .iter()
                .map(|s| WireRoundSig {
                    precommit: s.vote_type == VoteType::Precommit,
                    value: nil_to_opt(&s.value_id),
                    address: s.address,
                    signature: s.signature,
                })
                .collect(),
        }
    }
    fn from_wire(w: WireRoundCert) -> Result<Self, CodecError> {
        Ok(RoundCertificate {
            height: w.height,
            round: round(w.round)?,
            cert_type: if w.skip {
                RoundCertificateType::Skip
            } else {
                RoundCertificateType::Precommit
            },
            round_signatures: w
                .signatures
                .into_iter()
                .map(|s| {
                    RoundSignature::new(
                        if s.precommit {
                            VoteType::Precommit
                        } else {
                            VoteType::Prevote
                        },
                        opt_to_nil(s.value),
                        s.address,
                        s.signature,
                    )
                })
                .collect(),
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireLiveness {
    Vote(WireSignedVote),
    Polka(WirePolka),
    Skip(WireRoundCert),
}

impl Wire for LivenessMsg<AtollContext> {
    type W = WireLiveness;
    fn to_wire(&self) -> WireLiveness {
        match self {
            LivenessMsg::Vote(v) => WireLiveness::Vote(signed_vote_to_wire(v)),
            LivenessMsg::PolkaCertificate(c) => WireLiveness::Polka(c.to_wire()),
            LivenessMsg::SkipRoundCertificate(c) => WireLiveness::Skip(c.to_wire()),
        }
    }
    fn from_wire(w: WireLiveness) -> Result<Self, CodecError> {
        Ok(match w {
            WireLiveness::Vote(v) => LivenessMsg::Vote(signed_vote_from_wire(v)?),
            WireLiveness::Polka(c) => {
                LivenessMsg::PolkaCertificate(PolkaCertificate::from_wire(c)?)
            }
            WireLiveness::Skip(c) => {
                LivenessMsg::SkipRoundCertificate(RoundCertificate::from_wire(c)?)
            }
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireStream {
    #[serde(with = "serde_bytes")]
    stream_id: Vec<u8>,
    sequence: u64,
    /// `None` ends the stream.
    part: Option<ProposalPart>,
}

impl Wire for StreamMessage<ProposalPart> {
    type W = WireStream;
    fn to_wire(&self) -> WireStream {
        WireStream {
            stream_id: self.stream_id.to_bytes().to_vec(),
            sequence: self.sequence,
            part: self.content.as_data().cloned(),
        }
    }
    fn from_wire(w: WireStream) -> Result<Self, CodecError> {
        Ok(StreamMessage::new(
            StreamId::new(Bytes::from(w.stream_id)),
            w.sequence,
            match w.part {
                Some(p) => StreamContent::Data(p),
                None => StreamContent::Fin,
            },
        ))
    }
}

#[derive(Serialize, Deserialize)]
struct WireProof {
    #[serde(with = "serde_bytes")]
    public_key: Vec<u8>,
    #[serde(with = "serde_bytes")]
    peer_id: Vec<u8>,
    signature: Signature,
}

impl Wire for ValidatorProof<AtollContext> {
    type W = WireProof;
    fn to_wire(&self) -> WireProof {
        WireProof {
            public_key: self.public_key.clone(),
            peer_id: self.peer_id.clone(),
            signature: self.signature,
        }
    }
    fn from_wire(w: WireProof) -> Result<Self, CodecError> {
        Ok(ValidatorProof::new(w.public_key, w.peer_id, w.signature))
    }
}

#[derive(Serialize, Deserialize)]
struct WireProposedValue {
    height: Height,
    round: i64,
    valid_round: i64,
    proposer: ValidatorAddress,
    value: BlockHash,
    valid: bool,
}

impl Wire for ProposedValue<AtollContext> {
    type W = WireProposedValue;
    fn to_wire(&self) -> WireProposedValue {
        WireProposedValue {
            height: self.height,
            round: self.round.as_i64(),
            valid_round: self.valid_round.as_i64(),
            proposer: self.proposer,
            value: self.value,
            valid: self.validity.is_valid(),
        }
    }
    fn from_wire(w: WireProposedValue) -> Result<Self, CodecError> {
        Ok(ProposedValue {
            height: w.height,
            round: round(w.round)?,
            valid_round: round(w.valid_round)?,
            proposer: w.proposer,
            value: w.value,
            validity: Validity::from_bool(w.valid),
        })
    }
}

fn peer_from(bytes: &[u8]) -> Result<PeerId, CodecError> {
    PeerId::from_bytes(bytes).map_err(|e| CodecError::Invalid(format!("peer id: {e}")))
}

#[derive(Serialize, Deserialize)]
struct WireStatus {
    #[serde(with = "serde_bytes")]
    peer_id: Vec<u8>,
    tip_height: Height,
    history_min_height: Height,
}

impl Wire for sync::Status<AtollContext> {
    type W = WireStatus;
    fn to_wire(&self) -> WireStatus {
        WireStatus {
            peer_id: self.peer_id.to_bytes(),
            tip_height: self.tip_height,
            history_min_height: self.history_min_height,
        }
    }
    fn from_wire(w: WireStatus) -> Result<Self, CodecError> {
        Ok(sync::Status {
            peer_id: peer_from(&w.peer_id)?,
            tip_height: w.tip_height,
            history_min_height: w.history_min_height,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireRequest {
    from: Height,
    to: Height,
}

impl Wire for sync::Request<AtollContext> {
    type W = WireRequest;
    fn to_wire(&self) -> WireRequest {
        match self {
            sync::Request::ValueRequest(r) => WireRequest {
                from: *r.range.start(),
                to: *r.range.end(),
            },
        }
    }
    fn from_wire(w: WireRequest) -> Result<Self, CodecError> {
        Ok(sync::Request::ValueRequest(
            malachitebft_sync::ValueRequest::new(w.from..=w.to),
        ))
    }
}

#[derive(Serialize, Deserialize)]
struct WireCommitSig {
    address: ValidatorAddress,
    signature: Signature,
    extension: Option<WireExtension>,
}

/// A commit certificate on the wire (also kept with decided blocks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireCommit {
    /// Height.
    pub height: Height,
    /// Round the block was decided in.
    pub round: i64,
    /// The decided block.
    pub value: BlockHash,
    /// The precommit signatures.
    pub signatures: Vec<(ValidatorAddress, Signature)>,
}

impl WireCommit {
    /// The wire form of a certificate.
    pub fn from_certificate(c: &CommitCertificate<AtollContext>) -> Self {
        Self {
            height: c.height,
            round: c.round.as_i64(),
            value: c.value_id,
            signatures: c
                .commit_signatures
                .iter()
                .map(|s| (s.address, s.signature))
                .collect(),
        }
    }

    /// The certificate.
    pub fn to_certificate(&self) -> Result<CommitCertificate<AtollContext>, CodecError> {
        Ok(CommitCertificate {
            height: self.height,
            round: round(self.round)?,
            value_id: self.value,
            commit_signatures: self
                .signatures
                .iter()
                .map(|(a, s)| CommitSignature::new(*a, *s))
                .collect(),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireExtCert {
    height: Height,
    round: i64,
    value: BlockHash,
    signatures: Vec<WireCommitSig>,
}

#[derive(Serialize, Deserialize)]
struct WireDecided {
    #[serde(with = "serde_bytes")]
    value_bytes: Vec<u8>,
    certificate: WireExtCert,
}

#[derive(Serialize, Deserialize)]
struct WireResponse {
    start_height: Height,
    values: Vec<WireDecided>,
}

fn ext_cert_to_wire(c: &ExtendedCommitCertificate<AtollContext>) -> WireExtCert {
    WireExtCert {
        height: c.height,
        round: c.round.as_i64(),
        value: c.value_id,
        signatures: c
            .commit_signatures
            .iter()
            .map(|s| WireCommitSig {
                address: s.address,
                signature: s.signature,
                extension: s.extension.as_ref().map(ext_to_wire),
            })
            .collect(),
    }
}

fn ext_cert_from_wire(
    w: WireExtCert,
) -> Result<ExtendedCommitCertificate<AtollContext>, CodecError> {
    Ok(ExtendedCommitCertificate {
        height: w.height,
        round: round(w.round)?,
        value_id: w.value,
        commit_signatures: w
            .signatures
            .into_iter()
            .map(|s| {
                ExtendedCommitSignature::new(s.address, s.signature, s.extension.map(ext_from_wire))
            })
            .collect(),
    })
}

impl Wire for sync::Response<AtollContext> {
    type W = WireResponse;
    fn to_wire(&self) -> WireResponse {
        match self {
            sync::Response::ValueResponse(r) => WireResponse {
                start_height: r.start_height,
                values: r
                    .values
                    .iter()
                    .map(|v| WireDecided {
                        value_bytes: v.value_bytes.to_vec(),
                        certificate: ext_cert_to_wire(&v.certificate),
                    })
                    .collect(),
            },
        }
    }
    fn from_wire(w: WireResponse) -> Result<Self, CodecError> {
        let values = w
            .values
            .into_iter()
            .map(|v| {
                Ok(sync::RawDecidedValue::new(
                    Bytes::from(v.value_bytes),
                    ext_cert_from_wire(v.certificate)?,
                ))
            })
            .collect::<Result<Vec<_>, CodecError>>()?;
        Ok(sync::Response::ValueResponse(
            malachitebft_sync::ValueResponse::new(w.start_height, values),
        ))
    }
}
