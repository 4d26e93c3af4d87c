//! Key rotation without downtime (INTERFACE.md §7): one role's keys (ID token signing, identity
//! credentials, client assertions to providers) as a ring of files in one directory, each with the time
//! it starts signing. `<name>.pem` signs from the beginning; `<name>@<unix seconds>.pem` from that time.
//!
//! Which key signs and which are published is a pure function of the files and `now`, so every instance
//! of a deployment reading the same files agrees without talking to the others. A new key is published
//! as soon as its file exists and signs from its time ([`rotate`] sets that time a cache period ahead);
//! a retired key stays published until every token it signed has expired (`retain`), then drops out.

use crate::{KeyError, SigningKey};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

/// The default delay between publishing a key and its first signature: one day, the JWKS cache period
/// (INTERFACE.md §1, §7).
pub const DEFAULT_PUBLISH_SECS: i64 = 86_400;

/// One key of a ring and the time it starts signing.
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub key: Arc<SigningKey>,
    /// Unix seconds from which this key signs (0: from the beginning).
    pub activates: i64,
    pub path: PathBuf,
}

/// Where a key of a ring stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not yet signing.
    Next,
    /// The key that signs.
    Active,
    /// No longer signing, still published while tokens it signed may be alive.
    Retired,
    /// No longer published: every token it signed has expired. Its file may be removed.
    Expired,
}

impl KeyState {
    /// The state's name, for listings.
    pub fn name(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
            Self::Expired => "expired",
        }
    }
}

/// One role's keys, ordered by the time each starts signing.
#[derive(Debug, Clone)]
pub struct KeyRing {
    name: String,
    keys: Vec<Scheduled>,
}

/// The activation time a ring file's name gives, if it is a file of the ring `name`.
fn activation_of(file_name: &str, name: &str) -> Option<i64> {
    let rest = file_name.strip_prefix(name)?.strip_suffix(".pem")?;
    if rest.is_empty() {
        return Some(0);
    }
    rest.strip_prefix('@')?.parse::<i64>().ok().filter(|t| *t > 0)
}

/// The file of ring `name` whose key signs from `activates`.
pub fn file_name(name: &str, activates: i64) -> String {
    if activates <= 0 {
        format!("{name}.pem")
    } else {
        format!("{name}@{activates}.pem")
    }
}

