//! The figures' running totals, built incrementally: the refresher hands each new entry to
//! [`Tally::add`] once, and pages sum the days they show. Counted per UTC day, and per service and per
//! provider within a day; memory grows with days × services × providers, never with entries.
//!
//! What counts: `journey_started` (a sign-in started, per service), `provider_chosen` (sent to a
//! provider: the entries have no provider when a journey starts, so this is a provider's "started"),
//! `assertion_issued` (completed, with the level reached), `provider_answered` (by outcome) and
//! `returned_with_error` (by error code).

use crate::audit::dates::{day_of, Day};
use crate::audit::{Entry, Fact};
use std::collections::BTreeMap;

/// Counts for one day, one service, or one provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// `journey_started` entries.
    pub started: u64,
    /// `provider_chosen` entries.
    pub chosen: u64,
    /// `assertion_issued` entries.
    pub completed: u64,
    /// `provider_answered` entries by outcome (`success`, `denied`, …).
    pub outcomes: BTreeMap<String, u64>,
    /// `returned_with_error` entries by error code.
    pub errors: BTreeMap<String, u64>,
    /// `assertion_issued` entries by level reached (`Cl.Cm`, `Cl.Cm.P2`, …).
    pub levels: BTreeMap<String, u64>,
}

impl Counts {
    /// Adds another's counts to these.
    pub fn merge(&mut self, other: &Counts) {
        self.started += other.started;
        self.chosen += other.chosen;
        self.completed += other.completed;
        for (mine, theirs) in [
            (&mut self.outcomes, &other.outcomes),
            (&mut self.errors, &other.errors),
            (&mut self.levels, &other.levels),
        ] {
            for (k, v) in theirs {
                *mine.entry(k.clone()).or_default() += v;
            }
        }
    }
}

/// One day's counts: in all, per service (`client_id`), per provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub total: Counts,
    pub services: BTreeMap<String, Counts>,
    pub providers: BTreeMap<String, Counts>,
}

/// Every day's counts, and how far each log has been read.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Counts by UTC day.
    pub days: BTreeMap<Day, DayCounts>,
    /// Per log (in the view's order): the index of the next entry to read.
    pub next: Vec<u64>,
    /// Per log: why reading stopped short last time, if it did.
    pub problems: Vec<Option<String>>,
    /// Entries that were not audit entries (skipped).
    pub unreadable: u64,
    /// When the refresher last finished reading (seconds since the Unix epoch).
    pub read_at: Option<i64>,
}

