//! Ed25519 signatures over domain-separated contexts.
//!
//! Verification follows ZIP-215 (via `ed25519-zebra`): it is the one rule
//! for which single and batch verification provably agree on every input,
//! which a consensus protocol needs (a block whose signatures pass batch
//! verification on one validator must pass single verification on another).
//! atoll therefore departs from Oasis ADR 0009's cofactored-but-strict rule;
//! see `docs/ARCHITECTURE.md`.
//!
//! Messages are never signed raw: a signer signs `SHA-512/256(context ||
//! message)` (see [`crate::context`]), exactly as Oasis does.
//!
//! ```
//! use atoll_crypto::context::Context;
//! use atoll_crypto::ed25519::SigningKey;
//!
//! let key = SigningKey::from_seed(&[7; 32]);
//! let ctx = Context::new("atoll/example: greeting")?;
//! let sig = key.sign(&ctx, b"hello");
//! key.public_key().verify(&ctx, b"hello", &sig)?;
//! assert!(key.public_key().verify(&Context::new("atoll/example: other")?, b"hello", &sig).is_err());
//! # Ok::<(), atoll_crypto::CryptoError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_zebra::{VerificationKey, VerificationKeyBytes};
use zeroize::Zeroize;

use crate::context::Context;
use crate::error::CryptoError;

/// Size of a public key in bytes.
pub const PUBLIC_KEY_SIZE: usize = 32;
/// Size of a signature in bytes.
pub const SIGNATURE_SIZE: usize = 64;
/// Size of a secret seed in bytes.
pub const SEED_SIZE: usize = 32;

const SCHEME: &str = "ed25519";

/// An Ed25519 public key: 32 bytes that decode to a curve point.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey([u8; PUBLIC_KEY_SIZE]);

/// Keys recently found to decode to a curve point. Decoding (a square root
/// in the field) costs about a third of a verification, and the same keys
/// are parsed again and again (every transaction of an account, in the
/// mempool, in proposals and in blocks). The answer depends only on the 32
/// bytes, so remembering it changes no outcome.
struct PointCache {
    set: std::collections::BTreeSet<[u8; PUBLIC_KEY_SIZE]>,
    order: std::collections::VecDeque<[u8; PUBLIC_KEY_SIZE]>,
}

const POINT_CACHE: usize = 65_536;

fn point_cache() -> &'static std::sync::Mutex<PointCache> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<PointCache>> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| {
        std::sync::Mutex::new(PointCache {
            set: std::collections::BTreeSet::new(),
            order: std::collections::VecDeque::new(),
        })
    })
}

fn decodes_to_point(bytes: &[u8; PUBLIC_KEY_SIZE]) -> bool {
    if point_cache().lock().is_ok_and(|c| c.set.contains(bytes)) {
        return true;
    }
    if VerificationKey::try_from(*bytes).is_err() {
        return false;
    }
    if let Ok(mut c) = point_cache().lock()
        && c.set.insert(*bytes)
    {
        c.order.push_back(*bytes);
        while c.order.len() > POINT_CACHE {
            if let Some(old) = c.order.pop_front() {
                c.set.remove(&old);
            }
        }
    }
    true
}

impl PublicKey {
    /// Parses a public key. The bytes must be 32 long and encode a point on
    /// the curve (ZIP-215 decoding); anything else is a typed error.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; PUBLIC_KEY_SIZE] = crate::error::fixed(bytes, "ed25519 public key")?;
        if !decodes_to_point(&arr) {
            return Err(CryptoError::MalformedPublicKey { scheme: SCHEME });
        }
        Ok(Self(arr))
    }

    /// The raw 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; PUBLIC_KEY_SIZE] {
        &self.0
    }

    /// Verifies `sig` over `message` in `ctx`.
    pub fn verify(
        &self,
        ctx: &Context,
        message: &[u8],
        sig: &Signature,
    ) -> Result<(), CryptoError> {
        self.verify_raw(&ctx.digest(message), sig)
    }

    /// Verifies a signature over exactly `message`, with no context.
    ///
    /// Only for foreign formats that fix their own signing payload (such as the
    /// consensus engine's votes); everything atoll defines uses [`Self::verify`].
    pub fn verify_raw(&self, message: &[u8], sig: &Signature) -> Result<(), CryptoError> {
        let vk = VerificationKey::try_from(self.0)
            .map_err(|_| CryptoError::MalformedPublicKey { scheme: SCHEME })?;
        vk.verify(&ed25519_zebra::Signature::from_bytes(&sig.0), message)
            .map_err(|_| CryptoError::VerificationFailed { scheme: SCHEME })
    }

    /// Standard base64 of the 32 bytes (the form Oasis tools print).
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// Parses the base64 form.
    pub fn from_base64(s: &str) -> Result<Self, CryptoError> {
        let bytes = B64.decode(s).map_err(|_| CryptoError::InvalidBase64 {
            what: "ed25519 public key",
        })?;
        Self::from_slice(&bytes)
    }
}

