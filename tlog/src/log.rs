//! The writer: an append-only tiled log in a directory, for a hub that must not issue an assertion until
//! its audit entry is durable.
//!
//! Durability: `append` returns once the entry's record is in the write-ahead file (`.wal`, see
//! [`crate::wal`]) and fsynced. One writer thread owns that file; appends that arrive while it fsyncs
//! wait in its channel and go out together with the next single fsync (group commit);
//! [`Log::append_deferred`] entries, which nobody waits on, ride along with the next such group (or go
//! on their own after `defer_sync`), so they cost no fsync of their own. A publisher
//! thread turns durable entries into tiles, entry bundles and a signed checkpoint every
//! `checkpoint_interval` or `checkpoint_every` entries and at [`Log::close`]: tiles and bundles first
//! (temp file, fsync, rename, fsync of their directories), then `checkpoint` (the same, then an fsync
//! of the directory), then its copy `checkpoints/<N>`, so the published directory verifies at every
//! instant.
//! Once published, old records are dropped from the write-ahead file by an atomic rewrite.
//!
//! Layout (servable as static files; the dot-files are private): `checkpoint`, `tile/<L>/<N>[.p/<W>]`,
//! `tile/entries/<N>[.p/<W>]`, `checkpoints/<N>` (every published checkpoint, N in the tile index
//! encoding), `.wal`, `.tmp/`.

use crate::checkpoint::{open_checkpoint, Checkpoint};
use crate::cosignature::CosignatureVerifier;
use crate::edge::{RightEdge, TileFile};
use crate::merkle::{leaf_hash, HashReader as _};
use crate::note::{Note, NoteSigner, SignatureLine, Verifier as _};
use crate::storage::{DirReader, DiskStorage, LogReader as _, ReaderTiles, Storage, WalFile};
use crate::tile::{
    decode_bundle, encode_index, hashes_at_level, in_tile, split_hashes, tile_for, TileHashReader, MAX_ENTRY_SIZE,
    TILE_WIDTH,
};
use crate::wal;
use std::collections::{HashSet, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The write-ahead file's name in the log directory.
pub const WAL_FILE: &str = ".wal";
/// The staging directory for temp files.
pub const STAGING_DIR: &str = ".tmp";
/// The directory of published checkpoints, one file per size.
pub const HISTORY_DIR: &str = "checkpoints";

/// How a [`Log`] batches and publishes.
#[derive(Clone)]
pub struct LogOptions {
    /// Publish a checkpoint at least this often while entries wait (default 1 s).
    pub checkpoint_interval: Duration,
    /// Publish once this many entries wait (default 256).
    pub checkpoint_every: u64,
    /// The most appends one group commit carries (default 4096).
    pub max_group: usize,
    /// Rewrite the write-ahead file once this many bytes of it are published (default 8 MiB).
    pub wal_rotate_bytes: u64,
    /// Keep `checkpoints/<N>`, the history auditors check consistency over (default on).
    pub keep_history: bool,
    /// The longest an entry of [`Log::append_deferred`] waits for an append that someone waits on
    /// (whose group commit it joins) before it is written and fsynced on its own (default 100 ms).
    pub defer_sync: Duration,
    /// Where the bytes go: the disk, or a test's failing disk.
    pub storage: Arc<dyn Storage>,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            checkpoint_interval: Duration::from_secs(1),
            checkpoint_every: 256,
            max_group: 4096,
            wal_rotate_bytes: 8 << 20,
            keep_history: true,
            defer_sync: Duration::from_millis(100),
            storage: Arc::new(DiskStorage),
        }
    }
}

impl std::fmt::Debug for LogOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogOptions")
            .field("checkpoint_interval", &self.checkpoint_interval)
            .field("checkpoint_every", &self.checkpoint_every)
            .field("max_group", &self.max_group)
            .field("wal_rotate_bytes", &self.wal_rotate_bytes)
            .field("keep_history", &self.keep_history)
            .field("defer_sync", &self.defer_sync)
            .finish_non_exhaustive()
    }
}

