//! The logs the auditor view shows: this instance's own (first) and the other instances' named in
//! `auditor.logs`, each with its origin, a slug for addresses (`/entry/<slug>/<index>`) and its verifier
//! key; and reading entries from any index on (tlog-tiles §Log entries), each checked against its leaf
//! hash in the level-0 tile, so the figures read only what was added since they last looked.

use crate::{audit::query::LogSource, state::AppState};
use std::path::PathBuf;
use tlog::{
    checkpoint::Checkpoint,
    merkle::leaf_hash,
    read::read_checkpoint,
    storage::DirReader,
    tile::{decode_bundle, split_hashes, tile_for, TILE_WIDTH},
};

/// One log the view reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The log's origin (its key's name), or its directory when it has no verifier key.
    pub origin: String,
    /// The origin made fit for a path segment, unique among the view's logs.
    pub slug: String,
    /// Its directory.
    pub dir: PathBuf,
    /// The verifier key its checkpoints must verify with (empty when none was found: it fails).
    pub vkey: String,
    /// Whether it is this instance's own log (the one `/log/` serves).
    pub own: bool,
}

impl Source {
    /// The source as `audit::query` reads it.
    pub fn query_source(&self) -> LogSource {
        LogSource {
            dir: self.dir.clone(),
            vkey: self.vkey.clone(),
        }
    }

    /// The log's files.
    pub fn reader(&self) -> DirReader {
        DirReader(self.dir.clone())
    }

    /// The latest checkpoint, checked against the log's key: its body and its text (cosignatures too).
    pub fn checkpoint(&self) -> Result<(Checkpoint, String), String> {
        read_checkpoint(&self.reader(), &self.vkey).map_err(|e| e.to_string())
    }
}

/// `hub.example/audit/hub-1` → `hub.example-audit-hub-1`: letters, digits, `.`, `_` and `-`, no run of
/// dashes, never empty and never a dot-name.
pub fn slug(origin: &str) -> String {
    let mut out = String::new();
    for c in origin.chars() {
        let keep = c.is_ascii_alphanumeric() || c == '.' || c == '_';
        let c = if keep { c.to_ascii_lowercase() } else { '-' };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    let out = out.trim_matches(['-', '.']).to_string();
    if out.is_empty() {
        "log".into()
    } else {
        out
    }
}

/// Every log the view shows: the instance's own first, then `auditor.logs` (a log listed twice, or the
/// own log listed again, is shown once). A configured log without `vkey` takes the `vkey` file in its
/// directory, which the hub writes there at start.
pub fn sources(app: &AppState) -> Vec<Source> {
    let mut found: Vec<(PathBuf, String, bool)> = Vec::new();
    if let Some(own) = &app.audit_log {
        found.push((own.0.dir().to_path_buf(), own.0.vkey().to_string(), true));
    }
    for log in &app.config.auditor.logs {
        let vkey = log
            .vkey
            .clone()
            .or_else(|| crate::audit::query::vkey_of(&log.dir))
            .unwrap_or_default();
        if vkey.is_empty() {
            tracing::warn!(dir = %log.dir.display(), "auditor.logs: no verifier key (field vkey, or a vkey file in the directory)");
        }
        found.push((log.dir.clone(), vkey.trim().to_string(), false));
    }
    let mut out: Vec<Source> = Vec::new();
    for (dir, vkey, own) in found {
        let origin = match vkey.split('+').next() {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => dir.display().to_string(),
        };
        if out
            .iter()
            .any(|s| s.origin == origin && (s.vkey == vkey || s.dir == dir))
        {
            continue;
        }
        let base = slug(&origin);
        let mut slug = base.clone();
        let mut n = 2;
        while out.iter().any(|s| s.slug == slug) {
            slug = format!("{base}-{n}");
            n += 1;
        }
        out.push(Source {
            origin,
            slug,
            dir,
            vkey,
            own,
        });
    }
    out
}

/// Calls `each(index, entry)` for the entries from `from` on of the log `reader` serves, up to the tree
/// `size` of a checkpoint, a bundle at a time (at most 256 entries in memory), each checked against its
/// level-0 tile hash. Stops at the first damaged file or entry; `each` returning `false` stops early.
/// A partial tile that has since been completed is read from the full one, as tlog-tiles allows.
pub fn read_from<R: tlog::storage::LogReader>(
    reader: &R,
    from: u64,
    size: u64,
    mut each: impl FnMut(u64, Vec<u8>) -> bool,
) -> Result<(), String> {
    let get = |path: String, full: String| -> Result<Vec<u8>, String> {
        let read = |p: &str| reader.read(p).map_err(|e| format!("{p}: {e}"));
        match read(&path)? {
            Some(bytes) => Ok(bytes),
            None if path != full => read(&full)?.ok_or_else(|| format!("{path}: missing")),
            None => Err(format!("{path}: missing")),
        }
    };
    let mut next = from;
    while next < size {
        let tile = tile_for(0, next / TILE_WIDTH, size).ok_or_else(|| format!("no tile holds entry {next}"))?;
        let full = tlog::tile::TileId {
            width: TILE_WIDTH as u16,
            ..tile
        };
        let width = usize::from(tile.width);
        let mut bundle = decode_bundle(&get(tile.bundle_path(), full.bundle_path())?)
            .map_err(|e| format!("{}: {e}", tile.bundle_path()))?;
        let mut hashes = split_hashes(&get(tile.path(), full.path())?)
            .ok_or_else(|| format!("{}: not a whole number of hashes", tile.path()))?;
        if bundle.len() < width || hashes.len() < width {
            return Err(format!("{}: fewer entries than the checkpoint has", tile.bundle_path()));
        }
        bundle.truncate(width);
        hashes.truncate(width);
        let first = tile.index * TILE_WIDTH;
        for (i, (entry, hash)) in bundle.into_iter().zip(hashes).enumerate() {
            let index = first + i as u64;
            if index < next {
                continue;
            }
            if leaf_hash(&entry) != hash {
                return Err(format!("entry {index} does not match its tile hash"));
            }
            next = index + 1;
            if !each(index, entry) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The bytes of entry `index` as of the latest checkpoint, or `None` past its size.
pub fn entry_at(source: &Source, index: u64) -> Result<Option<Vec<u8>>, String> {
    let (cp, _) = source.checkpoint()?;
    if index >= cp.size {
        return Ok(None);
    }
    let mut found = None;
    read_from(&source.reader(), index, cp.size, |_, bytes| {
        found = Some(bytes);
        false
    })?;
    Ok(found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_path_safe() {
        let cases = [
            ("hub.example/audit/hub-1", "hub.example-audit-hub-1"),
            ("127.0.0.1:8080/audit/hub-8080", "127.0.0.1-8080-audit-hub-8080"),
            ("../..", "log"),
            ("/a//B/", "a-b"),
            (".hidden", "hidden"),
            ("", "log"),
        ];
        for (origin, want) in cases {
            assert_eq!(slug(origin), want, "{origin}");
        }
    }
}
