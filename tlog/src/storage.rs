//! The file-system seams. [`LogReader`] is how the verifier and reader see a published log (a
//! directory, or anything that serves its paths), so they are pure over it. [`Storage`] and [`WalFile`]
//! are every write the [`crate::Log`] makes, so tests can make a disk fail on command (root ignores
//! `chmod`, and there is no tmpfs to fill).

use crate::merkle::TreeError;
use crate::tile::{split_hashes, TileHashes, TileId, TileSource};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Reads files of a published log by their path relative to its root (`checkpoint`, `tile/0/000`).
pub trait LogReader {
    /// The file's bytes, or `None` if there is no such file.
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>>;
}

/// A [`LogReader`] over a directory.
#[derive(Clone, Debug)]
pub struct DirReader(pub PathBuf);

impl LogReader for DirReader {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.0.join(path)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl<R: LogReader + ?Sized> LogReader for &R {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        (**self).read(path)
    }
}

/// Tiles read through a [`LogReader`]: a missing partial tile falls back to the full tile, which the
/// spec lets a log serve instead once it exists (tlog-tiles §Partial Tiles).
pub struct ReaderTiles<R>(pub R);

impl<R: LogReader> TileSource for ReaderTiles<R> {
    fn tile_hashes(&self, tile: TileId) -> Result<TileHashes, TreeError> {
        let read = |path: String| -> Result<Option<Vec<u8>>, TreeError> {
            self.0.read(&path).map_err(|e| TreeError::Read {
                place: path.clone(),
                reason: e.to_string(),
            })
        };
        let mut data = read(tile.path())?;
        if data.is_none() && !tile.is_full() {
            data = read(TileId { width: 256, ..tile }.path())?;
        }
        let data = data.ok_or_else(|| TreeError::Read {
            place: tile.path(),
            reason: "missing".into(),
        })?;
        let hashes = split_hashes(&data).ok_or_else(|| TreeError::Read {
            place: tile.path(),
            reason: "not a whole number of hashes".into(),
        })?;
        Ok(Arc::new(hashes))
    }
}

/// The append-only write-ahead file.
pub trait WalFile: Send {
    /// Reads the whole file.
    fn read_all(&mut self) -> io::Result<Vec<u8>>;
    /// Appends bytes at the end.
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Makes everything appended durable (fdatasync).
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes and makes that durable.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

/// Every write the log makes to its directory.
pub trait Storage: Send + Sync {
    /// Opens the write-ahead file, or `None` if it does not exist.
    fn open_wal(&self, path: &Path) -> io::Result<Option<Box<dyn WalFile>>>;
    /// Atomically replaces the write-ahead file with one holding `contents` (temp, fsync, rename, fsync of
    /// the directory) and returns it open for appending. An outer error means `path` still names the old
    /// file; once renamed, the handle is returned whatever the directory fsync said, with that result
    /// beside it, so the caller never appends to a file that is no longer at `path`.
    fn create_wal(&self, path: &Path, contents: &[u8]) -> io::Result<(Box<dyn WalFile>, io::Result<()>)>;
    /// Writes a file durably and atomically: a temp file in `staging`, fsync, rename to `path` (creating
    /// its directories). The directory entry is made durable by [`Storage::sync_dir`].
    fn write_file(&self, staging: &Path, path: &Path, data: &[u8]) -> io::Result<()>;
    /// Fsyncs a directory, making the entries renamed into it durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory and what it holds, if it exists.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
}

/// The real disk.
#[derive(Debug, Default, Clone, Copy)]
pub struct DiskStorage;

struct DiskWal(File);

impl WalFile for DiskWal {
    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.0.seek(SeekFrom::Start(0))?;
        self.0.read_to_end(&mut out)?;
        self.0.seek(SeekFrom::End(0))?;
        Ok(out)
    }
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.0.write_all(data)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)?;
        self.0.seek(SeekFrom::Start(len))?;
        self.0.sync_all()
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_name(staging: &Path) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    staging.join(format!("{}-{n}.tmp", std::process::id()))
}

