//! The bodies of atoll's fuzz targets: one function for each decoder that
//! bytes from a peer or a client reach.
//!
//! Every target takes arbitrary bytes, must never panic on them, and checks
//! what its decoder promises: that whatever it accepts survives a round trip,
//! that a fast path and the general path agree, that a hostile transaction
//! applied in a decided block fails alone instead of stopping the chain. A
//! target reports a broken promise by panicking, which is how both libFuzzer
//! and the smoke test see it.
//!
//! Two things drive them:
//! - the libFuzzer binaries of the `fuzz/` workspace (`cargo xtask fuzz
//!   <target>`, `cargo xtask fuzz-all --seconds N`), each a one-line call
//!   into [`TARGETS`];
//! - `tests/smoke.rs`, part of `cargo xtask test`, which runs each target
//!   over its seeds and a bounded number of deterministic mutations of them
//!   ([`Mutator`]), so a decoder change that breaks a promise fails the test
//!   suite without libFuzzer.
//!
//! ```
//! let t = atoll_fuzz_targets::target("host_frame").expect("a target");
//! for seed in (t.seeds)() {
//!     (t.run)(&seed);
//! }
//! ```

#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a fuzz target reports a broken promise by panicking; its fixed setup \
              (a genesis, a key) failing is a bug in the target, said loudly"
)]

mod bft;
mod consensus;
mod crypto;
mod edge;
mod mutate;
mod paratime;
mod storage;

pub use mutate::Mutator;

/// One fuzz target.
#[derive(Clone, Copy)]
pub struct Target {
    /// The name of its libFuzzer binary in `fuzz/fuzz_targets/`.
    pub name: &'static str,
    /// What it feeds, in a few words.
    pub feeds: &'static str,
    /// Runs the target on one input.
    pub run: fn(&[u8]),
    /// Valid inputs made by the real encoders, to start mutating from.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

/// Every target, in the order `cargo xtask fuzz-all` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "cbor_envelope",
        feeds: "the envelope fast path consensus decodes every transaction with, against the general canonical decoder",
        run: consensus::cbor_envelope,
        seeds: consensus::envelope_seeds,
    },
    Target {
        name: "signed_transaction",
        feeds: "the strict CBOR decoder with a consensus SignedTransaction, then signature verification",
        run: consensus::signed_transaction,
        seeds: consensus::envelope_seeds,
    },
    Target {
        name: "consensus_tx",
        feeds: "a signed consensus transaction with an arbitrary body through check_tx and apply_block",
        run: consensus::consensus_tx,
        seeds: consensus::tx_body_seeds,
    },
    Target {
        name: "bft_codec",
        feeds: "Malachite's network, WAL and sync messages (proposal parts, votes, streams, sync) through atoll's codec",
        run: bft::bft_codec,
        seeds: bft::seeds,
    },
    Target {
        name: "eth_transaction",
        feeds: "raw Ethereum transactions (legacy, EIP-155, EIP-2930, EIP-1559 RLP) and sender recovery",
        run: paratime::eth_transaction,
        seeds: paratime::eth_seeds,
    },
    Target {
        name: "host_frame",
        feeds: "runtime host protocol frames (length header and CBOR message)",
        run: paratime::host_frame,
        seeds: paratime::frame_seeds,
    },
    Target {
        name: "compute_gossip",
        feeds: "compute gossip messages (transaction batches, signed batch proposals)",
        run: paratime::compute_gossip,
        seeds: paratime::gossip_seeds,
    },
    Target {
        name: "checkpoint_chunk",
        feeds: "MKVS checkpoint metadata and chunks as fetched from storage peers",
        run: storage::checkpoint_chunk,
        seeds: storage::checkpoint_seeds,
    },
    Target {
        name: "mkvs_proof",
        feeds: "MKVS read proofs, decoded and verified against a root",
        run: storage::mkvs_proof,
        seeds: storage::proof_seeds,
    },
    Target {
        name: "json_rpc_params",
        feeds: "Ethereum JSON-RPC parameters (call requests, filters, block ids, quantities, data)",
        run: edge::json_rpc_params,
        seeds: edge::seeds,
    },
    Target {
        name: "address_parse",
        feeds: "Bech32 addresses, EIP-55 Ethereum addresses, base64 and raw public keys",
        run: crypto::address_parse,
        seeds: crypto::seeds,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
