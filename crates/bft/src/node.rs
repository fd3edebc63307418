//! Starting Malachite's engine (consensus, WAL, libp2p network, sync) for an
//! atoll validator.

use std::path::PathBuf;

use atoll_crypto::ed25519::SigningKey;
use bytes::Bytes;
use malachitebft_app_channel::app::config::{
    ConsensusConfig, NodeConfig, P2pConfig, PubSubProtocol, ValueSyncConfig,
};
use malachitebft_app_channel::app::net::Multiaddr;
use malachitebft_app_channel::app::types::Keypair;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::{
    Channels, ConsensusContext, EngineHandle, NetworkContext, NetworkIdentity, RequestContext,
    Signer, SyncContext, WalContext, start_engine,
};

use crate::codec::CborCodec;
use crate::context::AtollContext;
use crate::error::BftError;
use crate::signing::{AtollSigner, AtollVerifier};

/// The engine's configuration (Malachite's `NodeConfig`).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// A human-readable node name.
    pub moniker: String,
    /// Consensus and its P2P network.
    pub consensus: ConsensusConfig,
    /// Value sync (catching up).
    pub value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

impl EngineConfig {
    /// A validator listening on `listen` and keeping connections to `peers`,
    /// with the broadcast pub-sub protocol (every message to every peer: right
    /// for small validator sets) and value sync on.
    pub fn new(moniker: impl Into<String>, listen: Multiaddr, peers: Vec<Multiaddr>) -> Self {
        Self {
            moniker: moniker.into(),
            consensus: ConsensusConfig {
                p2p: P2pConfig {
                    listen_addr: listen,
                    persistent_peers: peers,
                    protocol: PubSubProtocol::Broadcast,
                    ..P2pConfig::default()
                },
                ..ConsensusConfig::default()
            },
            // Peers tell each other their height every 200 ms (not every
            // 10 s), so a node that fell behind asks for what it missed at
            // once: blocks come every few hundred milliseconds, and a full
            // node (a compute node) that syncs only on a slower beat stays
            // that many heights behind the validators for good, which every
            // ParaTime round it serves then waits for. A status is a few
            // bytes per peer.
            value_sync: ValueSyncConfig {
                status_update_interval: std::time::Duration::from_millis(200),
                request_timeout: std::time::Duration::from_secs(3),
                ..ValueSyncConfig::default()
            },
        }
    }
}

/// Starts the engine of a validator with consensus key `signer` and libp2p
/// key `p2p_seed` (a separate key, tied to the validator by a signed
/// proof), writing its WAL under `wal_path`.
pub async fn start(
    ctx: AtollContext,
    config: EngineConfig,
    signer: AtollSigner,
    p2p_seed: [u8; 32],
    wal_path: PathBuf,
) -> Result<(Channels<AtollContext>, EngineHandle), BftError> {
    let mut seed = p2p_seed;
    let keypair =
        Keypair::ed25519_from_bytes(&mut seed).map_err(|e| BftError::Engine(e.to_string()))?;
    let peer_id = keypair.public().to_peer_id();
    let public_key = signer.public_key().as_ref().to_vec();
    let proof = signer
        .sign_validator_proof(public_key, peer_id.to_bytes())
        .await
        .map_err(|e| BftError::Engine(e.to_string()))?;
    let proof_bytes: Bytes = CborCodec.encode(&proof)?;
    let address = signer.address();
    let identity = NetworkIdentity::new_validator(
        config.moniker.clone(),
        keypair,
        address.to_string(),
        proof_bytes,
    );
    let verifier = AtollVerifier::new(&ctx);
    start_engine(
        ctx,
        config,
        WalContext::new(wal_path, CborCodec),
        NetworkContext::new(identity, CborCodec),
        ConsensusContext::new_validator(address, Box::new(verifier), Box::new(signer)),
        SyncContext::new(CborCodec),
        RequestContext::new(100),
    )
    .await
    .map_err(|e| BftError::Engine(format!("{e:#}")))
}

/// Starts the engine of a full node: it follows consensus, checks every
/// certificate and syncs decided blocks, but never signs. `address` names it
/// (its consensus key's address, which is not in the validator set).
pub async fn start_full(
    ctx: AtollContext,
    config: EngineConfig,
    address: crate::context::ValidatorAddress,
    p2p_seed: [u8; 32],
    wal_path: PathBuf,
) -> Result<(Channels<AtollContext>, EngineHandle), BftError> {
    let mut seed = p2p_seed;
    let keypair =
        Keypair::ed25519_from_bytes(&mut seed).map_err(|e| BftError::Engine(e.to_string()))?;
    let identity = NetworkIdentity::new(config.moniker.clone(), keypair, None);
    let verifier = AtollVerifier::new(&ctx);
    start_engine(
        ctx,
        config,
        WalContext::new(wal_path, CborCodec),
        NetworkContext::new(identity, CborCodec),
        ConsensusContext::new_full_node(address, Box::new(verifier)),
        SyncContext::new(CborCodec),
        RequestContext::new(100),
    )
    .await
    .map_err(|e| BftError::Engine(format!("{e:#}")))
}

/// The key of a signing seed (tests and tools).
pub fn signing_key(seed: [u8; 32]) -> SigningKey {
    SigningKey::from_seed(&seed)
}
