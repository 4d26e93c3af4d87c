//! The hub's audit key: the Ed25519 key that signs its assertion log's checkpoints, kept as a
//! `c2sp.org/signed-note` signer key string (mode 0600), whose verifier key auditors and witnesses hold.

use crate::KeyError;
use std::path::Path;
pub use tlog::NoteSigner;

/// The audit key for the log `origin` from `path`, made (mode 0600) when the file is missing; a key
/// named for another log is refused, so one instance never signs another's checkpoints.
pub fn load_or_generate(path: &Path, origin: &str) -> Result<NoteSigner, KeyError> {
    let io = |e: std::io::Error| KeyError::Io {
        path: path.display().to_string(),
        source: e,
    };
    if path.exists() {
        let signer = NoteSigner::load(path).map_err(|e| KeyError::InvalidKey(format!("{}: {e}", path.display())))?;
        if signer.name() != origin {
            return Err(KeyError::InvalidKey(format!(
                "{}: the audit key is named {:?}, but this log is {origin:?}",
                path.display(),
                signer.name()
            )));
        }
        return Ok(signer);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    generate(path, origin)
}

/// A new audit key for the log `origin`, written to `path` (which must not exist).
pub fn generate(path: &Path, origin: &str) -> Result<NoteSigner, KeyError> {
    let signer =
        NoteSigner::generate(origin).map_err(|e| KeyError::InvalidKey(format!("audit key {origin:?}: {e}")))?;
    signer
        .write_new(path)
        .map_err(|e| KeyError::InvalidKey(format!("{}: {e}", path.display())))?;
    Ok(signer)
}

/// The verifier key (`<name>+<key id>+<base64 key>`) of the audit key in `path`.
pub fn vkey(path: &Path) -> Result<String, KeyError> {
    NoteSigner::load(path)
        .map(|s| s.vkey())
        .map_err(|e| KeyError::InvalidKey(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_loaded_and_never_for_another_log() -> Result<(), KeyError> {
        let dir = tempfile::tempdir().map_err(|e| KeyError::InvalidKey(e.to_string()))?;
        let path = dir.path().join("sub/audit.key");
        let made = load_or_generate(&path, "hub.example/a")?;
        let again = load_or_generate(&path, "hub.example/a")?;
        assert_eq!(made.vkey(), again.vkey());
        assert_eq!(vkey(&path)?, made.vkey());
        assert!(made.vkey().starts_with("hub.example/a+"));
        assert!(load_or_generate(&path, "hub.example/b").is_err());
        assert!(generate(&path, "hub.example/a").is_err(), "never overwrites a key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).map_err(|e| KeyError::InvalidKey(e.to_string()))?;
            assert_eq!(mode.permissions().mode() & 0o777, 0o600);
        }
        Ok(())
    }
}