impl KeyRing {
    /// A ring of keys already loaded (tests, and the files' loader).
    pub fn new(name: &str, mut keys: Vec<Scheduled>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::InvalidKey(format!("key ring {name} has no key")));
        }
        keys.sort_by_key(|k| k.activates);
        let alg = keys[0].key.alg();
        if let Some(other) = keys.iter().find(|k| k.key.alg() != alg) {
            return Err(KeyError::InvalidKey(format!(
                "key ring {name}: {} is {} where the ring is {alg}",
                other.path.display(),
                other.key.alg()
            )));
        }
        Ok(Self {
            name: name.to_string(),
            keys,
        })
    }

    /// Reads every key file of ring `name` in `dir`.
    pub fn load(dir: &Path, name: &str) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut keys = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let file = entry.file_name();
            let Some(activates) = file.to_str().and_then(|f| activation_of(f, name)) else {
                continue;
            };
            let path = entry.path();
            keys.push(Scheduled {
                key: Arc::new(SigningKey::load(&path)?),
                activates,
                path,
            });
        }
        Self::new(name, keys)
    }

    /// Reads ring `name` in `dir`, first making `<name>.pem` with `generate` when the ring has no file
    /// (development start-up; production keys are made with `keys generate` and `keys rotate`).
    pub fn load_or_generate(
        dir: &Path,
        name: &str,
        generate: impl FnOnce() -> Result<SigningKey, KeyError>,
    ) -> Result<Self, KeyError> {
        let any = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_str().and_then(|f| activation_of(f, name)).is_some())
            })
            .unwrap_or(false);
        if !any {
            generate()?.write_pem(&dir.join(file_name(name, 0)))?;
        }
        Self::load(dir, name)
    }

    /// The ring's name (its files' stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key that signs at `now`: the latest whose time has come (the earliest, if none has yet).
    pub fn active(&self, now: i64) -> &Arc<SigningKey> {
        let at = self.keys.iter().rposition(|k| k.activates <= now).unwrap_or(0);
        &self.keys[at].key
    }

    /// Where each key stands at `now`, given that a token lives at most `retain` seconds after it was
    /// signed.
    pub fn states(&self, now: i64, retain: i64) -> Vec<(&Scheduled, KeyState)> {
        let active = self.keys.iter().rposition(|k| k.activates <= now).unwrap_or(0);
        self.keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let state = match i.cmp(&active) {
                    std::cmp::Ordering::Greater => KeyState::Next,
                    std::cmp::Ordering::Equal => KeyState::Active,
                    // Retired when its successor started; published until the last token it signed expired.
                    std::cmp::Ordering::Less if self.keys[i + 1].activates + retain > now => KeyState::Retired,
                    std::cmp::Ordering::Less => KeyState::Expired,
                };
                (k, state)
            })
            .collect()
    }

    /// The keys to publish at `now`: the next ones, the active one, and the retired ones whose tokens may
    /// still be alive; the active key first.
    pub fn published(&self, now: i64, retain: i64) -> Vec<&SigningKey> {
        let mut out: Vec<&SigningKey> = Vec::new();
        let states = self.states(now, retain);
        for wanted in [KeyState::Active, KeyState::Next, KeyState::Retired] {
            out.extend(states.iter().filter(|(_, s)| *s == wanted).map(|(k, _)| k.key.as_ref()));
        }
        out
    }

    /// Every key of the ring, whatever its state (to verify the ring's own tokens, such as an
    /// `id_token_hint`, which may be presented long after they expired).
    pub fn all(&self) -> impl Iterator<Item = &SigningKey> {
        self.keys.iter().map(|k| k.key.as_ref())
    }

    /// The next time the published set or the active key changes after `now`, if one is scheduled.
    pub fn next_change(&self, now: i64, retain: i64) -> Option<i64> {
        let starts = self.keys.iter().map(|k| k.activates);
        let drops = self.keys.windows(2).map(|w| w[1].activates + retain);
        starts.chain(drops).filter(|t| *t > now).min()
    }
}

/// Makes a new key for ring `name` in `dir` (the ring's algorithm) that signs from `activates`, and
/// returns its file.
pub fn rotate(dir: &Path, name: &str, activates: i64) -> Result<(PathBuf, SigningKey), KeyError> {
    let ring = KeyRing::load(dir, name)?;
    if let Some(latest) = ring.keys.last() {
        if activates <= latest.activates {
            return Err(KeyError::InvalidKey(format!(
                "ring {name} already has a key signing from {}; a new key must start later",
                latest.activates
            )));
        }
    }
    let key = match ring.active(activates).alg() {
        "RS256" => SigningKey::generate_rs256()?,
        _ => SigningKey::generate()?,
    };
    let path = dir.join(file_name(name, activates));
    key.write_pem(&path)?;
    Ok((path, key))
}