/// The provider outcome's name as the log writes it.
fn outcome_name(outcome: &crate::audit::ProviderOutcome) -> String {
    serde_json::to_value(outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Tally {
    /// A tally of `logs` logs, none read yet.
    pub fn new(logs: usize) -> Self {
        Self {
            next: vec![0; logs],
            problems: vec![None; logs],
            ..Self::default()
        }
    }

    /// Counts one entry.
    pub fn add(&mut self, entry: &Entry) {
        let day = self.days.entry(day_of(entry.time)).or_default();
        let mut count = |service: Option<&str>, provider: Option<&str>, f: &dyn Fn(&mut Counts)| {
            f(&mut day.total);
            if let Some(s) = service {
                f(day.services.entry(s.to_string()).or_default());
            }
            if let Some(p) = provider {
                f(day.providers.entry(p.to_string()).or_default());
            }
        };
        match &entry.fact {
            Fact::JourneyStarted { client_id, .. } => count(Some(client_id.as_str()), None, &|c| c.started += 1),
            Fact::ProviderChosen { client_id, provider_id } => {
                count(Some(client_id.as_str()), Some(provider_id.as_str()), &|c| c.chosen += 1)
            }
            Fact::ProviderAnswered {
                client_id,
                provider_id,
                outcome,
                ..
            } => {
                let name = outcome_name(outcome);
                count(Some(client_id.as_str()), Some(provider_id.as_str()), &|c| {
                    *c.outcomes.entry(name.clone()).or_default() += 1
                })
            }
            Fact::AssertionIssued {
                client_id,
                provider_id,
                level_reached,
                ..
            } => {
                let level = level_reached.to_string();
                count(Some(client_id.as_str()), Some(provider_id.as_str()), &|c| {
                    c.completed += 1;
                    *c.levels.entry(level.clone()).or_default() += 1;
                })
            }
            Fact::ReturnedWithError { client_id, error } => {
                let code = error.as_str().to_string();
                count(Some(client_id.as_str()), None, &|c| {
                    *c.errors.entry(code.clone()).or_default() += 1
                })
            }
            _ => {}
        }
    }

    /// The days `from..=to`, each with its counts (zero when nothing happened), and their sum.
    pub fn range(&self, from: Day, to: Day) -> Summary {
        let mut summary = Summary::default();
        for day in from..=to {
            let counts = self.days.get(&day).cloned().unwrap_or_default();
            summary.total.merge(&counts.total);
            for (name, c) in &counts.services {
                summary.services.entry(name.clone()).or_default().merge(c);
            }
            for (name, c) in &counts.providers {
                summary.providers.entry(name.clone()).or_default().merge(c);
            }
            summary.days.push((day, counts.total));
        }
        summary
    }
}

/// The counts of a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Each day in order, with its counts in all.
    pub days: Vec<(Day, Counts)>,
    /// The whole period.
    pub total: Counts,
    pub services: BTreeMap<String, Counts>,
    pub providers: BTreeMap<String, Counts>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{audit::ProviderOutcome, oauth::ErrorCode, vtr::Vector};

    fn at(time: i64, fact: Fact) -> Entry {
        Entry {
            time,
            journey: None,
            fact,
        }
    }

    #[test]
    fn entries_count_per_day_service_and_provider() {
        let mut t = Tally::new(1);
        let p2 = Vector::parse("Cl.Cm.P2").unwrap();
        let day = 20_000 * 86_400;
        t.add(&at(
            day + 5,
            Fact::JourneyStarted {
                client_id: "svc".into(),
                levels_asked: vec![p2],
                single_sign_on: false,
            },
        ));
        t.add(&at(
            day + 6,
            Fact::ProviderChosen {
                client_id: "svc".into(),
                provider_id: "idp".into(),
            },
        ));
        t.add(&at(
            day + 7,
            Fact::ProviderAnswered {
                client_id: "svc".into(),
                provider_id: "idp".into(),
                outcome: ProviderOutcome::LevelNotReached,
                level_reached: None,
                reason: None,
            },
        ));
        t.add(&at(
            day + 86_400,
            Fact::AssertionIssued {
                client_id: "svc".into(),
                provider_id: "idp".into(),
                sub: "urn:s".into(),
                levels_asked: vec![p2],
                level_reached: p2,
                claims_released: vec![],
                return_code: None,
                identity_credential_sha256: None,
                single_sign_on: false,
            },
        ));
        t.add(&at(
            day + 86_401,
            Fact::ReturnedWithError {
                client_id: "other".into(),
                error: ErrorCode::AccessDenied,
            },
        ));
        t.add(&at(day, Fact::SessionExpired));
        let s = t.range(20_000, 20_002);
        assert_eq!(s.days.len(), 3);
        assert_eq!(
            (s.days[0].1.started, s.days[1].1.completed, s.days[2].1.started),
            (1, 1, 0)
        );
        assert_eq!((s.total.started, s.total.chosen, s.total.completed), (1, 1, 1));
        assert_eq!(s.total.outcomes.get("level_not_reached"), Some(&1));
        assert_eq!(s.total.errors.get("access_denied"), Some(&1));
        assert_eq!(s.services["svc"].levels.get("Cl.Cm.P2"), Some(&1));
        assert_eq!(s.services["other"].errors.get("access_denied"), Some(&1));
        assert_eq!((s.providers["idp"].chosen, s.providers["idp"].completed), (1, 1));
        assert!(!s.providers.contains_key("other"));
        assert_eq!(t.range(20_001, 20_001).total.started, 0);
    }
}
