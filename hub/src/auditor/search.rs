//! `GET /search?service=&provider=&event=&sub=&level=&outcome=&from=&to=&page=`: the entries of every
//! log matching an [`audit::query::Filter`](crate::audit::query::Filter), newest first, 50 a page.
//!
//! Cost: a search reads and parses every entry of every log (each checked against its tile, and each
//! tile against the signed root), so it takes time in proportion to the logs' size; it runs off the
//! async threads, at most [`super::SEARCHES_AT_ONCE`] at a time. Memory stays bounded: only the newest `page × 50` matches are
//! kept while scanning (a min-heap), and pages go no deeper than [`MAX_PAGE`].

use super::{logs::Source, AuditorState, FieldError, Message, Nav, SignedIn};
use crate::audit::dates;
use crate::audit::{
    query::{entries, Filter, Found, ReadError},
    Entry,
};
use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use std::{cmp::Reverse, collections::BinaryHeap};

/// Results a page.
pub const PAGE_SIZE: usize = 50;
/// The deepest page (so at most `MAX_PAGE × PAGE_SIZE` matches are held while scanning).
pub const MAX_PAGE: usize = 200;
/// The longest value a filter field takes, characters.
const MAX_FIELD: usize = 256;

/// The events an entry can be, as the log writes them.
pub const EVENTS: &[&str] = &[
    "journey_started",
    "provider_chosen",
    "provider_answered",
    "consent_given",
    "consent_declined",
    "assertion_issued",
    "returned_with_error",
    "code_redeemed",
    "code_reuse_detected",
    "userinfo_served",
    "logged_out",
    "backchannel_logout",
    "session_expired",
    "registry_reloaded",
    "key_changed",
];

/// The query, every field optional.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SearchQuery {
    pub service: Option<String>,
    pub provider: Option<String>,
    pub event: Option<String>,
    pub sub: Option<String>,
    pub level: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub page: Option<String>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl SearchQuery {
    /// The filter and page asked for, or what is wrong with the query.
    pub fn parse(&self) -> Result<(Filter, usize), Vec<FieldError>> {
        let mut errors = Vec::new();
        for (field, value) in [
            ("service", &self.service),
            ("provider", &self.provider),
            ("sub", &self.sub),
            ("level", &self.level),
            ("outcome", &self.outcome),
        ] {
            if given(value).is_some_and(|v| v.chars().count() > MAX_FIELD) {
                errors.push(FieldError {
                    field,
                    message: format!("Enter at most {MAX_FIELD} characters"),
                });
            }
        }
        let event = given(&self.event);
        if event.as_deref().is_some_and(|e| !EVENTS.contains(&e)) {
            errors.push(FieldError {
                field: "event",
                message: "Choose an event from the list".into(),
            });
        }
        let mut day = |field: &'static str, example: &str| -> Option<i64> {
            let text = given(if field == "from" { &self.from } else { &self.to })?;
            let day = dates::parse_day(&text);
            if day.is_none() {
                errors.push(FieldError {
                    field,
                    message: format!("Enter the date as a real date in the form YYYY-MM-DD, for example {example}"),
                });
            }
            day
        };
        let from = day("from", "2026-11-01");
        let to = day("to", "2026-11-30");
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                errors.push(FieldError {
                    field: "to",
                    message: "The end date must be the same as or after the start date".into(),
                });
            }
        }
        let page = match given(&self.page) {
            None => 1,
            Some(p) => match p.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                _ => {
                    errors.push(FieldError {
                        field: "page",
                        message: format!(
                            "Pages go from 1 to {MAX_PAGE}; narrow the search (a shorter period) to see older entries"
                        ),
                    });
                    1
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok((
            Filter {
                service: given(&self.service),
                provider: given(&self.provider),
                event,
                sub: given(&self.sub),
                level: given(&self.level),
                outcome: given(&self.outcome),
                since: from.map(dates::start_of),
                until: to.map(|t| dates::start_of(t + 1)),
            },
            page,
        ))
    }

    /// Whether nothing at all was asked (the form, before any search); a form sent with every field
    /// empty asks for every entry.
    pub fn is_empty(&self) -> bool {
        [
            &self.service,
            &self.provider,
            &self.event,
            &self.sub,
            &self.level,
            &self.outcome,
            &self.from,
            &self.to,
            &self.page,
        ]
        .iter()
        .all(|v| v.is_none())
    }

    /// This query's address at another page.
    pub fn at_page(&self, page: usize) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("service", &self.service),
            ("provider", &self.provider),
            ("event", &self.event),
            ("sub", &self.sub),
            ("level", &self.level),
            ("outcome", &self.outcome),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = given(v) {
                s.append_pair(k, &v);
            }
        }
        s.append_pair("page", &page.to_string());
        format!("/search?{}", s.finish())
    }
}

