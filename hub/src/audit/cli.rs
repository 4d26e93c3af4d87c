//! `hub audit …`: the auditor's command line over assertion logs (DESIGN.md "Audit log"). `verify` checks
//! every hash, every checkpoint signature and the consistency of successive checkpoints, naming the first
//! bad entry or tile; `query` and `export` find entries across the logs of several instances; `prove`
//! writes a `c2sp.org/tlog-proof@v1` inclusion proof (or a consistency proof between checkpoints);
//! `check-proof` checks such a file offline with only the log's verifier key.
//!
//! `query`, `export` and `prove --entry-out` read entries only from tiles checked against the signed
//! checkpoint's root; they collect everything before printing or writing, so an entry or tile that does
//! not check makes them fail (non-zero, naming the log and the tile) having printed and written nothing.

use super::{
    dates,
    query::{self, Filter, Found, LogSource},
};
use clap::{Args, Subcommand, ValueEnum};
use std::{io::Write as _, path::PathBuf};

/// The logs a command reads: `--log DIR` (repeatable), each with the verifier key to trust (`--vkey`, in
/// the same order; a log without one is checked against its directory's own `vkey` file, with a
/// warning: an auditor should have the key from elsewhere).
#[derive(Debug, Clone, Args)]
pub struct Logs {
    /// A log directory (one per hub instance).
    #[arg(long = "log", required = true)]
    pub logs: Vec<PathBuf>,
    /// The signed-note verifier key of each log, in the order of `--log`.
    #[arg(long = "vkey")]
    pub vkeys: Vec<String>,
}

impl Logs {
    /// The logs with their keys.
    pub fn sources(&self) -> Result<Vec<LogSource>, String> {
        self.logs
            .iter()
            .enumerate()
            .map(|(i, dir)| {
                let vkey = match self.vkeys.get(i) {
                    Some(v) => v.clone(),
                    None => {
                        let v = query::vkey_of(dir).ok_or_else(|| {
                            format!("{}: no --vkey given and no vkey file in the directory", dir.display())
                        })?;
                        eprintln!(
                            "warning: {} is checked against its own vkey file; give --vkey to trust a key of your own",
                            dir.display()
                        );
                        v
                    }
                };
                Ok(LogSource { dir: dir.clone(), vkey })
            })
            .collect()
    }
}

/// Which entries: every condition given must hold.
#[derive(Debug, Clone, Default, Args)]
pub struct Filters {
    /// A service's client_id.
    #[arg(long)]
    pub service: Option<String>,
    /// A provider's id.
    #[arg(long)]
    pub provider: Option<String>,
    /// An event (assertion_issued, provider_answered, …).
    #[arg(long)]
    pub event: Option<String>,
    /// A pairwise sub.
    #[arg(long)]
    pub sub: Option<String>,
    /// A level asked or reached (Cl.Cm.P2, or P2).
    #[arg(long)]
    pub level: Option<String>,
    /// An outcome (success, denied, …) or an error code a service got.
    #[arg(long)]
    pub outcome: Option<String>,
    /// From this day or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC), inclusive.
    #[arg(long)]
    pub from: Option<String>,
    /// Until this day (the whole day included) or time, UTC.
    #[arg(long)]
    pub to: Option<String>,
}

impl Filters {
    fn filter(&self) -> Result<Filter, String> {
        let from = self.from.as_deref().map(|t| parse_time(t, false)).transpose()?;
        let until = self.to.as_deref().map(|t| parse_time(t, true)).transpose()?;
        Ok(Filter {
            service: self.service.clone(),
            provider: self.provider.clone(),
            event: self.event.clone(),
            sub: self.sub.clone(),
            level: self.level.clone(),
            outcome: self.outcome.clone(),
            since: from,
            until,
        })
    }
}

/// How `query` and `export` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line an entry, for reading.
    Table,
    /// JSON Lines: one object an entry, with its log and index.
    Jsonl,
    /// CSV with a header row.
    Csv,
}

