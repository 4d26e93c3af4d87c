//! `GET /figures?from=YYYY-MM-DD&to=YYYY-MM-DD`: per day, per service and per provider, the sign-ins
//! started and completed, the completion rate, how providers answered and which errors services got back,
//! and the levels reached, as tables and as charts with the same numbers. Read from the running totals
//! ([`super::tally`]): a page sums at most 366 days and never reads the log.

use super::{
    chart::{self, Chart},
    rate,
    tally::{Counts, Summary},
    AuditorState, FieldError, Nav, SignedIn,
};
use crate::audit::dates::{self, Day};
use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The longest period one page shows, days.
const MAX_DAYS: i64 = 366;
/// The period shown when none is asked for, days (ending today).
const DEFAULT_DAYS: i64 = 30;

/// The query.
#[derive(Debug, Deserialize)]
pub struct FiguresQuery {
    from: Option<String>,
    to: Option<String>,
}

/// One day's row.
#[derive(Debug, Clone)]
pub struct DayRow {
    pub date: String,
    pub iso: String,
    pub started: u64,
    pub completed: u64,
    pub rate: String,
}

/// One service's or provider's row.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    /// Started (a service: `journey_started`; a provider: `provider_chosen`).
    pub started: u64,
    pub completed: u64,
    pub rate: String,
    /// `level count` pairs, as text.
    pub levels: String,
    pub outcomes: String,
    pub errors: String,
}

/// The figures page.
#[derive(Template, Debug)]
#[template(path = "auditor/figures.html")]
pub struct FiguresPage {
    pub nav: Option<Nav>,
    pub from: String,
    pub to: String,
    pub errors: Vec<FieldError>,
    /// The period, written out (`1 November 2026 to 30 November 2026`).
    pub period: String,
    pub shown: bool,
    pub total: Row,
    pub days: Vec<DayRow>,
    pub services: Vec<Row>,
    pub providers: Vec<Row>,
    /// Outcome rows: what, and how many.
    pub outcomes: Vec<(String, u64)>,
    pub daily_chart: Option<Chart>,
    pub outcome_chart: Option<Chart>,
    /// When the totals were last brought up to date, and how many entries they cover.
    pub read_at: Option<String>,
    pub counted: u64,
    pub unreadable: u64,
}