impl Storage for DiskStorage {
    fn open_wal(&self, path: &Path) -> io::Result<Option<Box<dyn WalFile>>> {
        match OpenOptions::new().read(true).write(true).open(path) {
            Ok(mut f) => {
                f.seek(SeekFrom::End(0))?;
                Ok(Some(Box::new(DiskWal(f))))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn create_wal(&self, path: &Path, contents: &[u8]) -> io::Result<(Box<dyn WalFile>, io::Result<()>)> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = path.with_extension("new");
        // The handle is opened before the rename, so it is the file `path` names once the rename is done.
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok((Box::new(DiskWal(f)), self.sync_dir(dir)))
    }

    fn write_file(&self, staging: &Path, path: &Path, data: &[u8]) -> io::Result<()> {
        let tmp = temp_name(staging);
        let result = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        match fs::remove_dir_all(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }
}

/// A disk that fails on command: every write, fsync and rename returns "no space left" while the switch
/// is on, and a write-ahead append takes part of its bytes first, as a full disk does. It can also make
/// each write-ahead fsync slow and counts them, so tests can watch group commit. Reads always work.
#[derive(Debug, Clone, Default)]
pub struct FaultyDisk {
    inner: Arc<FaultState>,
}

#[derive(Debug, Default)]
struct FaultState {
    broken: std::sync::atomic::AtomicBool,
    sync_delay_ms: AtomicU64,
    wal_syncs: AtomicU64,
}

impl FaultyDisk {
    /// A healthy disk with a switch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Breaks (`true`) or repairs (`false`) the disk.
    pub fn set_broken(&self, broken: bool) {
        self.inner.broken.store(broken, Ordering::SeqCst);
    }

    /// Makes every write-ahead fsync take at least `ms` milliseconds.
    pub fn set_sync_delay_ms(&self, ms: u64) {
        self.inner.sync_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// How many write-ahead fsyncs succeeded.
    pub fn wal_syncs(&self) -> u64 {
        self.inner.wal_syncs.load(Ordering::SeqCst)
    }

    fn check(&self) -> io::Result<()> {
        if self.inner.broken.load(Ordering::SeqCst) {
            Err(io::Error::other("no space left on device (simulated)"))
        } else {
            Ok(())
        }
    }
}

struct FaultyWal {
    inner: Box<dyn WalFile>,
    disk: FaultyDisk,
}

impl WalFile for FaultyWal {
    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        self.inner.read_all()
    }
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        if self.disk.check().is_err() {
            self.inner.append(&data[..data.len() / 2])?;
            return self.disk.check();
        }
        self.inner.append(data)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.disk.check()?;
        let delay = self.disk.inner.sync_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_millis(delay));
        }
        self.inner.sync()?;
        self.disk.inner.wal_syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.disk.check()?;
        self.inner.truncate(len)
    }
}

impl Storage for FaultyDisk {
    fn open_wal(&self, path: &Path) -> io::Result<Option<Box<dyn WalFile>>> {
        Ok(DiskStorage.open_wal(path)?.map(|inner| {
            Box::new(FaultyWal {
                inner,
                disk: self.clone(),
            }) as Box<dyn WalFile>
        }))
    }
    fn create_wal(&self, path: &Path, contents: &[u8]) -> io::Result<(Box<dyn WalFile>, io::Result<()>)> {
        self.check()?;
        let (inner, synced) = DiskStorage.create_wal(path, contents)?;
        Ok((
            Box::new(FaultyWal {
                inner,
                disk: self.clone(),
            }),
            synced,
        ))
    }
    fn write_file(&self, staging: &Path, path: &Path, data: &[u8]) -> io::Result<()> {
        self.check()?;
        DiskStorage.write_file(staging, path, data)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.check()?;
        DiskStorage.sync_dir(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.check()?;
        DiskStorage.remove_dir_all(path)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.check()?;
        DiskStorage.create_dir_all(path)
    }
}
