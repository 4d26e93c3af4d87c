//! `GET /`: every log the view shows, with its latest checkpoint (size, root), the witnesses whose
//! cosignatures it carries (names from its signature lines; verified where `audit_witnesses` gives their
//! keys), and whether it verified in full when the refresher last ran `tlog::verify_dir`
//! (c2sp.org/tlog-tiles, tlog-checkpoint, tlog-cosignature), naming the first bad place if not.

use super::{logs::Source, AuditorState, Nav, SignedIn};
use crate::audit::dates;
use askama::Template;
use axum::{extract::State, http::StatusCode, response::Response};
use tlog::{
    note::{Ed25519Verifier, Note, Verifier as _},
    VerifyError,
};

/// One full verification of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// When it ran (seconds since the Unix epoch).
    pub at: i64,
    pub outcome: Result<Passed, Failed>,
}

/// What a verification that passed covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    pub size: u64,
    pub root: String,
    pub entries: u64,
    pub tiles: u64,
    pub history: usize,
}

impl Passed {
    /// What was checked, in words.
    pub fn summary(&self) -> String {
        let n = |count: u64, one: &str, many: &str| format!("{count} {}", if count == 1 { one } else { many });
        format!(
            "Verified up to size {}: {}, {} and {}",
            self.size,
            n(self.entries, "entry", "entries"),
            n(self.tiles, "tile", "tiles"),
            n(self.history as u64, "earlier checkpoint", "earlier checkpoints"),
        )
    }
}

/// Where a verification failed first, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// An entry index and bundle, a tile path, a checkpoint, or the log key.
    pub place: String,
    pub reason: String,
}

/// The first bad place a [`VerifyError`] names, and the reason.
fn failed(e: VerifyError) -> Failed {
    let (place, reason) = match e {
        VerifyError::Key(r) => ("the log key".to_string(), r),
        VerifyError::Checkpoint(r) => ("checkpoint".to_string(), r),
        VerifyError::Entry { index, path, reason } => (format!("entry {index} ({path})"), reason),
        VerifyError::Tile { path, reason } => (path, reason),
        VerifyError::History { name, reason } => (name, reason),
    };
    Failed { place, reason }
}

/// Verifies one log in full (blocking: it reads every entry and tile).
pub fn check(source: &Source, now: i64) -> Check {
    let outcome = tlog::verify_dir(&source.dir, &source.vkey)
        .map(|r| Passed {
            size: r.size,
            root: r.root.to_base64(),
            entries: r.entries,
            tiles: r.tiles,
            history: r.history,
        })
        .map_err(failed);
    Check { at: now, outcome }
}

/// A cosignature line of a checkpoint.
#[derive(Debug, Clone)]
pub struct Cosignature {
    pub witness: String,
    pub key_id: String,
    /// When the witness cosigned, readable, if the line carries a time.
    pub time: Option<String>,
    /// Whether it verified with a witness key the hub is configured with.
    pub verified: bool,
}

/// One log's latest checkpoint, as read now.
#[derive(Debug, Clone)]
pub struct CheckpointView {
    pub size: u64,
    pub root: String,
    pub cosignatures: Vec<Cosignature>,
    /// A configured witness's cosignature that does not verify.
    pub witness_problem: Option<String>,
}

/// One log on the overview.
#[derive(Debug, Clone)]
pub struct LogView {
    pub origin: String,
    pub slug: String,
    pub own: bool,
    pub vkey: String,
    pub checkpoint: Result<CheckpointView, String>,
    /// `Verified`, `Failed` or `Not checked yet`.
    pub status: &'static str,
    /// The GOV.UK tag colour of the status.
    pub tag: &'static str,
    pub checked_at: Option<String>,
    pub passed: Option<Passed>,
    pub failed: Option<Failed>,
    /// Entries counted in the figures so far, and why counting stopped short if it did.
    pub counted: u64,
    pub count_problem: Option<String>,
}

/// The overview page.
#[derive(Template, Debug)]
#[template(path = "auditor/overview.html")]
pub struct Overview {
    pub nav: Option<Nav>,
    pub logs: Vec<LogView>,
    pub refresh_secs: u64,
}

/// Reads a log's checkpoint and names its cosigners (blocking: reads one file).
fn checkpoint_view(source: &Source, witness_vkeys: &[String]) -> Result<CheckpointView, String> {
    let (cp, text) = source.checkpoint()?;
    let log = Ed25519Verifier::from_vkey(&source.vkey).map_err(|e| e.to_string())?;
    let note = Note::parse(&text).map_err(|e| e.to_string())?;
    let vkeys: Vec<&str> = witness_vkeys.iter().map(String::as_str).collect();
    let (verified, witness_problem) = match tlog::proof::witness_cosignatures(&text, &log, &vkeys) {
        Ok(v) => (v, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let cosignatures = note
        .signatures
        .iter()
        .filter(|s| !(s.name == log.name() && s.key_id == log.key_id()))
        .map(|s| {
            let ts = tlog::cosignature::cosignature_timestamp(s);
            Cosignature {
                witness: s.name.clone(),
                key_id: format!("{:08x}", s.key_id),
                time: ts.and_then(|t| i64::try_from(t).ok()).map(dates::readable),
                verified: ts.is_some_and(|t| verified.iter().any(|(n, vt)| *n == s.name && *vt == t)),
            }
        })
        .collect();
    Ok(CheckpointView {
        size: cp.size,
        root: cp.root.to_base64(),
        cosignatures,
        witness_problem,
    })
}

/// `GET /`.
pub async fn get(State(state): State<AuditorState>, signed: SignedIn) -> Response {
    let checks = state.checks();
    let (counted, problems) = state.with_tally(|t| (t.next.clone(), t.problems.clone()));
    let witness_vkeys: Vec<String> = state
        .app
        .config
        .audit_witnesses
        .iter()
        .map(|w| w.vkey.clone())
        .collect();
    let sources = state.logs.clone();
    let read = tokio::task::spawn_blocking(move || {
        sources
            .iter()
            .map(|s| checkpoint_view(s, &witness_vkeys))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let logs = state
        .logs
        .iter()
        .enumerate()
        .map(|(i, source)| {
            let check = checks.get(i).cloned().flatten();
            let (status, tag) = match &check {
                None => ("Not checked yet", "govuk-tag--grey"),
                Some(Check { outcome: Ok(_), .. }) => ("Verified", "govuk-tag--green"),
                Some(Check { outcome: Err(_), .. }) => ("Failed", "govuk-tag--red"),
            };
            LogView {
                origin: source.origin.clone(),
                slug: source.slug.clone(),
                own: source.own,
                vkey: source.vkey.clone(),
                checkpoint: read.get(i).cloned().unwrap_or_else(|| Err("not read".to_string())),
                status,
                tag,
                checked_at: check.as_ref().map(|c| dates::readable(c.at)),
                passed: check.as_ref().and_then(|c| c.outcome.clone().ok()),
                failed: check.as_ref().and_then(|c| c.outcome.clone().err()),
                counted: counted.get(i).copied().unwrap_or(0),
                count_problem: problems.get(i).cloned().flatten(),
            }
        })
        .collect();
    crate::web::page::render(
        StatusCode::OK,
        &Overview {
            nav: signed.nav("overview"),
            logs,
            refresh_secs: state.app.config.auditor.refresh_secs.max(1),
        },
    )
}