impl AsRef<[u8]> for PublicKey {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519::PublicKey({})", self.to_base64())
    }
}

impl FromStr for PublicKey {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_base64(s)
    }
}

serde_bytes_impl!(
    PublicKey,
    "ed25519 public key",
    PublicKey::from_slice,
    PublicKey::to_base64,
    PublicKey::from_base64
);

/// An Ed25519 signature (R || s), 64 bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signature([u8; SIGNATURE_SIZE]);

impl Signature {
    /// Parses a signature; only the length is checked here (the encoding of
    /// `R` and the range of `s` are checked by verification).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; SIGNATURE_SIZE] = crate::error::fixed(bytes, "ed25519 signature")?;
        Ok(Self(arr))
    }

    /// The raw 64 bytes.
    pub const fn as_bytes(&self) -> &[u8; SIGNATURE_SIZE] {
        &self.0
    }

    /// Standard base64 of the 64 bytes.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// Parses the base64 form.
    pub fn from_base64(s: &str) -> Result<Self, CryptoError> {
        let bytes = B64.decode(s).map_err(|_| CryptoError::InvalidBase64 {
            what: "ed25519 signature",
        })?;
        Self::from_slice(&bytes)
    }
}

impl AsRef<[u8]> for Signature {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519::Signature({})", self.to_base64())
    }
}

serde_bytes_impl!(
    Signature,
    "ed25519 signature",
    Signature::from_slice,
    Signature::to_base64,
    Signature::from_base64
);

/// An Ed25519 signing key. Its secret is wiped from memory when dropped and
/// never printed.
#[derive(Clone)]
pub struct SigningKey {
    inner: ed25519_zebra::SigningKey,
    public: PublicKey,
}

impl SigningKey {
    /// The key whose RFC 8032 secret seed is `seed`.
    pub fn from_seed(seed: &[u8; SEED_SIZE]) -> Self {
        let inner = ed25519_zebra::SigningKey::from(*seed);
        let public = PublicKey(VerificationKey::from(&inner).into());
        Self { inner, public }
    }

    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Self {
        let mut seed = [0u8; SEED_SIZE];
        crate::fill_random(&mut seed);
        let key = Self::from_seed(&seed);
        seed.zeroize();
        key
    }

    /// The secret seed (for storing the key; handle with care).
    pub fn seed(&self) -> [u8; SEED_SIZE] {
        self.inner.to_bytes()
    }

    /// The matching public key.
    pub const fn public_key(&self) -> PublicKey {
        self.public
    }

    /// Signs `message` in `ctx`: an Ed25519 signature over `SHA-512/256(ctx || message)`.
    pub fn sign(&self, ctx: &Context, message: &[u8]) -> Signature {
        self.sign_raw(&ctx.digest(message))
    }

    /// Signs exactly `message`, with no context (see [`PublicKey::verify_raw`]).
    pub fn sign_raw(&self, message: &[u8]) -> Signature {
        Signature(self.inner.sign(message).to_bytes())
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        self.inner.zeroize();
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ed25519::SigningKey(public: {})",
            self.public.to_base64()
        )
    }
}

/// Verifies many signatures at once, about twice as fast as one by one.
///
/// The batch passes only if every queued signature is valid under the same
/// ZIP-215 rule that [`PublicKey::verify`] applies. On failure,
/// [`BatchVerifier::verify_each`] tells which entries are bad.
#[derive(Default)]
pub struct BatchVerifier {
    items: Vec<ed25519_zebra::batch::Item>,
}

