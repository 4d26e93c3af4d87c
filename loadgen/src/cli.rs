//! The command line: which hubs, which service, what level, how much load and which processes to account
//! CPU to. Parsed by clap, checked once by [`Args::check`].

use clap::{Parser, ValueEnum};
use std::path::PathBuf;

/// Plays many services and people signing in through the hub at once and prints the figures.
#[derive(Debug, Clone, Parser)]
#[command(name = "loadgen", version)]
pub struct Args {
    /// Base URL of a hub instance; repeat for several, used round-robin per request.
    #[arg(long = "hub", value_name = "URL", required = true)]
    pub hubs: Vec<url::Url>,
    /// The provider chosen on the hub's choice page (idp-stub in non-interactive mode).
    #[arg(long, value_name = "ID", default_value = "stub-a")]
    pub stub_provider: String,
    /// The service's client id at the hub.
    #[arg(long, value_name = "ID", default_value = "loadgen")]
    pub client_id: String,
    /// The service's private key (PEM) signing its client assertions; not needed in discovery mode.
    #[arg(long, value_name = "PEM_FILE")]
    pub key: Option<PathBuf>,
    /// The service's registered redirect URI; nothing needs to listen there.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:9/callback")]
    pub redirect_uri: url::Url,
    /// The scopes asked for.
    #[arg(long, default_value = "openid email")]
    pub scope: String,
    /// The level asked for: `cl-cm` (vtr ["Cl.Cm"]) or `p2` (["Cl.Cm.P2"] with the coreIdentityJWT claim).
    #[arg(long, value_enum, default_value_t = Level::ClCm)]
    pub level: Level,
    /// Virtual users running at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// How long to measure, seconds (the default, 10 s, when --count is not given).
    #[arg(long, value_name = "SECS", conflicts_with = "count")]
    pub duration: Option<f64>,
    /// How many measured sign-ins (or requests) to run.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Seconds of unmeasured load before measuring (journey and discovery modes).
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub warmup: f64,
    /// Print one JSON object with every figure instead of the table.
    #[arg(long)]
    pub json: bool,
    /// `journey`: whole sign-ins; `token`: codes collected by untimed journeys, then only `/token` timed
    /// (needs --count, codes live 5 minutes); `discovery`: the discovery document and JWKS.
    #[arg(long, value_enum, default_value_t = Mode::Journey)]
    pub mode: Mode,
    /// A process to account CPU and memory to, as NAME=PID; repeat (the same NAME adds up).
    #[arg(long = "pid", value_name = "NAME=PID", value_parser = parse_pid)]
    pub pids: Vec<(String, u32)>,
    /// Processes to account CPU and memory to, found by name in /proc; repeat. loadgen itself and
    /// redis-server are always watched.
    #[arg(long = "process", value_name = "NAME")]
    pub processes: Vec<String>,
    /// Seconds before a request counts as timed out.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Sign in directly at a generic OpenID provider instead of the hub (a peer measured by the same
    /// load): `--hub` is its issuer, every page it shows is submitted by its first form, and the ID
    /// token carries no `vot`.
    #[arg(long)]
    pub peer: bool,
    /// Writes `access_token<TAB>sub` of every completed sign-in to this file at the end (journey mode),
    /// for a test to check afterwards that none was lost (the tokens live three minutes).
    #[arg(long, value_name = "FILE")]
    pub tokens_out: Option<PathBuf>,
    /// Threads of loadgen's runtime (1 leaves the cores to the federation under test).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: u16,
}

/// The level of confidence the virtual services ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Level {
    /// `["Cl.Cm"]`: two factors, no identity.
    ClCm,
    /// `["Cl.Cm.P2"]`: identity to medium confidence, with consent and a coreIdentityJWT.
    P2,
}

impl Level {
    /// The `vtr` parameter.
    pub fn vtr(self) -> &'static str {
        match self {
            Level::ClCm => r#"["Cl.Cm"]"#,
            Level::P2 => r#"["Cl.Cm.P2"]"#,
        }
    }

    /// The vector, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Level::ClCm => "Cl.Cm",
            Level::P2 => "Cl.Cm.P2",
        }
    }

    /// Whether identity (consent page, coreIdentityJWT) is part of the journey.
    pub fn identity(self) -> bool {
        self == Level::P2
    }
}

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Journey,
    Token,
    Discovery,
}

impl Mode {
    /// The mode's name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Journey => "journey",
            Mode::Token => "token",
            Mode::Discovery => "discovery",
        }
    }
}

fn parse_pid(s: &str) -> Result<(String, u32), String> {
    let (name, pid) = s.split_once('=').ok_or("expected NAME=PID")?;
    let pid = pid.parse().map_err(|_| format!("{pid:?} is not a process id"))?;
    if name.is_empty() {
        return Err("NAME must not be empty".into());
    }
    Ok((name.to_string(), pid))
}

/// When measuring stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// After this many measured sign-ins (or requests).
    Count(u64),
    /// After this many seconds.
    Seconds(f64),
}

impl Args {
    /// Checks what clap cannot: a key where one is needed, token mode's count, positive durations.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.mode != Mode::Discovery && self.key.is_none() {
            anyhow::bail!(
                "--key is needed in {} mode (the service's private key)",
                self.mode.name()
            );
        }
        if self.mode == Mode::Token && self.count.is_none() {
            anyhow::bail!("--mode token needs --count: codes are collected first and live 5 minutes");
        }
        for (flag, v) in [
            ("--duration", self.duration.unwrap_or(1.0)),
            ("--timeout", self.timeout),
        ] {
            if !(v.is_finite() && v > 0.0) {
                anyhow::bail!("{flag} must be a positive number of seconds");
            }
        }
        if !(self.warmup.is_finite() && self.warmup >= 0.0) {
            anyhow::bail!("--warmup must be zero or more seconds");
        }
        Ok(())
    }

    /// When measuring stops.
    pub fn limit(&self) -> Limit {
        match (self.count, self.duration) {
            (Some(n), _) => Limit::Count(n),
            (None, Some(s)) => Limit::Seconds(s),
            (None, None) => Limit::Seconds(10.0),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Args, String> {
        let argv = std::iter::once("loadgen").chain(args.split_whitespace());
        let args = Args::try_parse_from(argv).map_err(|e| e.to_string())?;
        args.check().map_err(|e| e.to_string())?;
        Ok(args)
    }

    #[test]
    fn options_table() {
        let a = parse("--hub http://127.0.0.1:1 --hub http://127.0.0.1:2 --key k.pem --level p2 --count 5").unwrap();
        assert_eq!(a.hubs.len(), 2);
        assert_eq!(
            (a.level, a.limit(), a.mode),
            (Level::P2, Limit::Count(5), Mode::Journey)
        );
        let a = parse("--hub http://h --key k --pid hub=12 --pid hub=13 --process idp-stub").unwrap();
        assert_eq!(a.pids, vec![("hub".into(), 12), ("hub".into(), 13)]);
        assert_eq!(a.limit(), Limit::Seconds(10.0));
        assert!(
            parse("--hub http://h --mode discovery --duration 2").is_ok(),
            "no key needed"
        );
        for (bad, why) in [
            ("--hub http://h", "--key"),
            ("--hub http://h --key k --mode token", "--count"),
            ("--hub http://h --key k --count 1 --duration 2", "cannot be used with"),
            ("--hub http://h --key k --pid hub", "NAME=PID"),
            ("--hub http://h --key k --duration 0", "positive"),
            ("--key k", "--hub"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
