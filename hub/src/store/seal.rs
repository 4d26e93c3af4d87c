//! Sealing what the store holds about a person (issue "under attack": personal data at rest): journeys,
//! hub sessions and the grants behind codes and access tokens are encrypted with an AEAD key only the
//! hub holds (XChaCha20-Poly1305: 192-bit random nonces, safe at any volume), so a Redis dump, replica
//! or `MONITOR` shows nothing personal. The envelope names its key, so keys rotate: the newest key
//! seals, every key still configured opens.
//!
//! Envelope: `s1.<key id>.` then nonce (24 bytes) and ciphertext with tag, base64url. The store key is
//! bound in as associated data, so a sealed value cannot be moved to another key.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    XChaCha20Poly1305, XNonce,
};
use rand::RngCore;
use std::{collections::BTreeMap, path::Path};

/// A sealing failure; decoding failures read as a corrupt (unusable) value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SealError {
    #[error("sealing key {0}: {1}")]
    Key(String, String),
    #[error("sealed value unusable: {0}")]
    Open(&'static str),
}

/// The hub's sealing keys: the current one seals, all open.
#[derive(Clone)]
pub struct Sealer {
    current: String,
    keys: BTreeMap<String, XChaCha20Poly1305>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("current", &self.current)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

const PREFIX: &str = "s1.";

/// A key id as a number: decimal digits without a leading zero (so `10` is newer than `9`, and one key
/// has one spelling in envelopes).
fn key_number(id: &str) -> Option<u64> {
    let canonical = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && (id == "0" || !id.starts_with('0'));
    if canonical {
        id.parse().ok()
    } else {
        None
    }
}

impl Sealer {
    /// A sealer from `(key id, 32-byte key)` pairs; the numerically greatest key id seals (`seal-10` after
    /// `seal-9`). An id that is not a decimal number without leading zeros is refused, as are duplicates.
    pub fn new(keys: Vec<(String, [u8; 32])>) -> Result<Self, SealError> {
        let mut map = BTreeMap::new();
        let mut newest: Option<(u64, String)> = None;
        for (id, key) in keys {
            let Some(number) = key_number(&id) else {
                return Err(SealError::Key(
                    id,
                    "a key id is a decimal number without leading zeros".into(),
                ));
            };
            if map.insert(id.clone(), XChaCha20Poly1305::new(&key.into())).is_some() {
                return Err(SealError::Key(id, "two keys have this id".into()));
            }
            if newest.as_ref().is_none_or(|(n, _)| number > *n) {
                newest = Some((number, id));
            }
        }
        let (_, current) = newest.ok_or_else(|| SealError::Key(String::new(), "no sealing key".into()))?;
        Ok(Self { current, keys: map })
    }

    /// A sealer with one fresh random key (tests, and the memory store of a development hub).
    pub fn ephemeral() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self {
            current: "ephemeral".into(),
            keys: BTreeMap::from([("ephemeral".to_string(), XChaCha20Poly1305::new(&key.into()))]),
        }
    }

