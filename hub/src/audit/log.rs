//! The assertion log (DESIGN.md "Audit log"): each hub instance writes every audit [`Entry`] to its own
//! tiled transparency log ([`tlog`]: C2SP tlog-tiles, tlog-checkpoint, signed-note), durable before
//! `record` returns (group-committed fsync), checkpoints signed with the instance's Ed25519 audit key
//! every second (or `audit_checkpoint_every` entries) and at shutdown. Its origin names the instance.
//! Witnesses cosign its checkpoints ([`push_to_witnesses`], tlog-witness), and the served checkpoint
//! carries their cosignatures.
//!
//! One process per directory: a lock file refuses a second hub on the same log.

use super::{AuditError, AuditSink, Entry};
use anyhow::Context as _;
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};
use tlog::{Log, LogOptions};

/// The file in the log directory holding the log's verifier key (public; auditors should take the key
/// from elsewhere too, as the hub prints it at start).
pub const VKEY_FILE: &str = "vkey";
/// The lock that keeps a second process off the log.
const LOCK_FILE: &str = ".lock";

/// Where and how an instance writes its log.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// The instance's log directory.
    pub dir: PathBuf,
    /// The log's origin, naming the instance (and the audit key's name).
    pub origin: String,
    /// The audit key (a signed-note signer key file; made when missing, for development).
    pub key_file: PathBuf,
    /// Publish a checkpoint at least this often while entries wait.
    pub checkpoint_interval: Duration,
    /// Publish once this many entries wait.
    pub checkpoint_every: u64,
}

/// An instance's assertion log.
pub struct AuditLog {
    log: Log,
    dir: PathBuf,
    vkey: String,
    _lock: std::fs::File,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A handle on the log for the tasks around it (witnesses, the auditor view).
#[derive(Clone)]
pub struct LogHandle(pub Arc<AuditLog>);

impl AuditLog {
    /// Opens (or creates, or recovers after a crash) the instance's log.
    pub fn open(settings: &LogSettings) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.dir).with_context(|| format!("audit log {}", settings.dir.display()))?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(settings.dir.join(LOCK_FILE))
            .with_context(|| format!("audit log {}: lock file", settings.dir.display()))?;
        lock.try_lock().map_err(|_| {
            anyhow::anyhow!(
                "audit log {}: another process writes this log (give each instance its own `instance`)",
                settings.dir.display()
            )
        })?;
        let signer = keys::audit_key::load_or_generate(&settings.key_file, &settings.origin)
            .map_err(|e| anyhow::anyhow!("{e} (field audit_key_file, audit_origin)"))?;
        let vkey = signer.vkey();
        let options = LogOptions {
            checkpoint_interval: settings.checkpoint_interval,
            checkpoint_every: settings.checkpoint_every,
            ..LogOptions::default()
        };
        let log = Log::open(&settings.dir, &settings.origin, signer, options)
            .map_err(|e| anyhow::anyhow!("audit log {}: {e}", settings.dir.display()))?;
        let vkey_path = settings.dir.join(VKEY_FILE);
        if std::fs::read_to_string(&vkey_path).ok().as_deref().map(str::trim) != Some(vkey.as_str()) {
            std::fs::write(&vkey_path, format!("{vkey}\n"))?;
        }
        let recovered = log.recovery();
        tracing::info!(dir = %settings.dir.display(), size = log.size(), recovery = ?recovered, "audit log open");
        Ok(Self {
            log,
            dir: settings.dir.clone(),
            vkey,
            _lock: lock,
        })
    }

    /// The log's verifier key (signed-note vkey), for auditors.
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log itself.
    pub fn log(&self) -> &Log {
        &self.log
    }
}

#[async_trait::async_trait]
impl AuditSink for LogHandle {
    async fn record(&self, entry: Entry) -> Result<(), AuditError> {
        let started = std::time::Instant::now();
        let bytes = serde_json::to_vec(&entry).map_err(|e| AuditError(e.to_string()))?;
        let result = self.0.log.append(bytes).await;
        crate::telemetry::audit_append(started.elapsed(), result.is_ok());
        result.map(|_| ()).map_err(|e| AuditError(e.to_string()))
    }

    fn note(&self, entry: Entry) {
        let written = serde_json::to_vec(&entry)
            .map_err(|e| e.to_string())
            .and_then(|bytes| self.0.log.append_deferred(bytes).map_err(|e| e.to_string()));
        if let Err(e) = written {
            crate::telemetry::audit_append(std::time::Duration::ZERO, false);
            tracing::warn!(error = %e, "audit entry not written");
        }
    }

    fn healthy(&self) -> bool {
        self.0.log.healthy()
    }

    async fn close(&self) {
        if let Err(e) = self.0.log.close().await {
            tracing::error!(error = %e, "audit log did not close cleanly; it recovers at the next start");
        }
    }
}

/// The log of a hub whose log directory could not be opened at start (a read-only or full disk, a
/// missing mount): it asserts nothing ("no audit, no assertion"), `/readyz` fails, and it tries to open
/// the log again at most every few seconds, so the hub recovers by itself once the disk is back.
pub struct Opening {
    settings: LogSettings,
    opened: std::sync::Mutex<Option<LogHandle>>,
    last_try: std::sync::Mutex<std::time::Instant>,
}

impl std::fmt::Debug for Opening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opening")
            .field("dir", &self.settings.dir)
            .finish_non_exhaustive()
    }
}

/// How often a log that could not be opened is tried again.
const REOPEN_EVERY: Duration = Duration::from_secs(5);