/// A match, ordered by time, then log, then index (the newest is the greatest).
struct Ranked {
    key: (i64, usize, u64),
    found: Found,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.key.eq(&other.key)
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// What a scan found: how many entries match, the newest `keep` of them (newest first), and the logs
/// that could not be read to the end.
#[derive(Debug, Default)]
pub struct Scan {
    pub total: u64,
    /// Each with the position of its log in the view's list.
    pub newest: Vec<(usize, Found)>,
    pub problems: Vec<String>,
}

/// Reads every entry of every log, keeping the newest `keep` matches (blocking).
pub fn scan(sources: &[Source], filter: &Filter, keep: usize) -> Scan {
    let mut heap: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(keep + 1);
    let mut out = Scan::default();
    for (i, source) in sources.iter().enumerate() {
        let query = source.query_source();
        let iter = match entries(&query) {
            Ok(iter) => iter,
            Err(e) => {
                out.problems.push(e.to_string());
                continue;
            }
        };
        for item in iter {
            match item {
                Ok(found) if filter.matches(&found.entry) => {
                    out.total += 1;
                    heap.push(Reverse(Ranked {
                        key: (found.entry.time, i, found.index),
                        found,
                    }));
                    if heap.len() > keep {
                        heap.pop();
                    }
                }
                Ok(_) => {}
                Err(e @ ReadError::Entry { .. }) => out.problems.push(e.to_string()),
                Err(e) => {
                    out.problems.push(e.to_string());
                    break;
                }
            }
        }
    }
    let mut newest: Vec<Ranked> = heap.into_iter().map(|Reverse(r)| r).collect();
    newest.sort_by(|a, b| b.cmp(a));
    out.newest = newest.into_iter().map(|r| (r.key.1, r.found)).collect();
    out
}

/// One result row.
#[derive(Debug, Clone)]
pub struct ResultRow {
    pub time: String,
    pub iso: String,
    pub origin: String,
    pub slug: String,
    pub index: u64,
    pub event: String,
    /// The entry's other fields, as `(name, value)` text.
    pub fields: Vec<(String, String)>,
}

/// An entry's fields other than its time and event, as text (lists joined with commas).
pub fn fields(entry: &Entry) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(entry) else {
        return Vec::new();
    };
    map.into_iter()
        .filter(|(k, _)| k != "time" && k != "event")
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Array(items) if items.is_empty() => "none".into(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            (k, text)
        })
        .collect()
}

/// The search page.
#[derive(Template, Debug)]
#[template(path = "auditor/search.html")]
pub struct SearchPage {
    pub nav: Option<Nav>,
    pub q: SearchQuery,
    pub events: &'static [&'static str],
    pub errors: Vec<FieldError>,
    pub searched: bool,
    pub total: u64,
    pub first: u64,
    pub last: u64,
    pub rows: Vec<ResultRow>,
    pub previous: Option<String>,
    pub next: Option<String>,
    pub problems: Vec<String>,
}

impl SearchPage {
    /// The message for a field, if it has one.
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// A field's value as typed.
    pub fn value(&self, field: &str) -> String {
        let v = match field {
            "service" => &self.q.service,
            "provider" => &self.q.provider,
            "sub" => &self.q.sub,
            "level" => &self.q.level,
            "outcome" => &self.q.outcome,
            "from" => &self.q.from,
            "to" => &self.q.to,
            _ => &self.q.event,
        };
        v.clone().unwrap_or_default()
    }
}

