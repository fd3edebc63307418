//! Helper for the crash-safety test: commits versions of one namespace in a
//! loop until killed. Version `v` inserts 50 keys `v/i`, deletes the keys of
//! version `v - 2` and sets `latest` to `v`; every 7th version it finalizes
//! and prunes to the last 5 versions. See `expected_contents`.
//!
//! Usage: `mkvs-crash-writer <db-dir> [fjall|redb] [max-versions]`

use atoll_mkvs::{EngineKind, Mkvs, Options};
use atoll_types::Namespace;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: mkvs-crash-writer <db-dir> [fjall|redb] [max-versions]")?;
    let engine = match args.next().as_deref() {
        #[cfg(feature = "fjall")]
        Some("fjall") => EngineKind::Fjall,
        _ => EngineKind::Redb,
    };
    let max: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(u64::MAX);
    let db = Mkvs::open(&path, Options { engine })?;
    let ns = Namespace([0xc5; 32]);
    let mut v = db.versions(ns)?.map_or(0, |(_, latest)| latest + 1);
    while v < max {
        let mut ov = db.overlay(ns)?;
        for i in 0..50u32 {
            ov.insert(format!("{v}/{i}").as_bytes(), &v.to_be_bytes())?;
        }
        if let Some(old) = v.checked_sub(2) {
            for i in 0..50u32 {
                ov.remove(format!("{old}/{i}").as_bytes())?;
            }
        }
        ov.insert(b"latest", &v.to_be_bytes())?;
        ov.commit(v)?;
        if v % 7 == 0 {
            db.finalize(ns, v)?;
            db.prune(ns, 5)?;
        }
        v += 1;
    }
    Ok(())
}