impl Opening {
    /// A sink that opens the log when it can.
    pub fn new(settings: LogSettings) -> Self {
        Self {
            settings,
            opened: std::sync::Mutex::new(None),
            last_try: std::sync::Mutex::new(std::time::Instant::now()),
        }
    }

    fn log(&self) -> Option<LogHandle> {
        let mut opened = self.opened.lock().ok()?;
        if opened.is_none() {
            let mut last = self.last_try.lock().ok()?;
            if last.elapsed() >= REOPEN_EVERY {
                *last = std::time::Instant::now();
                match AuditLog::open(&self.settings) {
                    Ok(log) => *opened = Some(LogHandle(Arc::new(log))),
                    Err(e) => tracing::error!(error = %e, "the audit log still cannot be opened; nothing is asserted"),
                }
            }
        }
        opened.clone()
    }
}

#[async_trait::async_trait]
impl AuditSink for Opening {
    async fn record(&self, entry: Entry) -> Result<(), AuditError> {
        match self.log() {
            Some(log) => log.record(entry).await,
            None => Err(AuditError(format!(
                "the audit log {} cannot be opened",
                self.settings.dir.display()
            ))),
        }
    }

    fn note(&self, entry: Entry) {
        match self.log() {
            Some(log) => log.note(entry),
            None => tracing::warn!(
                dir = %self.settings.dir.display(),
                "the audit log cannot be opened; audit entry not written"
            ),
        }
    }

    fn healthy(&self) -> bool {
        self.log().is_some_and(|l| l.healthy())
    }

    async fn close(&self) {
        if let Some(log) = self.log() {
            log.close().await;
        }
    }
}

/// A witness the log asks to cosign its checkpoints (tlog-witness).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// The witness's base URL (`POST {url}/add-checkpoint`).
    pub url: String,
    /// Its cosignature verifier key.
    pub vkey: String,
}

/// What the log told one witness last.
#[derive(Debug, Default, Clone)]
struct Told {
    size: u64,
    checkpoint: Option<String>,
}

/// The body of a tlog-witness `add-checkpoint` request: the old size, the consistency proof from it
/// (one base64 hash a line), a blank line, the checkpoint.
fn add_checkpoint_body(dir: &Path, old: u64, new: u64, checkpoint: &str) -> anyhow::Result<String> {
    let reader = tlog::storage::DirReader(dir.to_path_buf());
    let hashes = tlog::tile::TileHashReader::new(new, tlog::storage::ReaderTiles(&reader));
    let proof = tlog::merkle::consistency_proof(&hashes, old, new).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut body = format!("old {old}\n");
    for h in proof {
        body.push_str(&h.to_base64());
        body.push('\n');
    }
    body.push('\n');
    body.push_str(checkpoint);
    Ok(body)
}

/// Asks every witness, every `every`, to cosign the newest checkpoint, and attaches their cosignatures
/// to the served one. A witness that knows a different size (409) is told from there next time.
pub fn push_to_witnesses(log: LogHandle, witnesses: Vec<WitnessConfig>, http: reqwest::Client, every: Duration) {
    if witnesses.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut told: Vec<Told> = vec![Told::default(); witnesses.len()];
        loop {
            tokio::time::sleep(every).await;
            let Some(checkpoint) = log.0.log.checkpoint() else {
                continue;
            };
            let size: u64 = checkpoint.lines().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            for (w, t) in witnesses.iter().zip(told.iter_mut()) {
                if t.checkpoint.as_deref() == Some(checkpoint.as_str()) || size < t.size {
                    continue;
                }
                let body = match add_checkpoint_body(log.0.dir(), t.size, size, &checkpoint) {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(witness = %w.url, error = %e, "no consistency proof for the witness");
                        continue;
                    }
                };
                let url = format!("{}/add-checkpoint", w.url.trim_end_matches('/'));
                let answer = http.post(&url).body(body).send().await;
                match answer {
                    Ok(r) if r.status().is_success() => {
                        let lines = r.text().await.unwrap_or_default();
                        for line in lines.lines().filter(|l| l.starts_with('—')) {
                            if let Err(e) = log.0.log.add_cosignature(&checkpoint, line, &w.vkey).await {
                                tracing::warn!(witness = %w.url, error = %e, "cosignature refused");
                            }
                        }
                        crate::telemetry::witness(true);
                        *t = Told {
                            size,
                            checkpoint: Some(checkpoint.clone()),
                        };
                    }
                    Ok(r) if r.status().as_u16() == 409 => {
                        let known = r.text().await.unwrap_or_default().trim().parse().unwrap_or(0);
                        if known == size {
                            // Same size, another root (tlog-witness): the witness holds a tree of this
                            // size that is not this log's. A fork, or a second log under this origin:
                            // an alarm, never retried quietly.
                            crate::telemetry::witness(false);
                            tracing::error!(
                                witness = %w.url,
                                size,
                                "the witness holds another tree of this size: a fork, or a second log with this origin"
                            );
                        } else {
                            // The witness says which size it knows: prove from there next time.
                            tracing::info!(witness = %w.url, known, "witness knows another size");
                            t.size = known;
                            t.checkpoint = None;
                        }
                    }
                    Ok(r) => {
                        crate::telemetry::witness(false);
                        tracing::warn!(witness = %w.url, status = %r.status(), "witness refused the checkpoint");
                    }
                    Err(e) => {
                        crate::telemetry::witness(false);
                        tracing::warn!(witness = %w.url, error = %e, "witness unreachable");
                    }
                }
            }
        }
    });
}