/// The auditor's commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every hash, every checkpoint signature and successive checkpoints' consistency.
    Verify {
        #[command(flatten)]
        logs: Logs,
    },
    /// Find entries across the logs.
    Query {
        #[command(flatten)]
        logs: Logs,
        #[command(flatten)]
        filters: Filters,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Write the entries found as CSV or JSON Lines.
    Export {
        #[command(flatten)]
        logs: Logs,
        #[command(flatten)]
        filters: Filters,
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        /// The file to write (else standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write an inclusion proof of one entry (c2sp.org/tlog-proof@v1), or with `--consistency` a
    /// consistency proof from an earlier checkpoint to the log's current one.
    Prove {
        #[command(flatten)]
        logs: Logs,
        /// The entry's index in the log.
        #[arg(long, required_unless_present = "consistency")]
        index: Option<u64>,
        /// A file holding an earlier checkpoint of the log.
        #[arg(long)]
        consistency: Option<PathBuf>,
        /// The file to write (else standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write the entry's exact bytes here, to hand over with its proof.
        #[arg(long, requires = "index")]
        entry_out: Option<PathBuf>,
    },
    /// Check a proof file offline, with only the log's verifier key.
    CheckProof {
        /// The proof file.
        file: PathBuf,
        /// The log's signed-note verifier key.
        #[arg(long)]
        vkey: String,
        /// The entry the inclusion proof is for, as a file holding its exact bytes (one JSON object).
        #[arg(long)]
        entry: Option<PathBuf>,
        /// The file is a consistency proof.
        #[arg(long)]
        consistency: bool,
    },
}

/// `YYYY-MM-DD` (a day; `end` gives the next day's start) or `YYYY-MM-DDTHH:MM:SSZ`, in seconds (UTC).
pub fn parse_time(text: &str, end: bool) -> Result<i64, String> {
    let bad = || format!("{text:?} is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    match text.split_once('T') {
        None => {
            let day = dates::parse_day(text).ok_or_else(bad)?;
            Ok(dates::start_of(if end { day + 1 } else { day }))
        }
        Some((day, clock)) => {
            let day = dates::parse_day(day).ok_or_else(bad)?;
            let clock = clock.strip_suffix('Z').ok_or_else(bad)?;
            let hms = time::macros::format_description!("[hour]:[minute]:[second]");
            let t = time::Time::parse(clock, &hms).map_err(|_| bad())?;
            let (h, m, s) = t.as_hms();
            Ok(dates::start_of(day) + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s))
        }
    }
}

/// A time in seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(secs: i64) -> String {
    dates::iso(secs)
}

/// One entry as a flat JSON object: its log, index, readable time, and every field of the entry.
fn flat(found: &Found) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    out.insert("log".into(), found.origin.clone().into());
    out.insert("index".into(), found.index.into());
    out.insert("utc".into(), format_time(found.entry.time).into());
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&found.entry) {
        out.extend(fields);
    }
    out
}

/// The CSV columns, after log, index and time: the entry's common fields; the rest go to `details`.
const COLUMNS: &[&str] = &[
    "event",
    "journey",
    "client_id",
    "provider_id",
    "sub",
    "levels_asked",
    "level_reached",
    "outcome",
    "error",
    "claims_released",
    "return_code",
];

fn cell(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string()))
            .collect::<Vec<_>>()
            .join(" "),
        Some(other) => other.to_string(),
    }
}

/// What [`write_found`] returns when its reader stopped reading (`| head`): not a failure.
const READER_GONE: &str = "the reader stopped reading";

fn write_found(found: &[Found], format: Format, out: &mut dyn std::io::Write) -> Result<(), String> {
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::BrokenPipe => READER_GONE.to_string(),
        _ => e.to_string(),
    };
    let csv_err = |e: csv::Error| match e.kind() {
        csv::ErrorKind::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe => READER_GONE.to_string(),
        _ => e.to_string(),
    };
    match format {
        Format::Table => {
            for f in found {
                let mut fields = flat(f);
                let event = cell(fields.get("event"));
                for k in ["log", "index", "utc", "event", "time"] {
                    fields.shift_remove(k);
                }
                writeln!(
                    out,
                    "{}  {}#{}  {event}  {}",
                    format_time(f.entry.time),
                    f.origin,
                    f.index,
                    serde_json::Value::Object(fields)
                )
                .map_err(io)?;
            }
        }
        Format::Jsonl => {
            for f in found {
                writeln!(out, "{}", serde_json::Value::Object(flat(f))).map_err(io)?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let mut header = vec!["log", "index", "utc", "time"];
            header.extend(COLUMNS);
            header.push("details");
            w.write_record(&header).map_err(csv_err)?;
            for f in found {
                let mut fields = flat(f);
                let mut row = vec![
                    f.origin.clone(),
                    f.index.to_string(),
                    format_time(f.entry.time),
                    f.entry.time.to_string(),
                ];
                for c in COLUMNS {
                    row.push(cell(fields.get(*c)));
                }
                for k in ["log", "index", "utc", "time"].iter().chain(COLUMNS) {
                    fields.shift_remove(*k);
                }
                row.push(if fields.is_empty() {
                    String::new()
                } else {
                    serde_json::Value::Object(fields).to_string()
                });
                w.write_record(&row).map_err(csv_err)?;
            }
            w.flush().map_err(io)?;
        }
    }
    Ok(())
}

fn output(path: &Option<PathBuf>) -> Result<Box<dyn std::io::Write>, String> {
    Ok(match path {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => Box::new(std::io::stdout()),
    })
}