    /// Loads every `seal-<id>.key` file of `dir` (32 bytes, base64url; `<id>` a decimal number, else
    /// start-up fails), generating `seal-1.key` when there is none (development start-up). Rotation: add a
    /// key with a greater number; remove the old one once every value it sealed has expired (a hub
    /// session's absolute lifetime).
    pub fn load_or_generate(dir: &Path) -> Result<Self, SealError> {
        let fail = |id: &str, e: String| SealError::Key(id.to_string(), e);
        let mut keys = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                let Some(id) = name.strip_prefix("seal-").and_then(|n| n.strip_suffix(".key")) else {
                    continue;
                };
                let text = std::fs::read_to_string(entry.path()).map_err(|e| fail(id, e.to_string()))?;
                let bytes = URL_SAFE_NO_PAD
                    .decode(text.trim())
                    .map_err(|_| fail(id, "not base64url".into()))?;
                let key: [u8; 32] = bytes.try_into().map_err(|_| fail(id, "not 32 bytes".into()))?;
                keys.push((id.to_string(), key));
            }
        }
        if keys.is_empty() {
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            std::fs::create_dir_all(dir).map_err(|e| fail("1", e.to_string()))?;
            keys::write_private(&dir.join("seal-1.key"), URL_SAFE_NO_PAD.encode(key).as_bytes())
                .map_err(|e| fail("1", e.to_string()))?;
            keys.push(("1".into(), key));
        }
        Self::new(keys)
    }

    /// The id of the key that seals.
    pub fn current(&self) -> &str {
        &self.current
    }

    /// Seals `plain` for the store key `aad`.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let cipher = self.keys.get(&self.current).ok_or(SealError::Open("no current key"))?;
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SealError::Open("encryption failed"))?;
        let mut body = Vec::with_capacity(24 + sealed.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}.{}", self.current, URL_SAFE_NO_PAD.encode(body)).into_bytes())
    }

    /// Opens a value sealed for the store key `aad` by any configured key.
    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let text = std::str::from_utf8(sealed).map_err(|_| SealError::Open("not an envelope"))?;
        let rest = text.strip_prefix(PREFIX).ok_or(SealError::Open("not an envelope"))?;
        let (id, body) = rest.split_once('.').ok_or(SealError::Open("not an envelope"))?;
        let cipher = self
            .keys
            .get(id)
            .ok_or(SealError::Open("sealed by a key no longer configured"))?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Open("not base64url"))?;
        if body.len() < 24 + 16 {
            return Err(SealError::Open("too short"));
        }
        let (nonce, ciphertext) = body.split_at(24);
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SealError::Open("does not open"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_their_key_and_store_key_only() {
        let old = Sealer::new(vec![("1".into(), [1; 32])]).unwrap();
        let sealed = old.seal("journey:a", b"Alex Morgan, 1990-04-12").unwrap();
        let text = String::from_utf8(sealed.clone()).unwrap();
        assert!(text.starts_with("s1.1."), "{text}");
        assert!(!text.contains("Alex"));
        assert_eq!(old.open("journey:a", &sealed).unwrap(), b"Alex Morgan, 1990-04-12");
        assert!(old.open("journey:b", &sealed).is_err(), "bound to its store key");
        let mut flipped = sealed.clone();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert!(old.open("journey:a", &flipped).is_err(), "tampering is detected");

        // Rotation: the newer key seals, both open.
        let rotated = Sealer::new(vec![("1".into(), [1; 32]), ("2".into(), [2; 32])]).unwrap();
        assert_eq!(rotated.current(), "2");
        assert!(rotated.open("journey:a", &sealed).is_ok());
        let new = rotated.seal("k", b"x").unwrap();
        assert!(new.starts_with(b"s1.2."));
        assert!(
            old.open("k", &new).is_err(),
            "a retired key's hub cannot open the new one"
        );
        assert_ne!(rotated.seal("k", b"x").unwrap(), new, "fresh nonce each time");
    }

    #[test]
    fn the_numerically_newest_key_seals_and_every_older_one_still_opens() {
        let (two, nine, ten) = (
            ("2".to_string(), [2; 32]),
            ("9".to_string(), [9; 32]),
            ("10".to_string(), [10; 32]),
        );
        let before = Sealer::new(vec![two.clone(), nine.clone()]).unwrap();
        assert_eq!(before.current(), "9");
        let under_nine = before.seal("k", b"v9").unwrap();
        assert!(under_nine.starts_with(b"s1.9."));
        let under_two = Sealer::new(vec![two.clone()]).unwrap().seal("k", b"v2").unwrap();
        // `seal-10` added: 10 > 9 as numbers, though "10" < "9" as strings; the order given does not matter.
        for keys in [
            vec![two.clone(), nine.clone(), ten.clone()],
            vec![ten.clone(), nine.clone(), two.clone()],
        ] {
            let after = Sealer::new(keys).unwrap();
            assert_eq!(after.current(), "10");
            assert!(after.seal("k", b"x").unwrap().starts_with(b"s1.10."));
            assert_eq!(after.open("k", &under_nine).unwrap(), b"v9");
            assert_eq!(after.open("k", &under_two).unwrap(), b"v2");
        }
        // Ids that are not plain decimal numbers, or given twice, are refused.
        for bad in ["", "a", "seal", "09", "1.0", "-1", "99999999999999999999"] {
            assert!(Sealer::new(vec![(bad.into(), [1; 32])]).is_err(), "{bad:?}");
        }
        assert!(Sealer::new(vec![nine.clone(), nine]).is_err());
        assert!(Sealer::new(Vec::new()).is_err());
    }

    #[test]
    fn keys_load_from_files_and_are_made_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let first = Sealer::load_or_generate(dir.path()).unwrap();
        assert_eq!(first.current(), "1");
        let again = Sealer::load_or_generate(dir.path()).unwrap();
        let sealed = first.seal("k", b"v").unwrap();
        assert_eq!(again.open("k", &sealed).unwrap(), b"v");
        let sealed_under_one = sealed;
        for id in 2..=10 {
            std::fs::write(
                dir.path().join(format!("seal-{id}.key")),
                URL_SAFE_NO_PAD.encode([id; 32]),
            )
            .unwrap();
        }
        let rotated = Sealer::load_or_generate(dir.path()).unwrap();
        assert_eq!(rotated.current(), "10", "seal-10.key seals after seal-9.key");
        assert_eq!(rotated.open("k", &sealed_under_one).unwrap(), b"v");
        std::fs::write(dir.path().join("seal-old.key"), URL_SAFE_NO_PAD.encode([0; 32])).unwrap();
        assert!(
            Sealer::load_or_generate(dir.path()).is_err(),
            "a non-numeric id is refused"
        );
        std::fs::remove_file(dir.path().join("seal-old.key")).unwrap();
        std::fs::write(dir.path().join("seal-2.key"), "short").unwrap();
        assert!(Sealer::load_or_generate(dir.path()).is_err());
    }
}