/// `GET /search`: with no filter at all, the form alone; otherwise the form and a page of results.
pub async fn get(State(state): State<AuditorState>, signed: SignedIn, Query(q): Query<SearchQuery>) -> Response {
    let mut page = SearchPage {
        nav: signed.nav("search"),
        q: q.clone(),
        events: EVENTS,
        errors: Vec::new(),
        searched: false,
        total: 0,
        first: 0,
        last: 0,
        rows: Vec::new(),
        previous: None,
        next: None,
        problems: Vec::new(),
    };
    let (filter, n) = match q.parse() {
        Ok(parsed) => parsed,
        Err(errors) => {
            page.errors = errors;
            return crate::web::page::render(StatusCode::BAD_REQUEST, &page);
        }
    };
    if q.is_empty() {
        return crate::web::page::render(StatusCode::OK, &page);
    }
    let Ok(permit) = state.searches.clone().acquire_owned().await else {
        return Message::unavailable(signed.nav("search"), "The search could not start.", "semaphore closed");
    };
    let sources = state.logs.clone();
    let keep = n * PAGE_SIZE;
    let scanned = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        scan(&sources, &filter, keep)
    })
    .await;
    let scan = match scanned {
        Ok(scan) => scan,
        Err(e) => return Message::unavailable(signed.nav("search"), "The search failed.", &e.to_string()),
    };
    let skip = (n - 1) * PAGE_SIZE;
    page.searched = true;
    page.total = scan.total;
    page.problems = scan.problems;
    page.rows = scan
        .newest
        .into_iter()
        .skip(skip)
        .map(|(log, f)| ResultRow {
            time: dates::readable(f.entry.time),
            iso: dates::iso(f.entry.time),
            slug: state.logs.get(log).map(|s| s.slug.clone()).unwrap_or_default(),
            origin: f.origin,
            index: f.index,
            event: f.entry.fact.kind().to_string(),
            fields: fields(&f.entry),
        })
        .collect();
    page.first = skip as u64 + 1;
    page.last = skip as u64 + page.rows.len() as u64;
    page.previous = (n > 1).then(|| q.at_page(n - 1));
    page.next = (scan.total > (n * PAGE_SIZE) as u64 && n < MAX_PAGE).then(|| q.at_page(n + 1));
    crate::web::page::render(StatusCode::OK, &page)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn queries_become_filters_or_field_errors() {
        let q = SearchQuery {
            service: Some(" svc ".into()),
            event: Some("assertion_issued".into()),
            from: Some("1970-01-02".into()),
            to: Some("1970-01-02".into()),
            page: Some("3".into()),
            sub: Some(String::new()),
            ..Default::default()
        };
        let (filter, page) = q.parse().unwrap();
        assert_eq!(page, 3);
        assert_eq!(filter.service.as_deref(), Some("svc"));
        assert_eq!(filter.sub, None, "an empty field is no condition");
        assert_eq!((filter.since, filter.until), (Some(86_400), Some(2 * 86_400)));
        assert!(q.at_page(4).ends_with("&page=4"));
        assert!(q.at_page(4).contains("service=svc&event=assertion_issued"));
        let bad = SearchQuery {
            event: Some("made_up".into()),
            from: Some("yesterday".into()),
            page: Some("0".into()),
            ..Default::default()
        };
        let fields: Vec<&str> = bad.parse().unwrap_err().iter().map(|e| e.field).collect();
        assert_eq!(fields, ["event", "from", "page"]);
        assert_eq!(SearchQuery::default().parse().unwrap(), (Filter::default(), 1));
    }

    #[test]
    fn every_event_of_the_log_can_be_searched_for() {
        let fact = crate::audit::Fact::SessionExpired;
        assert!(EVENTS.contains(&fact.kind()));
        let entry = Entry {
            time: 5,
            journey: Some("abc".into()),
            fact: crate::audit::Fact::ConsentGiven {
                client_id: "svc".into(),
                claims: vec!["a".into(), "b".into()],
            },
        };
        let f = fields(&entry);
        assert!(f.contains(&("client_id".into(), "svc".into())));
        assert!(f.contains(&("claims".into(), "a, b".into())));
        assert!(f.contains(&("journey".into(), "abc".into())));
        assert!(!f.iter().any(|(k, _)| k == "event" || k == "time"));
    }
}