impl FiguresPage {
    /// The message for a field, if it has one.
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

fn pairs(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "None".into();
    }
    map.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn row(name: &str, c: &Counts, started: u64) -> Row {
    Row {
        name: name.to_string(),
        started,
        completed: c.completed,
        rate: rate(c.completed, started),
        levels: pairs(&c.levels),
        outcomes: pairs(&c.outcomes),
        errors: pairs(&c.errors),
    }
}

/// The period asked for, or what is wrong with it.
fn period(q: &FiguresQuery, today: Day) -> Result<(Day, Day), Vec<FieldError>> {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut errors = Vec::new();
    let to = match given(&q.to) {
        None => Some(today),
        Some(t) => dates::parse_day(&t).or_else(|| {
            errors.push(FieldError {
                field: "to",
                message: "Enter the end date as a real date in the form YYYY-MM-DD, for example 2026-11-30".into(),
            });
            None
        }),
    };
    let from = match given(&q.from) {
        None => to.map(|t| t - (DEFAULT_DAYS - 1)),
        Some(f) => dates::parse_day(&f).or_else(|| {
            errors.push(FieldError {
                field: "from",
                message: "Enter the start date as a real date in the form YYYY-MM-DD, for example 2026-11-01".into(),
            });
            None
        }),
    };
    errors.sort_by_key(|e| e.field != "from");
    match (from, to) {
        (Some(f), Some(t)) if errors.is_empty() => {
            if f > t {
                Err(vec![FieldError {
                    field: "to",
                    message: "The end date must be the same as or after the start date".into(),
                }])
            } else if t - f + 1 > MAX_DAYS {
                Err(vec![FieldError {
                    field: "to",
                    message: format!("The period can be at most {MAX_DAYS} days"),
                }])
            } else {
                Ok((f, t))
            }
        }
        _ => Err(errors),
    }
}

/// Builds the page's tables and charts from a period's counts.
fn fill(page: &mut FiguresPage, s: &Summary, from: Day, to: Day) {
    page.period = format!("{} to {}", dates::long_day(from), dates::long_day(to));
    page.shown = true;
    page.total = row("All services", &s.total, s.total.started);
    page.days = s
        .days
        .iter()
        .map(|(day, c)| DayRow {
            date: dates::long_day(*day),
            iso: dates::iso_day(*day),
            started: c.started,
            completed: c.completed,
            rate: rate(c.completed, c.started),
        })
        .collect();
    page.services = s.services.iter().map(|(n, c)| row(n, c, c.started)).collect();
    page.providers = s.providers.iter().map(|(n, c)| row(n, c, c.chosen)).collect();
    page.outcomes = s
        .total
        .outcomes
        .iter()
        .map(|(k, v)| (format!("Provider answered: {k}"), *v))
        .chain(
            s.total
                .errors
                .iter()
                .map(|(k, v)| (format!("Returned with error: {k}"), *v)),
        )
        .collect();
    let labels: Vec<String> = s.days.iter().map(|(d, _)| dates::short_day(*d)).collect();
    let started: Vec<u64> = s.days.iter().map(|(_, c)| c.started).collect();
    let completed: Vec<u64> = s.days.iter().map(|(_, c)| c.completed).collect();
    page.daily_chart = Some(chart::grouped_bars(
        "daily",
        "Sign-ins started and completed per day",
        &format!(
            "Bar chart, {}: {} sign-ins started and {} completed in all. The table below has each day's numbers.",
            page.period, s.total.started, s.total.completed
        ),
        &labels,
        &[("Started", started), ("Completed", completed)],
    ));
    page.outcome_chart = (!page.outcomes.is_empty()).then(|| {
        let summary = page
            .outcomes
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join("; ");
        chart::horizontal_bars(
            "outcomes",
            "Outcomes: how providers answered, and errors returned to services",
            &format!("Bar chart, {}: {summary}.", page.period),
            &page.outcomes,
        )
    });
}

/// `GET /figures`.
pub async fn get(State(state): State<AuditorState>, signed: SignedIn, Query(q): Query<FiguresQuery>) -> Response {
    let today = dates::day_of(state.now());
    let mut page = FiguresPage {
        nav: signed.nav("figures"),
        from: q.from.clone().unwrap_or_default(),
        to: q.to.clone().unwrap_or_default(),
        errors: Vec::new(),
        period: String::new(),
        shown: false,
        total: row("All services", &Counts::default(), 0),
        days: Vec::new(),
        services: Vec::new(),
        providers: Vec::new(),
        outcomes: Vec::new(),
        daily_chart: None,
        outcome_chart: None,
        read_at: None,
        counted: 0,
        unreadable: 0,
    };
    let status = match period(&q, today) {
        Err(errors) => {
            page.errors = errors;
            StatusCode::BAD_REQUEST
        }
        Ok((from, to)) => {
            page.from = dates::iso_day(from);
            page.to = dates::iso_day(to);
            let (summary, read_at, counted, unreadable) =
                state.with_tally(|t| (t.range(from, to), t.read_at, t.next.iter().sum::<u64>(), t.unreadable));
            page.read_at = read_at.map(dates::readable);
            page.counted = counted;
            page.unreadable = unreadable;
            fill(&mut page, &summary, from, to);
            StatusCode::OK
        }
    };
    crate::web::page::render(status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(from: &str, to: &str) -> FiguresQuery {
        FiguresQuery {
            from: Some(from.into()),
            to: Some(to.into()),
        }
    }

    #[test]
    fn periods_default_to_the_last_thirty_days_and_are_checked() {
        let today = 20_000;
        let none = FiguresQuery { from: None, to: None };
        assert_eq!(period(&none, today), Ok((today - 29, today)));
        assert_eq!(period(&q("1970-01-01", "1970-01-02"), today), Ok((0, 1)));
        let fields = |r: Result<(Day, Day), Vec<FieldError>>| -> Vec<&'static str> {
            r.err().unwrap_or_default().iter().map(|e| e.field).collect()
        };
        assert_eq!(fields(period(&q("nope", "1970-01-02"), today)), ["from"]);
        assert_eq!(fields(period(&q("bad", "worse"), today)), ["from", "to"]);
        assert_eq!(fields(period(&q("1970-01-03", "1970-01-02"), today)), ["to"]);
        assert_eq!(fields(period(&q("1970-01-01", "1971-01-03"), today)), ["to"]);
    }
}