/// What went wrong in the log; `Clone` so one failure reaches every append of a group.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    /// The entry does not fit an entry bundle's uint16 length.
    #[error("an entry of {len} bytes is larger than the {MAX_ENTRY_SIZE}-byte limit")]
    EntryTooLarge { len: usize },
    /// A write, fsync or rename failed: nothing of this group is promised durable.
    #[error("{what}: {source}")]
    Storage { what: String, source: Arc<io::Error> },
    /// The log was closed.
    #[error("the log is closed")]
    Closed,
    /// The directory could not be recovered (what and where).
    #[error("cannot recover the log: {0}")]
    Recovery(String),
    /// The origin is not the signer's key name (tlog-checkpoint: the key name SHOULD match; we require it).
    #[error("the origin {origin:?} is not the signer's key name {key_name:?}")]
    OriginMismatch { origin: String, key_name: String },
    /// A cosignature was refused (reason given).
    #[error("cosignature refused: {0}")]
    Cosignature(String),
}

fn storage_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> LogError {
    let what = what.into();
    move |e| LogError::Storage {
        what,
        source: Arc::new(e),
    }
}

/// What `open` found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The size of the checkpoint found published.
    pub published: u64,
    /// Intact records found in the write-ahead file.
    pub wal_records: u64,
    /// Bytes of a torn or corrupt tail cut from the write-ahead file.
    pub torn_bytes: u64,
    /// Durable entries that had not been published and were published by `open`.
    pub republished: u64,
}

struct Served {
    checkpoint: String,
    body: String,
    cosignatures: Vec<SignatureLine>,
}

struct Shared {
    served: Mutex<Served>,
    wal_healthy: AtomicBool,
    publish_healthy: AtomicBool,
    durable: AtomicU64,
    published: AtomicU64,
    /// Appends sent to the writer and not yet written (or failed).
    queued: AtomicU64,
    /// [`Log::append_deferred`]'s entries, handed to the writer without waking it (it takes them
    /// whenever it wakes), and whether the log is closed to them.
    deferred: Mutex<Deferred>,
}

#[derive(Default)]
struct Deferred {
    closed: bool,
    entries: Vec<Vec<u8>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

type Reply<T> = oneshot::Sender<Result<T, LogError>>;

enum WriterMsg {
    /// An entry to append; `reply` is `None` for [`Log::append_deferred`], which nobody waits on.
    Append {
        entry: Vec<u8>,
        reply: Option<Reply<u64>>,
    },
    Close {
        reply: Reply<()>,
    },
}

enum PubMsg {
    Committed {
        first: u64,
        entries: Vec<Vec<u8>>,
    },
    Cosign {
        body: String,
        line: SignatureLine,
        reply: Reply<()>,
    },
    Close {
        reply: Option<Reply<()>>,
    },
}

/// An append-only tiled transparency log in a directory. Cheap to share behind an `Arc`.
pub struct Log {
    tx: mpsc::Sender<WriterMsg>,
    ptx: mpsc::Sender<PubMsg>,
    shared: Arc<Shared>,
    dir: PathBuf,
    vkey: String,
    recovery: RecoveryReport,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.dir)
            .field("vkey", &self.vkey)
            .finish_non_exhaustive()
    }
}

