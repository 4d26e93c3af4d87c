//! Reading audit logs back (DESIGN.md "Audit log"): every entry of one or several logs (one per hub
//! instance), filtered as auditors ask ("every assertion made to one service yesterday at P2"). Each
//! entry is checked against its tile hash, and each tile against the checkpoint's signed root (through
//! the tiles above it) before any of its entries is used ([`tlog::read::Entries`]); a log rewritten
//! below its checkpoint is an error naming the tile, never a quiet wrong answer. Shared by
//! `hub audit query|export` (which collect every match, or fail, before printing) and the auditor view.

use super::{Entry, Fact};
use crate::vtr::Vector;
use std::path::{Path, PathBuf};

/// One log to read: its directory and the verifier key its checkpoints are signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    pub dir: PathBuf,
    pub vkey: String,
}

impl LogSource {
    /// The log's origin: the verifier key's name (`<name>+<hash>+<key>`).
    pub fn origin(&self) -> &str {
        self.vkey.split('+').next().unwrap_or_default()
    }
}

/// An entry as read: which log, its index there, and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub origin: String,
    pub index: u64,
    pub entry: Entry,
}

/// What an auditor asks for; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// The service's `client_id`.
    pub service: Option<String>,
    /// The provider's id.
    pub provider: Option<String>,
    /// The entry's `event` (`assertion_issued`, …).
    pub event: Option<String>,
    /// A pairwise `sub`.
    pub sub: Option<String>,
    /// A level asked or reached (`Cl.Cm.P2`, or just `P2`).
    pub level: Option<String>,
    /// An outcome: a provider's (`success`, `denied`, …) or an error code a service got.
    pub outcome: Option<String>,
    /// From this time (seconds since the Unix epoch), inclusive.
    pub since: Option<i64>,
    /// Before this time, exclusive.
    pub until: Option<i64>,
}

/// What a fact says, as filters see it: (service, provider, sub, levels, outcome).
type Fields<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Vec<Vector>,
    Option<String>,
);

fn fact_fields(fact: &Fact) -> Fields<'_> {
    match fact {
        Fact::JourneyStarted {
            client_id,
            levels_asked,
            ..
        } => (Some(client_id.as_str()), None, None, levels_asked.clone(), None),
        Fact::ProviderChosen { client_id, provider_id } => (
            Some(client_id.as_str()),
            Some(provider_id.as_str()),
            None,
            Vec::new(),
            None,
        ),
        Fact::ProviderAnswered {
            client_id,
            provider_id,
            outcome,
            level_reached,
            ..
        } => (
            Some(client_id.as_str()),
            Some(provider_id.as_str()),
            None,
            level_reached.iter().copied().collect(),
            serde_json::to_value(outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string)),
        ),
        Fact::ConsentGiven { client_id, .. } | Fact::ConsentDeclined { client_id } => {
            (Some(client_id.as_str()), None, None, Vec::new(), None)
        }
        Fact::AssertionIssued {
            client_id,
            provider_id,
            sub,
            levels_asked,
            level_reached,
            return_code,
            ..
        } => {
            let mut levels = levels_asked.clone();
            levels.push(*level_reached);
            (
                Some(client_id.as_str()),
                Some(provider_id.as_str()),
                Some(sub.as_str()),
                levels,
                return_code.clone(),
            )
        }
        Fact::ReturnedWithError { client_id, error } => (
            Some(client_id.as_str()),
            None,
            None,
            Vec::new(),
            Some(error.as_str().to_string()),
        ),
        Fact::CodeRedeemed { client_id, sub, .. } | Fact::UserinfoServed { client_id, sub, .. } => {
            (Some(client_id.as_str()), None, Some(sub.as_str()), Vec::new(), None)
        }
        Fact::CodeReuseDetected { client_id } => (Some(client_id.as_str()), None, None, Vec::new(), None),
        Fact::LoggedOut { client_id, .. } => (client_id.as_ref().map(|c| c.as_str()), None, None, Vec::new(), None),
        Fact::BackchannelLogout {
            client_id,
            sub,
            delivered,
            ..
        } => (
            Some(client_id.as_str()),
            None,
            Some(sub.as_str()),
            Vec::new(),
            Some(if *delivered { "delivered" } else { "gave_up" }.to_string()),
        ),
        Fact::SessionExpired | Fact::RegistryReloaded { .. } | Fact::KeyChanged { .. } => {
            (None, None, None, Vec::new(), None)
        }
    }
}

/// Whether a level matches what was asked (`P2` matches any vector with P2).
fn level_matches(levels: &[Vector], wanted: &str) -> bool {
    levels.iter().any(|v| {
        let full = v.to_string();
        full == wanted || v.identity_vot() == Some(wanted) || (wanted == v.credential_vot() && v.identity.is_none())
    })
}

