//! `atoll genesis check` run as a real process on files.

use std::process::Command;

fn atoll(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(crate::common::atoll())
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn valid_document() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "g.json",
        r#"{"chain_id": "devnet", "debug": true}"#,
    );
    let (code, out, _) = atoll(&["genesis", "check", &f]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("valid genesis document"));
    assert!(out.contains("DEBUG NETWORK"));
    let (code, out, _) = atoll(&["genesis", "check", &f, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["chain_context"].as_str().unwrap().len(), 64);
}

#[test]
fn problems_are_explained_with_a_failing_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "g.json",
        r#"{"chain_id": "mainnet", "staking": {"total_supply": "7"}}"#,
    );
    let (code, out, _) = atoll(&["genesis", "check", &f]);
    assert_eq!(code, 1);
    assert!(out.contains("beacon.backend"), "{out}");
    assert!(out.contains("set total_supply to 0"), "{out}");
}

#[test]
fn unreadable_or_malformed_files() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = atoll(&["genesis", "check", "/nonexistent/genesis.json"]);
    assert_ne!(code, 0);
    assert!(err.contains("cannot read"), "{err}");
    let f = write(dir.path(), "bad.json", "{ not json");
    let (code, _, err) = atoll(&["genesis", "check", &f]);
    assert_ne!(code, 0);
    assert!(err.contains("is not a genesis document"), "{err}");
}

/// A document for a real network (VRF beacon, not debug) that says nothing
/// of fees gets a minimum gas price and a block gas limit; one that sets
/// them to zero is valid but warned about; a debug network is not.
#[test]
fn free_or_unbounded_blocks_are_warned_about_on_real_networks() {
    let dir = tempfile::tempdir().unwrap();
    let real = r#""chain_id": "mainnet", "beacon": {"interval": 100, "backend": "vrf"}"#;
    let omitted = write(dir.path(), "omitted.json", &format!("{{{real}}}"));
    let (code, out, _) = atoll(&["genesis", "check", &omitted, "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true, "{out}");
    assert_eq!(v["warnings"].as_array().unwrap().len(), 0, "{out}");

    let zero = write(
        dir.path(),
        "zero.json",
        &format!(
            r#"{{{real}, "consensus": {{"max_tx_size": 32768, "max_block_size": 4194304, "min_gas_price": "0", "max_block_gas": 0}}}}"#
        ),
    );
    let (code, out, _) = atoll(&["genesis", "check", &zero]);
    assert_eq!(code, 0, "warnings alone do not fail the check: {out}");
    assert!(out.contains("valid genesis document"), "{out}");
    assert!(out.contains("warning: consensus.min_gas_price"), "{out}");
    assert!(out.contains("warning: consensus.max_block_gas"), "{out}");

    let debug = write(
        dir.path(),
        "debug.json",
        r#"{"chain_id": "devnet", "debug": true}"#,
    );
    let (code, out, _) = atoll(&["genesis", "check", &debug]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("warning"), "{out}");
}

/// ParaTime geneses beside the document (`runtimes/*.cbor`, as `atoll
/// localnet` lays them out): two EVM ParaTimes with one chain id are a
/// problem (a transaction signed for one could be replayed on the other).
#[test]
fn evm_paratimes_need_their_own_chain_ids() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "g.json",
        r#"{"chain_id": "devnet", "debug": true}"#,
    );
    let runtimes = dir.path().join("runtimes");
    std::fs::create_dir(&runtimes).unwrap();
    let evm = |id: u64| {
        atoll_types::cbor::to_vec(&atoll_runtime_evm::localnet_genesis(id, &[]).unwrap()).unwrap()
    };
    std::fs::write(runtimes.join("a.cbor"), evm(7)).unwrap();
    std::fs::write(runtimes.join("b.cbor"), evm(8)).unwrap();
    // Not a runtime genesis: ignored.
    std::fs::write(runtimes.join("notes.cbor"), b"hello").unwrap();
    let (code, out, _) = atoll(&["genesis", "check", &f]);
    assert_eq!(code, 0, "{out}");
    std::fs::write(runtimes.join("c.cbor"), evm(7)).unwrap();
    let (code, out, _) = atoll(&["genesis", "check", &f]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("EVM chain id 7 is set by"), "{out}");
    assert!(out.contains("a.cbor") && out.contains("c.cbor"), "{out}");
}