impl Log {
    /// Opens the log in `dir`, creating it, or recovering it after a crash: the write-ahead file is read
    /// up to its first torn or corrupt record (the rest is cut away), checked against the published
    /// tiles, and whatever was durable but unpublished is published before `open` returns.
    pub fn open(dir: &Path, origin: &str, signer: NoteSigner, options: LogOptions) -> Result<Log, LogError> {
        if origin != signer.name() {
            return Err(LogError::OriginMismatch {
                origin: origin.into(),
                key_name: signer.name().into(),
            });
        }
        let storage = options.storage.clone();
        let staging = dir.join(STAGING_DIR);
        storage
            .create_dir_all(dir)
            .map_err(storage_err(format!("creating {}", dir.display())))?;
        storage
            .remove_dir_all(&staging)
            .map_err(storage_err("clearing the staging directory"))?;
        storage
            .create_dir_all(&staging)
            .map_err(storage_err("creating the staging directory"))?;

        let found = recover_published(dir, &signer)?;
        let published = found.as_ref().map_or(0, |f| f.checkpoint.size);
        let mut edge = match &found {
            Some(f) => f.edge.clone(),
            None => RightEdge::new(),
        };
        let wal_path = dir.join(WAL_FILE);
        let (wal_file, contents) = open_wal(&*storage, &wal_path, published)?;
        let end = contents.base + contents.entries.len() as u64;
        let reader = TileHashReader::new(published, ReaderTiles(DirReader(dir.to_path_buf())));
        for (i, entry) in contents.entries.iter().enumerate() {
            let index = contents.base + i as u64;
            if index < published {
                let tile = reader.node(0, index).map_err(|e| LogError::Recovery(e.to_string()))?;
                if tile != leaf_hash(entry) {
                    return Err(LogError::Recovery(format!(
                        "entry {index} in the write-ahead file is not the one published in tile/0/{}",
                        encode_index(index / TILE_WIDTH)
                    )));
                }
            }
        }
        let mut pending = Vec::new();
        let (wal_file, base, good_len, boundaries) = if end < published {
            // The write-ahead file lost records that were published (its tail was damaged): the
            // published tiles hold them, so start a fresh file after them.
            let header = wal::encode_header(published);
            let (w, synced) = storage
                .create_wal(&wal_path, &header)
                .map_err(storage_err("rewriting the write-ahead file"))?;
            synced.map_err(storage_err("syncing the log directory"))?;
            (
                w,
                published,
                header.len() as u64,
                VecDeque::from([(published, header.len() as u64)]),
            )
        } else {
            for entry in contents.entries.iter().skip((published - contents.base) as usize) {
                pending.extend(edge.push(entry.clone()));
            }
            let b = VecDeque::from([(contents.base, wal::HEADER_LEN as u64), (end, contents.valid_len)]);
            (wal_file, contents.base, contents.valid_len, b)
        };
        let recovery = RecoveryReport {
            published,
            wal_records: contents.entries.len() as u64,
            torn_bytes: contents.torn_bytes,
            republished: edge.size() - published,
        };

        let (served, cosignatures) = match &found {
            Some(f) => (f.text.clone(), f.cosignatures.clone()),
            None => (String::new(), Vec::new()),
        };
        let shared = Arc::new(Shared {
            served: Mutex::new(Served {
                checkpoint: served.clone(),
                body: found.as_ref().map(|f| f.checkpoint.body()).unwrap_or_default(),
                cosignatures,
            }),
            wal_healthy: AtomicBool::new(true),
            publish_healthy: AtomicBool::new(true),
            durable: AtomicU64::new(edge.size()),
            published: AtomicU64::new(published),
            queued: AtomicU64::new(0),
            deferred: Mutex::default(),
        });
        let vkey = signer.vkey();
        let mut publisher = Publisher {
            dir: dir.to_path_buf(),
            staging,
            storage: storage.clone(),
            signer,
            edge,
            pending,
            published,
            durable_dirs: HashSet::new(),
            shared: shared.clone(),
            keep_history: options.keep_history,
        };
        if found.is_none() || publisher.edge.size() > published {
            publisher.publish()?;
        } else if options.keep_history && !dir.join(HISTORY_DIR).join(encode_index(published)).exists() {
            let text = lock(&shared.served).checkpoint.clone();
            publisher.write_history(published, &text)?;
        }
        let (tx, rx) = mpsc::channel();
        let (ptx, prx) = mpsc::channel();
        let mut writer = Writer {
            rx,
            wal: wal_file,
            wal_path,
            storage,
            base,
            next: publisher.edge.size(),
            good_len,
            dirty: false,
            dir_sync_pending: false,
            boundaries,
            publisher: ptx.clone(),
            shared: shared.clone(),
            max_group: options.max_group.max(1),
            rotate_bytes: options.wal_rotate_bytes,
            defer: options.defer_sync,
        };
        writer.maybe_rotate();
        let (interval, every) = (options.checkpoint_interval, options.checkpoint_every.max(1));
        std::thread::Builder::new()
            .name("tlog-publisher".into())
            .spawn(move || publisher.run(prx, interval, every))
            .map_err(storage_err("starting the publisher thread"))?;
        std::thread::Builder::new()
            .name("tlog-writer".into())
            .spawn(move || writer.run())
            .map_err(storage_err("starting the writer thread"))?;
        Ok(Log {
            tx,
            ptx,
            shared,
            dir: dir.to_path_buf(),
            vkey,
            recovery,
        })
    }

    /// Appends an entry (at most 65535 bytes) and returns its index once it is durable. A failing
    /// write or fsync fails every append of its group and marks the log unhealthy until a later
    /// append gets through.
    pub async fn append(&self, entry: Vec<u8>) -> Result<u64, LogError> {
        if entry.len() > MAX_ENTRY_SIZE {
            return Err(LogError::EntryTooLarge { len: entry.len() });
        }
        let (reply, rx) = oneshot::channel();
        self.shared.queued.fetch_add(1, Ordering::SeqCst);
        if self
            .tx
            .send(WriterMsg::Append {
                entry,
                reply: Some(reply),
            })
            .is_err()
        {
            self.shared.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(LogError::Closed);
        }
        rx.await.map_err(|_| LogError::Closed)?
    }