/// Removes the files of ring `name` whose keys are [`KeyState::Expired`] at `now`; returns them.
pub fn prune(dir: &Path, name: &str, now: i64, retain: i64) -> Result<Vec<PathBuf>, KeyError> {
    let ring = KeyRing::load(dir, name)?;
    let mut removed = Vec::new();
    for (k, state) in ring.states(now, retain) {
        if state == KeyState::Expired {
            std::fs::remove_file(&k.path).map_err(|source| KeyError::Io {
                path: k.path.display().to_string(),
                source,
            })?;
            removed.push(k.path.clone());
        }
    }
    Ok(removed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ring(times: &[i64]) -> KeyRing {
        let keys = times
            .iter()
            .map(|t| Scheduled {
                key: Arc::new(SigningKey::generate().unwrap()),
                activates: *t,
                path: PathBuf::from(file_name("k", *t)),
            })
            .collect();
        KeyRing::new("k", keys).unwrap()
    }

    #[test]
    fn file_names_table() {
        for (file, want) in [
            ("hub-signing.pem", Some(0)),
            ("hub-signing@1767225600.pem", Some(1_767_225_600)),
            ("hub-signing@0.pem", None),
            ("hub-signing@-5.pem", None),
            ("hub-signing@soon.pem", None),
            ("hub-signing-rs256.pem", None),
            ("hub-signing.pem.bak", None),
            ("other.pem", None),
        ] {
            assert_eq!(activation_of(file, "hub-signing"), want, "{file}");
        }
        assert_eq!(file_name("hub-signing", 0), "hub-signing.pem");
        assert_eq!(file_name("hub-signing", 7), "hub-signing@7.pem");
    }

    #[test]
    fn states_through_a_rotation() {
        // Key 0 from the beginning, key 1 from t=100; tokens live 10 s.
        let r = ring(&[0, 100]);
        let (k0, k1) = (r.keys[0].key.kid().to_string(), r.keys[1].key.kid().to_string());
        let kids = |now| {
            r.published(now, 10)
                .iter()
                .map(|k| k.kid().to_string())
                .collect::<Vec<_>>()
        };
        let states = |now| r.states(now, 10).iter().map(|(_, s)| *s).collect::<Vec<_>>();
        // Before: key 0 signs, key 1 is already published.
        assert_eq!(r.active(50).kid(), k0);
        assert_eq!(kids(50), vec![k0.clone(), k1.clone()]);
        assert_eq!(states(50), vec![KeyState::Active, KeyState::Next]);
        // At the switch and while key 0's last tokens live: key 1 signs, key 0 still published.
        assert_eq!(r.active(100).kid(), k1);
        assert_eq!(kids(105), vec![k1.clone(), k0.clone()]);
        assert_eq!(states(109), vec![KeyState::Retired, KeyState::Active]);
        // After: key 0 drops out.
        assert_eq!(kids(110), vec![k1.clone()]);
        assert_eq!(states(110), vec![KeyState::Expired, KeyState::Active]);
        assert_eq!(r.next_change(50, 10), Some(100));
        assert_eq!(r.next_change(100, 10), Some(110));
        assert_eq!(r.next_change(110, 10), None);
    }

    #[test]
    fn a_ring_of_only_future_keys_signs_with_the_earliest() {
        let r = ring(&[100, 200]);
        assert_eq!(r.active(0).kid(), r.keys[0].key.kid());
        assert_eq!(r.published(0, 10).len(), 2);
    }

    #[test]
    fn rotate_writes_a_later_key_that_loads_into_the_ring_and_prune_removes_expired_ones() {
        let dir = tempfile::tempdir().unwrap();
        let first = KeyRing::load_or_generate(dir.path(), "hub-signing", SigningKey::generate).unwrap();
        assert_eq!(first.keys.len(), 1);
        let (path, key) = rotate(dir.path(), "hub-signing", 1_000).unwrap();
        assert!(path.ends_with("hub-signing@1000.pem"));
        let r = KeyRing::load(dir.path(), "hub-signing").unwrap();
        assert_eq!(r.active(999).kid(), first.active(0).kid());
        assert_eq!(r.active(1_000).kid(), key.kid());
        assert!(
            rotate(dir.path(), "hub-signing", 1_000).is_err(),
            "not at or before the latest"
        );
        assert!(prune(dir.path(), "hub-signing", 1_005, 10).unwrap().is_empty());
        let removed = prune(dir.path(), "hub-signing", 1_010, 10).unwrap();
        assert_eq!(removed.len(), 1);
        let r = KeyRing::load(dir.path(), "hub-signing").unwrap();
        assert_eq!(r.all().count(), 1);
        assert_eq!(r.active(2_000).kid(), key.kid());
    }

    #[test]
    fn an_rsa_ring_rotates_to_rsa_and_mixed_rings_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        KeyRing::load_or_generate(dir.path(), "rs", SigningKey::generate_rs256).unwrap();
        let (_, key) = rotate(dir.path(), "rs", 50).unwrap();
        assert_eq!(key.alg(), "RS256");
        SigningKey::generate()
            .unwrap()
            .write_pem(&dir.path().join("rs@60.pem"))
            .unwrap();
        assert!(KeyRing::load(dir.path(), "rs").is_err());
    }
}