/// Runs an auditor's command; `Err` is what to print before exiting non-zero.
pub fn run(command: AuditCommand) -> Result<(), String> {
    match command {
        AuditCommand::Verify { logs } => {
            let mut failed = false;
            for source in logs.sources()? {
                match tlog::verify_dir(&source.dir, &source.vkey) {
                    Ok(report) => println!(
                        "ok: {} ({}): {} entries, {} tiles, root {}",
                        report.origin,
                        source.dir.display(),
                        report.entries,
                        report.tiles,
                        report.root.to_base64()
                    ),
                    Err(e) => {
                        failed = true;
                        println!("FAILED: {} ({}): {e}", source.origin(), source.dir.display());
                    }
                }
            }
            if failed {
                return Err("a log does not verify".into());
            }
            Ok(())
        }
        AuditCommand::Query { logs, filters, format } => {
            let found = query::query(&logs.sources()?, &filters.filter()?).map_err(|e| e.to_string())?;
            match write_found(&found, format, &mut std::io::stdout()) {
                Err(e) if e == READER_GONE => return Ok(()),
                done => done?,
            }
            eprintln!("{} entries", found.len());
            Ok(())
        }
        AuditCommand::Export {
            logs,
            filters,
            format,
            out,
        } => {
            let found = query::query(&logs.sources()?, &filters.filter()?).map_err(|e| e.to_string())?;
            match write_found(&found, format, &mut output(&out)?) {
                Err(e) if e == READER_GONE => return Ok(()),
                done => done?,
            }
            eprintln!("{} entries exported", found.len());
            Ok(())
        }
        AuditCommand::Prove {
            logs,
            index,
            consistency,
            out,
            entry_out,
        } => {
            let sources = logs.sources()?;
            let [source] = sources.as_slice() else {
                return Err("prove takes exactly one --log".into());
            };
            let reader = tlog::storage::DirReader(source.dir.clone());
            let text = match (index, consistency) {
                (_, Some(old)) => {
                    let old = std::fs::read_to_string(&old).map_err(|e| format!("{}: {e}", old.display()))?;
                    tlog::read::prove_consistency(&reader, &source.vkey, &old).map_err(|e| e.to_string())?
                }
                (Some(index), None) => {
                    tlog::read::prove_inclusion(&reader, &source.vkey, index, None).map_err(|e| e.to_string())?
                }
                (None, None) => return Err("give --index or --consistency".into()),
            };
            if let (Some(path), Some(index)) = (&entry_out, index) {
                // Only the entry's bundle is read; its tile is checked against the signed root first.
                let (_, mut entries) =
                    tlog::read::read_entries_in(&source.dir, &source.vkey, index..index.saturating_add(1))
                        .map_err(|e| format!("{}: {e}", source.dir.display()))?;
                let (_, bytes) = entries
                    .next()
                    .transpose()
                    .map_err(|e| format!("{}: {e}", source.dir.display()))?
                    .ok_or_else(|| format!("the log has no entry {index}"))?;
                std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            output(&out)?.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
            Ok(())
        }
        AuditCommand::CheckProof {
            file,
            vkey,
            entry,
            consistency,
        } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            if consistency {
                let (old, new) = tlog::proof::check_consistency_proof(&text, &vkey).map_err(|e| e.to_string())?;
                println!(
                    "ok: {} grew from {} to {} entries without changing the first {}",
                    new.origin, old.size, new.size, old.size
                );
                return Ok(());
            }
            let bytes = match &entry {
                Some(p) => std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?,
                None => return Err("give --entry FILE, the entry's exact bytes".into()),
            };
            let checked =
                tlog::proof::check_proof(&text, tlog::proof::Leaf::Entry(&bytes), &vkey).map_err(|e| e.to_string())?;
            println!(
                "ok: entry {} is in {} at size {}, root {}, signed by the log's key",
                checked.index,
                checked.checkpoint.origin,
                checked.checkpoint.size,
                checked.checkpoint.root.to_base64()
            );
            for (witness, time) in &checked.cosigned_by {
                println!(
                    "cosigned by {witness} at {}",
                    format_time(i64::try_from(*time).unwrap_or(i64::MAX))
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_table() {
        let cases = [
            ("1970-01-01", false, Ok(0)),
            ("1970-01-01", true, Ok(86_400)),
            ("2026-12-01", false, Ok(1_796_083_200)),
            ("2026-12-01T10:30:00Z", false, Ok(1_796_083_200 + 37_800)),
            ("2024-02-29", false, Ok(1_709_164_800)),
            ("2026-13-01", false, Err(())),
            ("yesterday", false, Err(())),
            ("2026-12-01T10:30:00", false, Err(())),
            ("2026-12-01T24:00:00Z", false, Err(())),
            ("2026-02-30", false, Err(())),
        ];
        for (text, end, want) in cases {
            assert_eq!(parse_time(text, end).map_err(|_| ()), want, "{text}");
        }
        assert_eq!(format_time(1_796_083_200 + 37_800), "2026-12-01T10:30:00Z");
    }
}
