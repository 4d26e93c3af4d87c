//! `loadgen`: plays many services and people signing in through the hub at once, each virtual person a
//! browser and each service a strict OIDC client, and reports sign-ins per second, latency per step, errors
//! by kind and the CPU each watched process spent per sign-in. Benchmarks print figures; tests never time.
//!
//! [`run`] drives the load; [`journey`] is one sign-in; [`verify`] what a client checks; [`procs`] the CPU
//! accounting from `/proc`.

pub mod cli;
mod clock;
pub mod form;
pub mod hubs;
pub mod jar;
pub mod journey;
pub mod procs;
pub mod stats;
pub mod verify;

pub use cli::Args;

use anyhow::Context as _;
use cli::{Limit, Mode};
use journey::{Ctx, JourneyError, Secrets, Service};
use serde::Serialize;
use stats::{Figures, Stats, StepTimes};
use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

/// Runs [`run`] on a runtime of `args.threads` threads.
pub fn run_blocking(args: &Args) -> anyhow::Result<Report> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(usize::from(args.threads))
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(run(args))
}

/// One watched process name's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessFigures {
    pub name: String,
    pub pids: Vec<u32>,
    /// CPU seconds (user + system) used while measuring.
    pub cpu_seconds: f64,
    /// CPU milliseconds per completed sign-in (or request round).
    pub cpu_ms_per_sign_in: Option<f64>,
    /// Resident memory at the end, MiB (all its processes).
    pub rss_mib: f64,
}

/// Every figure of a run; printed as a table or, with `--json`, as one JSON object.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: &'static str,
    pub level: &'static str,
    pub hubs: Vec<String>,
    pub concurrency: u32,
    /// Wall-clock seconds measured.
    pub seconds: f64,
    /// Sign-ins (token mode: redemptions; discovery mode: rounds) that succeeded.
    pub completed: u64,
    pub failed: u64,
    pub per_second: f64,
    pub steps: BTreeMap<&'static str, Figures>,
    /// Step names in journey order, for reading `steps`.
    pub step_order: Vec<&'static str>,
    pub end_to_end: Option<Figures>,
    pub errors: BTreeMap<String, u64>,
    pub processes: Vec<ProcessFigures>,
}

/// What each virtual user does, round after round.
enum Work {
    Journey,
    /// Redeem codes collected beforehand.
    Token(Mutex<Vec<(String, Secrets)>>),
    Discovery,
}

/// When rounds are measured, and when they stop.
struct Control {
    measure_from: Instant,
    deadline: Option<Instant>,
    count: Option<u64>,
    tickets: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    stop: AtomicBool,
}

impl Control {
    fn new(limit: Limit, warmup: f64) -> Self {
        let measure_from = Instant::now() + Duration::from_secs_f64(warmup);
        let (deadline, count) = match limit {
            Limit::Count(n) => (None, Some(n)),
            Limit::Seconds(s) => (Some(measure_from + Duration::from_secs_f64(s)), None),
        };
        Self {
            measure_from,
            deadline,
            count,
            tickets: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        }
    }

    /// Whether the next round is measured, or `None` when no more rounds should start.
    fn next_round(&self) -> Option<bool> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let now = Instant::now();
        if now < self.measure_from {
            return Some(false);
        }
        if self.deadline.is_some_and(|d| now >= d) {
            return None;
        }
        if let Some(n) = self.count {
            if self.tickets.fetch_add(1, Ordering::Relaxed) >= n {
                return None;
            }
        }
        Some(true)
    }
}

async fn one_round(ctx: &Ctx, work: &Work, times: &mut StepTimes) -> Result<bool, JourneyError> {
    match work {
        Work::Journey => ctx.journey(times).await.map(|()| true),
        Work::Discovery => ctx.discovery(times).await.map(|()| true),
        Work::Token(codes) => {
            let next = codes.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let Some((code, secrets)) = next else {
                return Ok(false);
            };
            ctx.redeem(&code, &secrets, times).await.map(|_| true)
        }
    }
}

