//! The figures: latency per step and end to end in HDR histograms (microseconds), completed and failed
//! sign-ins, and errors counted by kind, never stopping at the first.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::{collections::BTreeMap, time::Duration};

/// The steps a sign-in (or a discovery round) is timed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Authorize,
    Choice,
    ProviderCallback,
    Consent,
    Token,
    Userinfo,
    Discovery,
    Jwks,
}

impl Step {
    /// Every step, in journey order.
    pub const ALL: [Step; 8] = [
        Step::Authorize,
        Step::Choice,
        Step::ProviderCallback,
        Step::Consent,
        Step::Token,
        Step::Userinfo,
        Step::Discovery,
        Step::Jwks,
    ];

    /// The step's name in reports and error kinds.
    pub fn name(self) -> &'static str {
        match self {
            Step::Authorize => "authorize",
            Step::Choice => "choice",
            Step::ProviderCallback => "provider+callback",
            Step::Consent => "consent",
            Step::Token => "token",
            Step::Userinfo => "userinfo",
            Step::Discovery => "discovery",
            Step::Jwks => "jwks",
        }
    }
}

/// Time spent in each step of one sign-in (a step's requests added up); `None` for steps not visited.
#[derive(Debug, Clone, Default)]
pub struct StepTimes([Option<Duration>; Step::ALL.len()]);

impl StepTimes {
    /// Adds one request's time to its step.
    pub fn add(&mut self, step: Step, took: Duration) {
        let slot = &mut self.0[step as usize];
        *slot = Some(slot.unwrap_or_default() + took);
    }
}

/// The longest latency the histograms hold, microseconds (a request times out long before).
const MAX_MICROS: u64 = 3_600_000_000;

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, MAX_MICROS, 3)?)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Everything measured.
#[derive(Debug)]
pub struct Stats {
    steps: Vec<Histogram<u64>>,
    end_to_end: Histogram<u64>,
    pub completed: u64,
    pub failed: u64,
    errors: BTreeMap<String, u64>,
}

impl Stats {
    /// Empty figures.
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            steps: Step::ALL.iter().map(|_| histogram()).collect::<Result<_, _>>()?,
            end_to_end: histogram()?,
            completed: 0,
            failed: 0,
            errors: BTreeMap::new(),
        })
    }

    /// Records a completed sign-in.
    pub fn ok(&mut self, times: &StepTimes, total: Duration) {
        for (h, t) in self.steps.iter_mut().zip(&times.0) {
            if let Some(t) = t {
                h.saturating_record(micros(*t));
            }
        }
        self.end_to_end.saturating_record(micros(total));
        self.completed += 1;
    }

    /// Records a failed sign-in under its kind.
    pub fn failed(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
        self.failed += 1;
    }

    /// The figures of one histogram; `None` when it holds nothing.
    fn figures(h: &Histogram<u64>) -> Option<Figures> {
        let ms = |v: u64| v as f64 / 1000.0;
        (!h.is_empty()).then(|| Figures {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        })
    }

    /// Each visited step's figures, in journey order.
    pub fn step_figures(&self) -> Vec<(&'static str, Figures)> {
        Step::ALL
            .iter()
            .zip(&self.steps)
            .filter_map(|(s, h)| Some((s.name(), Self::figures(h)?)))
            .collect()
    }

    /// End-to-end figures of completed sign-ins.
    pub fn end_to_end(&self) -> Option<Figures> {
        Self::figures(&self.end_to_end)
    }

    /// Errors by kind.
    pub fn errors(&self) -> &BTreeMap<String, u64> {
        &self.errors
    }
}

/// Latency figures of one step, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figures {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn records_steps_visited_and_errors_by_kind() {
        let mut stats = Stats::new().unwrap();
        for ms in 1..=100u64 {
            let mut t = StepTimes::default();
            t.add(Step::Authorize, Duration::from_millis(ms));
            t.add(Step::Token, Duration::from_millis(1));
            t.add(Step::Token, Duration::from_millis(1));
            stats.ok(&t, Duration::from_millis(ms + 2));
        }
        stats.failed("http 500 at token".into());
        stats.failed("http 500 at token".into());
        stats.failed("timeout at userinfo".into());
        let steps = stats.step_figures();
        assert_eq!(
            steps.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            ["authorize", "token"]
        );
        let authorize = steps[0].1;
        assert_eq!(authorize.count, 100);
        assert!((authorize.p50_ms - 50.0).abs() < 0.1, "{authorize:?}");
        assert!((authorize.p99_ms - 99.0).abs() < 0.1, "{authorize:?}");
        assert!((steps[1].1.max_ms - 2.0).abs() < 0.01, "a step's requests add up");
        assert_eq!((stats.completed, stats.failed), (100, 3));
        assert_eq!(stats.errors()["http 500 at token"], 2);
    }
}