    /// Queues an entry that nobody waits on: it is written with the group commit of the next
    /// [`Log::append`] (sharing its fsync), or on its own after about [`LogOptions::defer_sync`] (at most
    /// one and a half times it), and at [`Log::close`]. Until then a crash loses it (the log still verifies: it never reached the
    /// write-ahead file, and no checkpoint covers it); a failed write loses it and marks the log
    /// unhealthy, as for any group.
    pub fn append_deferred(&self, entry: Vec<u8>) -> Result<(), LogError> {
        if entry.len() > MAX_ENTRY_SIZE {
            return Err(LogError::EntryTooLarge { len: entry.len() });
        }
        // Into the writer's side buffer, without waking it: a futex wake per entry cost more than the
        // entry itself under load. The writer takes them at its next wake-up (an append someone waits
        // on, or its tick).
        let mut deferred = lock(&self.shared.deferred);
        if deferred.closed {
            return Err(LogError::Closed);
        }
        self.shared.queued.fetch_add(1, Ordering::SeqCst);
        deferred.entries.push(entry);
        Ok(())
    }

    /// Appends sent and not yet written (deferred ones waiting for a group, or a group being written):
    /// with [`Log::published_size`] equal to [`Log::size`] and nothing queued, everything appended so far
    /// is published.
    pub fn queued(&self) -> u64 {
        self.shared.queued.load(Ordering::SeqCst)
    }

    /// The latest signed checkpoint, without cosignatures.
    pub fn checkpoint(&self) -> Option<String> {
        let s = lock(&self.shared.served);
        (!s.checkpoint.is_empty()).then(|| s.checkpoint.clone())
    }

    /// The latest checkpoint with the cosignatures attached to it: the note `<dir>/checkpoint` serves.
    pub fn served_checkpoint(&self) -> Option<String> {
        let s = lock(&self.shared.served);
        (!s.checkpoint.is_empty()).then(|| served_text(&s.checkpoint, &s.cosignatures))
    }

    /// Attaches a witness's cosignature line to the checkpoint it cosigned, which must still be the
    /// served one; the line must verify with `witness_vkey` (a bad line would make verifiers that know
    /// the witness refuse the whole note). The `checkpoint` file is rewritten with it.
    pub async fn add_cosignature(&self, checkpoint: &str, line: &str, witness_vkey: &str) -> Result<(), LogError> {
        let v = CosignatureVerifier::from_vkey(witness_vkey).map_err(|e| LogError::Cosignature(e.to_string()))?;
        let line = SignatureLine::parse(line).map_err(|e| LogError::Cosignature(e.to_string()))?;
        let body = Note::parse(checkpoint)
            .map_err(|e| LogError::Cosignature(e.to_string()))?
            .text;
        if line.name != v.name() || line.key_id != v.key_id() || !v.verify(body.as_bytes(), &line.signature) {
            return Err(LogError::Cosignature(
                "the line is not a valid cosignature by that witness".into(),
            ));
        }
        let (reply, rx) = oneshot::channel();
        self.ptx
            .send(PubMsg::Cosign { body, line, reply })
            .map_err(|_| LogError::Closed)?;
        rx.await.map_err(|_| LogError::Closed)?
    }

    /// The number of durable entries.
    pub fn size(&self) -> u64 {
        self.shared.durable.load(Ordering::SeqCst)
    }

    /// The size of the latest published checkpoint.
    pub fn published_size(&self) -> u64 {
        self.shared.published.load(Ordering::SeqCst)
    }

    /// False after a failed write, fsync or publication, until the disk takes writes again.
    pub fn healthy(&self) -> bool {
        self.shared.wal_healthy.load(Ordering::SeqCst) && self.shared.publish_healthy.load(Ordering::SeqCst)
    }

    /// What `open` recovered.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log's verifier key.
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// Commits what is queued, publishes a final checkpoint and stops; later appends fail with
    /// [`LogError::Closed`].
    pub async fn close(&self) -> Result<(), LogError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(WriterMsg::Close { reply }).map_err(|_| LogError::Closed)?;
        rx.await.map_err(|_| LogError::Closed)?
    }
}