impl BatchVerifier {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `n` signatures.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            items: Vec::with_capacity(n),
        }
    }

    /// Queues `sig` over `message` in `ctx` by `pk`.
    pub fn queue(&mut self, pk: &PublicKey, ctx: &Context, message: &[u8], sig: &Signature) {
        self.queue_raw(pk, &ctx.digest(message), sig);
    }

    /// Queues a signature over exactly `message` (see [`PublicKey::verify_raw`]).
    pub fn queue_raw(&mut self, pk: &PublicKey, message: &[u8], sig: &Signature) {
        let vk = VerificationKeyBytes::from(pk.0);
        let sig = ed25519_zebra::Signature::from_bytes(&sig.0);
        self.items.push((vk, sig, message).into());
    }

    /// Number of queued signatures.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Checks every queued signature together. The random coefficients only
    /// affect how fast a bad batch is caught, never whether a valid batch passes.
    pub fn verify(self) -> Result<(), CryptoError> {
        let mut batch = ed25519_zebra::batch::Verifier::new();
        for item in self.items {
            batch.queue(item);
        }
        batch
            .verify(rand::rng())
            .map_err(|_| CryptoError::BatchVerificationFailed)
    }

    /// Checks every queued signature on its own; the result for entry `i` is
    /// at index `i`. Use it to find the culprits after a failed [`Self::verify`].
    pub fn verify_each(self) -> Vec<Result<(), CryptoError>> {
        self.items
            .into_iter()
            .map(|item| {
                item.verify_single()
                    .map_err(|_| CryptoError::VerificationFailed { scheme: SCHEME })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ChainContext;
    use crate::hash::Hash;

    fn ctx(chain: &str) -> Context {
        Context::for_chain(
            "oasis-core/consensus: tx",
            &ChainContext::new(chain).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 section 7.1, TEST 1 (empty message), signed raw.
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let key = SigningKey::from_seed(&seed);
        assert_eq!(
            hex::encode(key.public_key().as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = key.sign_raw(b"");
        assert_eq!(
            hex::encode(sig.as_bytes()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        key.public_key().verify_raw(b"", &sig).unwrap();
    }

    #[test]
    fn signature_is_over_context_prehash() {
        let key = SigningKey::from_seed(&[1; 32]);
        let c = ctx("aa");
        let sig = key.sign(&c, b"body");
        let digest = Hash::digest(b"oasis-core/consensus: tx for chain aabody");
        key.public_key()
            .verify_raw(digest.as_bytes(), &sig)
            .unwrap();
    }

    #[test]
    fn other_context_or_chain_fails() {
        let key = SigningKey::from_seed(&[2; 32]);
        let sig = key.sign(&ctx("aa"), b"body");
        let pk = key.public_key();
        pk.verify(&ctx("aa"), b"body", &sig).unwrap();
        assert_eq!(
            pk.verify(&ctx("bb"), b"body", &sig),
            Err(CryptoError::VerificationFailed { scheme: "ed25519" })
        );
        let other = Context::for_chain(
            "oasis-core/registry: node",
            &ChainContext::new("aa").unwrap(),
        )
        .unwrap();
        assert!(pk.verify(&other, b"body", &sig).is_err());
        assert!(pk.verify(&ctx("aa"), b"bodY", &sig).is_err());
    }

    #[test]
    fn batch_agrees_with_single() {
        let c = ctx("cc");
        let keys: Vec<_> = (0..16u8).map(|i| SigningKey::from_seed(&[i; 32])).collect();
        let msgs: Vec<Vec<u8>> = (0..16u8).map(|i| vec![i; usize::from(i)]).collect();
        let mut good = BatchVerifier::new();
        for (k, m) in keys.iter().zip(&msgs) {
            good.queue(&k.public_key(), &c, m, &k.sign(&c, m));
        }
        assert_eq!(good.len(), 16);
        good.verify().unwrap();

        let mut bad = BatchVerifier::new();
        for (i, (k, m)) in keys.iter().zip(&msgs).enumerate() {
            let mut sig = k.sign(&c, m);
            if i == 5 {
                sig.0[3] ^= 1;
            }
            bad.queue(&k.public_key(), &c, m, &sig);
        }
        let mut bad2 = BatchVerifier::new();
        for (i, (k, m)) in keys.iter().zip(&msgs).enumerate() {
            let mut sig = k.sign(&c, m);
            if i == 5 {
                sig.0[3] ^= 1;
            }
            bad2.queue(&k.public_key(), &c, m, &sig);
        }
        assert_eq!(bad.verify(), Err(CryptoError::BatchVerificationFailed));
        let each = bad2.verify_each();
        assert!(each.iter().enumerate().all(|(i, r)| r.is_ok() == (i != 5)));
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        assert!(matches!(
            PublicKey::from_slice(&[0; 31]),
            Err(CryptoError::InvalidLength { got: 31, .. })
        ));
        // y = 2 is not on the curve.
        let mut not_point = [0u8; 32];
        not_point[0] = 2;
        assert_eq!(
            PublicKey::from_slice(&not_point),
            Err(CryptoError::MalformedPublicKey { scheme: "ed25519" })
        );
        assert!(matches!(
            Signature::from_slice(&[0; 65]),
            Err(CryptoError::InvalidLength { got: 65, .. })
        ));
        assert!(PublicKey::from_base64("not base64!").is_err());
        // A signature with s >= l is rejected, not accepted modulo l.
        let key = SigningKey::from_seed(&[3; 32]);
        let mut sig = key.sign_raw(b"m");
        sig.0[63] |= 0xf0;
        assert!(key.public_key().verify_raw(b"m", &sig).is_err());
    }

    #[test]
    fn serde_forms() {
        let key = SigningKey::from_seed(&[4; 32]);
        let pk = key.public_key();
        let json = serde_json::to_string(&pk).unwrap();
        assert_eq!(json, format!("\"{}\"", pk.to_base64()));
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), pk);
        assert!(serde_json::from_str::<PublicKey>("\"AAAA\"").is_err());
        assert!(format!("{key:?}").contains(&pk.to_base64()));
    }
}