impl Filter {
    /// Whether an entry matches every condition set.
    pub fn matches(&self, entry: &Entry) -> bool {
        let (service, provider, sub, levels, outcome) = fact_fields(&entry.fact);
        let eq = |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
        eq(&self.service, service)
            && eq(&self.provider, provider)
            && eq(&self.sub, sub)
            && eq(&self.event, Some(entry.fact.kind()))
            && eq(&self.outcome, outcome.as_deref())
            && self.level.as_deref().is_none_or(|l| level_matches(&levels, l))
            && self.since.is_none_or(|s| entry.time >= s)
            && self.until.is_none_or(|u| entry.time < u)
    }
}

/// Why a log cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{origin}: {message}")]
    Log { origin: String, message: String },
    #[error("{origin} entry {index}: not an audit entry: {message}")]
    Entry {
        origin: String,
        index: u64,
        message: String,
    },
}

/// Every entry of one log in order, each checked against the log's signed checkpoint as it is read: an
/// entry or tile that does not lead to its root is an `Err` item (the last).
pub fn entries(source: &LogSource) -> Result<impl Iterator<Item = Result<Found, ReadError>> + '_, ReadError> {
    let origin = source.origin().to_string();
    let (_, iter) = tlog::read::read_entries(&source.dir, &source.vkey).map_err(|e| ReadError::Log {
        origin: origin.clone(),
        message: e.to_string(),
    })?;
    Ok(iter.map(move |item| {
        let (index, bytes) = item.map_err(|e| ReadError::Log {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
        let entry: Entry = serde_json::from_slice(&bytes).map_err(|e| ReadError::Entry {
            origin: origin.clone(),
            index,
            message: e.to_string(),
        })?;
        Ok(Found {
            origin: origin.clone(),
            index,
            entry,
        })
    }))
}

/// The entries of several logs matching `filter`, in time order (then log, then index); the first
/// entry or tile that does not check fails the whole query, so no partial answer passes for a whole one.
pub fn query(sources: &[LogSource], filter: &Filter) -> Result<Vec<Found>, ReadError> {
    let mut out = Vec::new();
    for source in sources {
        for found in entries(source)? {
            let found = found?;
            if filter.matches(&found.entry) {
                out.push(found);
            }
        }
    }
    out.sort_by(|a, b| (a.entry.time, &a.origin, a.index).cmp(&(b.entry.time, &b.origin, b.index)));
    Ok(out)
}

/// The verifier key of a log directory, from its `vkey` file (written by the hub at start).
pub fn vkey_of(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(super::log::VKEY_FILE))
        .ok()
        .map(|s| s.trim().to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::audit::ProviderOutcome;

    fn entry(time: i64, fact: Fact) -> Entry {
        Entry {
            time,
            journey: None,
            fact,
        }
    }

    #[test]
    fn filters_table() {
        let issued = entry(
            100,
            Fact::AssertionIssued {
                client_id: "svc".into(),
                provider_id: "idp".into(),
                sub: "urn:s".into(),
                levels_asked: vec![Vector::parse("Cl.Cm.P2").unwrap()],
                level_reached: Vector::parse("Cl.Cm.P2").unwrap(),
                claims_released: vec![],
                return_code: None,
                identity_credential_sha256: None,
                single_sign_on: false,
            },
        );
        let answered = entry(
            200,
            Fact::ProviderAnswered {
                client_id: "other".into(),
                provider_id: "idp".into(),
                outcome: ProviderOutcome::Denied,
                level_reached: None,
                reason: None,
            },
        );
        let cases: Vec<(Filter, bool, bool)> = vec![
            (Filter::default(), true, true),
            (
                Filter {
                    service: Some("svc".into()),
                    ..Default::default()
                },
                true,
                false,
            ),
            (
                Filter {
                    provider: Some("idp".into()),
                    ..Default::default()
                },
                true,
                true,
            ),
            (
                Filter {
                    event: Some("assertion_issued".into()),
                    ..Default::default()
                },
                true,
                false,
            ),
            (
                Filter {
                    sub: Some("urn:s".into()),
                    ..Default::default()
                },
                true,
                false,
            ),
            (
                Filter {
                    level: Some("P2".into()),
                    ..Default::default()
                },
                true,
                false,
            ),
            (
                Filter {
                    level: Some("Cl.Cm.P2".into()),
                    ..Default::default()
                },
                true,
                false,
            ),
            (
                Filter {
                    level: Some("P1".into()),
                    ..Default::default()
                },
                false,
                false,
            ),
            (
                Filter {
                    outcome: Some("denied".into()),
                    ..Default::default()
                },
                false,
                true,
            ),
            (
                Filter {
                    since: Some(150),
                    ..Default::default()
                },
                false,
                true,
            ),
            (
                Filter {
                    until: Some(150),
                    ..Default::default()
                },
                true,
                false,
            ),
        ];
        for (filter, a, b) in cases {
            assert_eq!(
                (filter.matches(&issued), filter.matches(&answered)),
                (a, b),
                "{filter:?}"
            );
        }
    }
}