fn served_text(checkpoint: &str, cosignatures: &[SignatureLine]) -> String {
    let mut s = checkpoint.to_string();
    for c in cosignatures {
        s.push_str(&c.to_line());
    }
    s
}

/// The published state found in a directory.
struct Found {
    checkpoint: Checkpoint,
    text: String,
    cosignatures: Vec<SignatureLine>,
    edge: RightEdge,
}

/// Reads and checks the published checkpoint and rebuilds the right edge from its partial tiles.
fn recover_published(dir: &Path, signer: &NoteSigner) -> Result<Option<Found>, LogError> {
    let reader = DirReader(dir.to_path_buf());
    let Some(bytes) = reader
        .read("checkpoint")
        .map_err(storage_err("reading the checkpoint"))?
    else {
        return Ok(None);
    };
    let text = String::from_utf8(bytes).map_err(|_| LogError::Recovery("checkpoint: not UTF-8".into()))?;
    let (checkpoint, note) =
        open_checkpoint(&text, &signer.verifier()).map_err(|e| LogError::Recovery(format!("checkpoint: {e}")))?;
    let size = checkpoint.size;
    let mut partials = Vec::new();
    let mut level = 0u8;
    while hashes_at_level(level, size) > 0 {
        let n = hashes_at_level(level, size);
        let mut hashes = Vec::new();
        if in_tile(n) > 0 {
            let tile =
                tile_for(level, n / TILE_WIDTH, size).ok_or_else(|| LogError::Recovery("tile arithmetic".into()))?;
            let data = reader
                .read(&tile.path())
                .map_err(storage_err(format!("reading {}", tile.path())))?
                .ok_or_else(|| LogError::Recovery(format!("{} is missing", tile.path())))?;
            hashes = split_hashes(&data).ok_or_else(|| LogError::Recovery(format!("{} is damaged", tile.path())))?;
        }
        partials.push(hashes);
        level += 1;
    }
    let mut bundle = Vec::new();
    if in_tile(size) > 0 {
        let tile = tile_for(0, size / TILE_WIDTH, size).ok_or_else(|| LogError::Recovery("tile arithmetic".into()))?;
        let data = reader
            .read(&tile.bundle_path())
            .map_err(storage_err(format!("reading {}", tile.bundle_path())))?
            .ok_or_else(|| LogError::Recovery(format!("{} is missing", tile.bundle_path())))?;
        bundle = decode_bundle(&data).map_err(|e| LogError::Recovery(format!("{}: {e}", tile.bundle_path())))?;
    }
    let edge = RightEdge::from_partials(size, partials, bundle).map_err(|e| LogError::Recovery(e.to_string()))?;
    if edge.root() != checkpoint.root {
        return Err(LogError::Recovery(
            "the published partial tiles do not hash to the checkpoint's root".into(),
        ));
    }
    let plain = signer
        .sign_note(&checkpoint.body())
        .map_err(|e| LogError::Recovery(e.to_string()))?;
    Ok(Some(Found {
        checkpoint,
        text: plain,
        cosignatures: note.unknown,
        edge,
    }))
}

/// Opens (or creates, starting at `published`) the write-ahead file and cuts any torn tail.
fn open_wal(
    storage: &dyn Storage,
    path: &Path,
    published: u64,
) -> Result<(Box<dyn WalFile>, wal::WalContents), LogError> {
    let Some(mut file) = storage
        .open_wal(path)
        .map_err(storage_err("opening the write-ahead file"))?
    else {
        let header = wal::encode_header(published);
        let (file, synced) = storage
            .create_wal(path, &header)
            .map_err(storage_err("creating the write-ahead file"))?;
        synced.map_err(storage_err("syncing the log directory"))?;
        let contents = wal::decode(&header).map_err(|e| LogError::Recovery(e.to_string()))?;
        return Ok((file, contents));
    };
    let bytes = file.read_all().map_err(storage_err("reading the write-ahead file"))?;
    let contents = wal::decode(&bytes).map_err(|e| LogError::Recovery(e.to_string()))?;
    if contents.base > published {
        return Err(LogError::Recovery(format!(
            "the write-ahead file starts at entry {} but the published checkpoint has only {published}",
            contents.base
        )));
    }
    if contents.torn_bytes > 0 {
        file.truncate(contents.valid_len)
            .map_err(storage_err("cutting the torn tail of the write-ahead file"))?;
    }
    Ok((file, contents))
}

/// How often an idle writer looks whether published records can leave the write-ahead file.
const IDLE_ROTATE_CHECK: Duration = Duration::from_millis(500);