async fn virtual_user(ctx: Arc<Ctx>, work: Arc<Work>, control: Arc<Control>, stats: Arc<Mutex<Stats>>) {
    while let Some(measured) = control.next_round() {
        let mut times = StepTimes::default();
        let started = Instant::now();
        let result = one_round(&ctx, &work, &mut times).await;
        let took = started.elapsed();
        if !measured {
            continue;
        }
        let mut stats = stats.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(true) => {
                stats.ok(&times, took);
                control.completed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) => break,
            Err(e) => {
                stats.failed(e.kind());
                control.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Prints a progress line on stderr every few seconds until told to stop.
async fn progress(control: Arc<Control>, label: &'static str) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    let mut last = (Instant::now(), 0u64);
    loop {
        tick.tick().await;
        let now = Instant::now();
        if now < control.measure_from {
            eprintln!("loadgen: warming up");
            continue;
        }
        // The first interval measured starts with the measuring, not with the warm-up.
        last.0 = last.0.max(control.measure_from);
        let done = control.completed.load(Ordering::Relaxed);
        let failed = control.failed.load(Ordering::Relaxed);
        let rate = (done - last.1.min(done)) as f64 / now.duration_since(last.0).as_secs_f64();
        eprintln!(
            "loadgen: {:.0} s, {done} {label} ({rate:.1}/s now), {failed} failed",
            now.duration_since(control.measure_from).as_secs_f64()
        );
        last = (now, done);
    }
}

/// Runs `concurrency` virtual users until the limit, returning the figures and the measured wall time.
async fn drive(
    ctx: &Arc<Ctx>,
    work: Work,
    args: &Args,
    limit: Limit,
    warmup: f64,
) -> anyhow::Result<(Stats, Duration, Vec<u64>, Vec<procs::Watched>)> {
    let watched = procs::resolve(&args.pids, &args.processes);
    let control = Arc::new(Control::new(limit, warmup));
    let stats = Arc::new(Mutex::new(Stats::new()?));
    let work = Arc::new(work);
    let label = match args.mode {
        Mode::Journey => "sign-ins",
        Mode::Token => "redemptions",
        Mode::Discovery => "rounds",
    };
    let progress = tokio::spawn(progress(control.clone(), label));
    let mut users = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        users.spawn(virtual_user(ctx.clone(), work.clone(), control.clone(), stats.clone()));
    }
    tokio::time::sleep_until(control.measure_from.into()).await;
    let before = procs::snapshot(&watched);
    let start = Instant::now();
    let interrupted = tokio::select! {
        _ = async { while users.join_next().await.is_some() {} } => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    if interrupted {
        eprintln!("loadgen: interrupted; finishing the sign-ins under way");
        control.stop.store(true, Ordering::Relaxed);
        while users.join_next().await.is_some() {}
    }
    let wall = start.elapsed();
    let after = procs::snapshot(&watched);
    progress.abort();
    let ticks = after.iter().zip(&before).map(|(a, b)| a.saturating_sub(*b)).collect();
    let stats = Arc::try_unwrap(stats)
        .map_err(|_| anyhow::anyhow!("a virtual user outlived the run"))?
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    Ok((stats, wall, ticks, watched))
}

/// Collects `n` codes by untimed sign-ins, for token mode.
async fn collect_codes(ctx: &Arc<Ctx>, n: u64, concurrency: u32) -> anyhow::Result<Vec<(String, Secrets)>> {
    let wanted = Arc::new(AtomicU64::new(0));
    let mut users = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (ctx, wanted) = (ctx.clone(), wanted.clone());
        users.spawn(async move {
            let mut codes = Vec::new();
            let mut errors = 0u64;
            while wanted.fetch_add(1, Ordering::Relaxed) < n {
                let secrets = Secrets::new();
                match ctx.sign_in(&secrets, &mut StepTimes::default()).await {
                    Ok(code) => codes.push((code, secrets)),
                    Err(_) => errors += 1,
                }
            }
            (codes, errors)
        });
    }
    let (mut codes, mut errors) = (Vec::new(), 0);
    while let Some(done) = users.join_next().await {
        let (c, e) = done?;
        codes.extend(c);
        errors += e;
    }
    if errors > 0 {
        eprintln!(
            "loadgen: {errors} of {n} sign-ins collecting codes failed; timing the {} codes got",
            codes.len()
        );
    }
    Ok(codes)
}

/// Discovers the hub, drives the load the arguments ask for, and gathers the report.
pub async fn run(args: &Args) -> anyhow::Result<Report> {
    args.check()?;
    let key = match &args.key {
        Some(path) => keys::SigningKey::load(path).with_context(|| format!("--key {}", path.display()))?,
        // Discovery mode signs nothing; a throwaway key keeps the context whole.
        None => keys::SigningKey::generate()?,
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs_f64(args.timeout))
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::try_from(args.concurrency).unwrap_or(usize::MAX) * 2)
        .build()
        .context("HTTP client")?;
    let identity = args.level.identity() && args.mode == Mode::Journey;
    let hub = hubs::Hub::discover(&http, &args.hubs, identity).await?;
    let ctx = Arc::new(Ctx {
        http,
        hub,
        service: Service {
            client_id: args.client_id.clone(),
            key,
            redirect_uri: args.redirect_uri.clone(),
            scope: args.scope.clone(),
            level: args.level,
            provider: args.stub_provider.clone(),
            peer: args.peer,
        },
        kept: args.tokens_out.as_ref().map(|_| Mutex::default()),
    });
    let (work, limit, warmup) = match args.mode {
        Mode::Journey => (Work::Journey, args.limit(), args.warmup),
        Mode::Discovery => (Work::Discovery, args.limit(), args.warmup),
        Mode::Token => {
            let n = args.count.unwrap_or(0);
            eprintln!("loadgen: collecting {n} codes by untimed sign-ins");
            let codes = collect_codes(&ctx, n, args.concurrency).await?;
            let got = codes.len() as u64;
            (Work::Token(Mutex::new(codes)), Limit::Count(got), 0.0)
        }
    };
    let (stats, wall, ticks, watched) = drive(&ctx, work, args, limit, warmup).await?;
    if let (Some(path), Some(kept)) = (&args.tokens_out, &ctx.kept) {
        let kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
        let lines: String = kept.iter().map(|(token, sub)| format!("{token}\t{sub}\n")).collect();
        std::fs::write(path, lines).with_context(|| format!("--tokens-out {}", path.display()))?;
    }
    let per_tick = 1.0 / procs::ticks_per_second() as f64;
    let completed = stats.completed;
    let processes = watched
        .into_iter()
        .zip(ticks)
        .map(|(w, t)| {
            let cpu_seconds = t as f64 * per_tick;
            let rss: u64 = w.pids.iter().filter_map(|p| procs::rss_bytes(*p)).sum();
            ProcessFigures {
                name: w.name,
                pids: w.pids,
                cpu_seconds,
                cpu_ms_per_sign_in: (completed > 0).then(|| cpu_seconds * 1000.0 / completed as f64),
                rss_mib: rss as f64 / (1024.0 * 1024.0),
            }
        })
        .collect();
    let step_figures = stats.step_figures();
    Ok(Report {
        mode: args.mode.name(),
        level: args.level.name(),
        hubs: args
            .hubs
            .iter()
            .map(|h| h.as_str().trim_end_matches('/').to_string())
            .collect(),
        concurrency: args.concurrency,
        seconds: wall.as_secs_f64(),
        completed,
        failed: stats.failed,
        per_second: completed as f64 / wall.as_secs_f64().max(f64::EPSILON),
        step_order: step_figures.iter().map(|(n, _)| *n).collect(),
        steps: step_figures.into_iter().collect(),
        end_to_end: stats.end_to_end(),
        errors: stats.errors().clone(),
        processes,
    })
}

impl Report {
    /// The report as the table people read, or as one JSON object.
    pub fn render(&self, json: bool) -> String {
        if json {
            return serde_json::to_string(self).unwrap_or_default();
        }
        use std::fmt::Write as _;
        let mut out = String::new();
        let what = match self.mode {
            "journey" => "sign-ins",
            "token" => "token redemptions",
            _ => "discovery rounds",
        };
        let _ = writeln!(
            out,
            "loadgen {} at {}, {} virtual users, {} hub instance(s): {} {what} ok, {} failed in {:.2} s = {:.1}/s",
            self.mode,
            self.level,
            self.concurrency,
            self.hubs.len(),
            self.completed,
            self.failed,
            self.seconds,
            self.per_second
        );
        let _ = writeln!(
            out,
            "{:<20}{:>9}{:>9}{:>9}{:>9}{:>9}",
            "latency (ms)", "p50", "p90", "p99", "max", "count"
        );
        let row = |out: &mut String, name: &str, f: &Figures| {
            let _ = writeln!(
                out,
                "{name:<20}{:>9.2}{:>9.2}{:>9.2}{:>9.2}{:>9}",
                f.p50_ms, f.p90_ms, f.p99_ms, f.max_ms, f.count
            );
        };
        for name in &self.step_order {
            if let Some(f) = self.steps.get(name) {
                row(&mut out, name, f);
            }
        }
        if let Some(f) = &self.end_to_end {
            row(&mut out, "end to end", f);
        }
        if self.errors.is_empty() {
            let _ = writeln!(out, "errors: none");
        } else {
            let _ = writeln!(out, "errors:");
            for (kind, n) in &self.errors {
                let _ = writeln!(out, "  {n:>7}  {kind}");
            }
        }
        let _ = writeln!(
            out,
            "{:<20}{:>12}{:>12}{:>12}  pids",
            "process", "cpu ms/op", "cpu s", "rss MiB"
        );
        for p in &self.processes {
            let per = p.cpu_ms_per_sign_in.map_or("-".into(), |v| format!("{v:.3}"));
            let pids: Vec<String> = p.pids.iter().map(u32::to_string).collect();
            let _ = writeln!(
                out,
                "{:<20}{per:>12}{:>12.2}{:>12.1}  {}",
                p.name,
                p.cpu_seconds,
                p.rss_mib,
                pids.join(",")
            );
        }
        out
    }

    /// Prints [`Report::render`] on stdout.
    pub fn print(&self, json: bool) {
        println!("{}", self.render(json).trim_end());
    }
}