struct Writer {
    rx: mpsc::Receiver<WriterMsg>,
    wal: Box<dyn WalFile>,
    wal_path: PathBuf,
    storage: Arc<dyn Storage>,
    base: u64,
    next: u64,
    good_len: u64,
    dirty: bool,
    /// The write-ahead file was replaced but its directory's fsync failed.
    dir_sync_pending: bool,
    /// (first entry index, byte offset) of record boundaries in the current file, oldest first.
    boundaries: VecDeque<(u64, u64)>,
    publisher: mpsc::Sender<PubMsg>,
    shared: Arc<Shared>,
    max_group: usize,
    rotate_bytes: u64,
    defer: Duration,
}

/// Appends received and not yet written, oldest first.
type Pending = Vec<(Vec<u8>, Option<Reply<u64>>)>;

impl Writer {
    /// Group commit: every append queued when the writer wakes goes in one write and one fsync. Deferred
    /// appends (nobody waits on them) stay in memory until an append that someone waits on arrives, the
    /// oldest has waited `defer`, the group is full, or the log closes; so a sign-in's facts that need
    /// not be durable cost no fsync of their own. They reach the writer through a side buffer it takes
    /// at every wake-up, first, so a request's earlier facts come before its assertion; when nothing else
    /// wakes it, a tick of half `defer` does.
    fn run(mut self) {
        let mut buf = Vec::new();
        let mut pending: Pending = Vec::new();
        let mut oldest: Option<Instant> = None;
        let tick = (self.defer / 2).clamp(Duration::from_millis(1), IDLE_ROTATE_CHECK);
        let close_reply = loop {
            let timeout = oldest.map_or(tick, |t| self.defer.saturating_sub(t.elapsed()).min(tick));
            let mut msg = match self.rx.recv_timeout(timeout) {
                Ok(m) => Some(m),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.take_deferred(&mut pending, true);
                    if !pending.is_empty() {
                        self.commit(std::mem::take(&mut pending), &mut buf);
                    }
                    break None;
                }
            };
            if self.take_deferred(&mut pending, false) {
                oldest.get_or_insert_with(Instant::now);
            }
            let mut close = None;
            let mut waited_on = false;
            while let Some(m) = msg.take() {
                match m {
                    WriterMsg::Append { entry, reply } => {
                        waited_on |= reply.is_some();
                        oldest.get_or_insert_with(Instant::now);
                        pending.push((entry, reply));
                    }
                    WriterMsg::Close { reply } => close = Some(reply),
                }
                if close.is_none() && pending.len() < self.max_group {
                    msg = self.rx.try_recv().ok();
                }
            }
            if close.is_some() {
                self.take_deferred(&mut pending, true);
            }
            let due = oldest.is_some_and(|t| t.elapsed() >= self.defer);
            let full = pending.len() >= self.max_group;
            if !pending.is_empty() && (waited_on || due || full || close.is_some()) {
                self.commit(std::mem::take(&mut pending), &mut buf);
                oldest = None;
            }
            self.maybe_rotate();
            if close.is_some() {
                break close;
            }
        };
        let _ = self.publisher.send(PubMsg::Close { reply: close_reply });
    }

    /// Moves the side buffer's deferred entries to `pending` (closing it to more when `close`); whether
    /// there were any.
    fn take_deferred(&self, pending: &mut Pending, close: bool) -> bool {
        let mut deferred = lock(&self.shared.deferred);
        deferred.closed |= close;
        let any = !deferred.entries.is_empty();
        pending.extend(deferred.entries.drain(..).map(|e| (e, None)));
        any
    }

    fn commit(&mut self, appends: Pending, buf: &mut Vec<u8>) {
        let count = appends.len() as u64;
        self.commit_group(appends, buf);
        self.shared.queued.fetch_sub(count, Ordering::SeqCst);
    }

    fn commit_group(&mut self, appends: Pending, buf: &mut Vec<u8>) {
        buf.clear();
        for (i, (entry, _)) in appends.iter().enumerate() {
            wal::encode_record(self.next + i as u64, entry, buf);
        }
        match self.write(buf) {
            Ok(()) => {
                let first = self.next;
                self.good_len += buf.len() as u64;
                self.next += appends.len() as u64;
                self.boundaries.push_back((self.next, self.good_len));
                self.shared.durable.store(self.next, Ordering::SeqCst);
                self.shared.wal_healthy.store(true, Ordering::SeqCst);
                let mut entries = Vec::with_capacity(appends.len());
                for (i, (entry, reply)) in appends.into_iter().enumerate() {
                    if let Some(reply) = reply {
                        let _ = reply.send(Ok(first + i as u64));
                    }
                    entries.push(entry);
                }
                let _ = self.publisher.send(PubMsg::Committed { first, entries });
            }
            Err(e) => {
                self.shared.wal_healthy.store(false, Ordering::SeqCst);
                self.dirty = true;
                // Best effort now; the next group retries the cut before it writes.
                if self.wal.truncate(self.good_len).is_ok() {
                    self.dirty = false;
                }
                let err = LogError::Storage {
                    what: "writing the write-ahead file".into(),
                    source: Arc::new(e),
                };
                for reply in appends.into_iter().filter_map(|(_, reply)| reply) {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.dirty {
            self.wal.truncate(self.good_len)?;
            self.dirty = false;
        }
        self.wal.append(buf)?;
        self.wal.sync()?;
        if self.dir_sync_pending {
            let dir = self.wal_path.parent().unwrap_or(Path::new("."));
            self.storage.sync_dir(dir)?;
            self.dir_sync_pending = false;
        }
        Ok(())
    }

    /// Drops published records from the write-ahead file once they add up to `rotate_bytes`, by an
    /// atomic rewrite holding only the records from a boundary at or below the published size.
    fn maybe_rotate(&mut self) {
        let published = self.shared.published.load(Ordering::SeqCst);
        let Some(&(index, offset)) = self.boundaries.iter().rev().find(|(i, _)| *i <= published) else {
            return;
        };
        if index <= self.base || offset.saturating_sub(wal::HEADER_LEN as u64) < self.rotate_bytes || self.dirty {
            return;
        }
        let Ok(all) = self.wal.read_all() else { return };
        let (Ok(from), Ok(to)) = (usize::try_from(offset), usize::try_from(self.good_len)) else {
            return;
        };
        let Some(tail) = all.get(from..to) else { return };
        let mut contents = wal::encode_header(index);
        contents.extend_from_slice(tail);
        if let Ok((file, synced)) = self.storage.create_wal(&self.wal_path, &contents) {
            // Until the directory fsync succeeds, the old file may come back after a crash: the next
            // group retries it before acknowledging anything.
            self.dir_sync_pending = synced.is_err();
            let shift = offset - wal::HEADER_LEN as u64;
            self.wal = file;
            self.base = index;
            self.good_len -= shift;
            self.boundaries.retain(|(i, _)| *i >= index);
            for b in self.boundaries.iter_mut() {
                b.1 -= shift;
            }
        }
    }
}

struct Publisher {
    dir: PathBuf,
    staging: PathBuf,
    storage: Arc<dyn Storage>,
    signer: NoteSigner,
    edge: RightEdge,
    /// Full tiles and bundles completed since the last publication.
    pending: Vec<TileFile>,
    published: u64,
    /// Directories whose own entry in their parent is known durable.
    durable_dirs: HashSet<PathBuf>,
    shared: Arc<Shared>,
    keep_history: bool,
}

impl Publisher {
    fn run(mut self, rx: mpsc::Receiver<PubMsg>, interval: Duration, every: u64) {
        let mut last = Instant::now();
        let mut last_ok = true;
        loop {
            let waiting = self.edge.size() - self.published;
            let wait = if waiting > 0 {
                interval.saturating_sub(last.elapsed())
            } else {
                Duration::from_secs(3600)
            };
            match rx.recv_timeout(wait) {
                Ok(PubMsg::Committed { first, entries }) => {
                    if first != self.edge.size() {
                        // Cannot happen: the writer numbers entries from the edge's size.
                        self.shared.publish_healthy.store(false, Ordering::SeqCst);
                        continue;
                    }
                    for e in entries {
                        let done = self.edge.push(e);
                        self.pending.extend(done);
                    }
                    let waiting = self.edge.size() - self.published;
                    if waiting >= every && (last_ok || last.elapsed() >= interval) {
                        last_ok = self.publish().is_ok();
                        last = Instant::now();
                    }
                }
                Ok(PubMsg::Cosign { body, line, reply }) => {
                    let _ = reply.send(self.cosign(&body, line));
                }
                Ok(PubMsg::Close { reply }) => {
                    let r = if self.edge.size() > self.published {
                        self.publish()
                    } else {
                        Ok(())
                    };
                    if let Some(reply) = reply {
                        let _ = reply.send(r);
                    }
                    return;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.edge.size() > self.published {
                        last_ok = self.publish().is_ok();
                        last = Instant::now();
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    if self.edge.size() > self.published {
                        let _ = self.publish();
                    }
                    return;
                }
            }
        }
    }

    fn write(&mut self, rel: &str, data: &[u8], dirs: &mut HashSet<PathBuf>) -> Result<(), LogError> {
        let path = self.dir.join(rel);
        self.storage
            .write_file(&self.staging, &path, data)
            .map_err(storage_err(format!("writing {rel}")))?;
        // The file's directory needs an fsync for the rename; a directory new to us needs its own entry
        // made durable in its parent, and so on up.
        let mut d = path.parent().map(Path::to_path_buf);
        while let Some(dir) = d {
            dirs.insert(dir.clone());
            if dir == self.dir || self.durable_dirs.contains(&dir) {
                break;
            }
            d = dir.parent().map(Path::to_path_buf);
        }
        Ok(())
    }

    fn sync_dirs(&mut self, dirs: HashSet<PathBuf>) -> Result<(), LogError> {
        let mut dirs: Vec<PathBuf> = dirs.into_iter().collect();
        // Deepest first, so a parent is synced after the children whose entries it holds.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            self.storage
                .sync_dir(&d)
                .map_err(storage_err(format!("syncing {}", d.display())))?;
            self.durable_dirs.insert(d);
        }
        Ok(())
    }

    /// Publishes the tree as it stands: tiles and bundles, then the history file, then the checkpoint.
    fn publish(&mut self) -> Result<(), LogError> {
        let r = self.try_publish();
        self.shared.publish_healthy.store(r.is_ok(), Ordering::SeqCst);
        r
    }

    fn try_publish(&mut self) -> Result<(), LogError> {
        let size = self.edge.size();
        let mut dirs = HashSet::new();
        let files: Vec<TileFile> = self.pending.iter().cloned().chain(self.edge.partial_files()).collect();
        for f in &files {
            self.write(&f.path, &f.data, &mut dirs)?;
        }
        self.sync_dirs(dirs)?;
        let cp = Checkpoint::new(self.signer.name(), size, self.edge.root());
        let body = cp.body();
        let text = cp.sign(&self.signer).map_err(|e| LogError::Recovery(e.to_string()))?;
        let mut dirs = HashSet::new();
        self.write("checkpoint", text.as_bytes(), &mut dirs)?;
        self.sync_dirs(dirs)?;
        // History after the checkpoint: a history file newer than the checkpoint would read as a
        // rollback. A crash in between loses only this file, which `open` writes again.
        self.write_history(size, &text)?;
        // Partial versions of tiles that are now full may go (tlog-tiles §Partial Tiles).
        for f in self.pending.iter().filter(|f| f.tile.is_full()) {
            let dir = if f.path.starts_with("tile/entries/") {
                f.tile.partial_bundle_dir()
            } else {
                f.tile.partial_dir()
            };
            let _ = self.storage.remove_dir_all(&self.dir.join(dir));
        }
        self.pending.clear();
        self.published = size;
        {
            let mut s = lock(&self.shared.served);
            *s = Served {
                checkpoint: text,
                body,
                cosignatures: Vec::new(),
            };
        }
        self.shared.published.store(size, Ordering::SeqCst);
        Ok(())
    }

    fn write_history(&mut self, size: u64, text: &str) -> Result<(), LogError> {
        if !self.keep_history {
            return Ok(());
        }
        let mut dirs = HashSet::new();
        self.write(
            &format!("{HISTORY_DIR}/{}", encode_index(size)),
            text.as_bytes(),
            &mut dirs,
        )?;
        self.sync_dirs(dirs)
    }

    fn cosign(&mut self, body: &str, line: SignatureLine) -> Result<(), LogError> {
        let text = {
            let mut s = lock(&self.shared.served);
            if s.body != body {
                return Err(LogError::Cosignature(
                    "that checkpoint is no longer the one served".into(),
                ));
            }
            s.cosignatures
                .retain(|c| !(c.name == line.name && c.key_id == line.key_id));
            s.cosignatures.push(line);
            served_text(&s.checkpoint, &s.cosignatures)
        };
        let mut dirs = HashSet::new();
        self.write("checkpoint", text.as_bytes(), &mut dirs)?;
        self.sync_dirs(dirs)
    }
}
