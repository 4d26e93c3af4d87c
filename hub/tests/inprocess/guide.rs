//! The integration guide for service teams (`docs/integrate.md`) kept true: every client registration it
//! shows parses, every hub setting it shows is one, every registry field is in its table, every endpoint
//! it names answers, every error code in its error tables is one the hub has, and its sandbox requests
//! and table match the sandbox. A renamed field, path, code or forced answer breaks this test.

use crate::app::{Seen, TestApp};
use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use hub::{oauth::ErrorCode, registry::ClientRegistry, sandbox};
use std::collections::BTreeSet;

const GUIDE: &str = include_str!("../../../docs/integrate.md");
const CLIENTS_RS: &str = include_str!("../../src/registry/clients.rs");

/// The fenced blocks of the guide in `lang`.
fn blocks(lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in GUIDE.lines() {
        match &mut current {
            None if line.trim_end() == format!("```{lang}") => current = Some(String::new()),
            Some(_) if line.trim_end() == "```" => out.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    out
}

/// The development registrations the guide's examples run against.
fn dev_clients() -> String {
    blocks("toml")
        .into_iter()
        .find(|b| b.contains("client_id = \"my-service\""))
        .expect("the guide shows the development registrations")
}

/// The code spans of the guide (text between single backticks, outside fenced blocks).
fn code_spans() -> Vec<&'static str> {
    let mut spans = Vec::new();
    let mut fenced = false;
    for line in GUIDE.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            spans.extend(line.split('`').skip(1).step_by(2));
        }
    }
    spans
}

/// The rows of every table whose header's first cell is `first`, as their cells.
fn table_rows(first: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut inside = false;
    for line in GUIDE.lines() {
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect();
        if !line.starts_with('|') {
            inside = false;
        } else if cells.first().map(String::as_str) == Some(first) {
            inside = true;
        } else if inside && !line.starts_with("| ---") {
            rows.push(cells);
        }
    }
    rows
}

/// The code spans in a table cell.
fn spans_in(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

#[test]
fn every_registration_in_the_guide_parses_and_every_setting_is_the_hubs() {
    let toml = blocks("toml");
    let registrations: Vec<&String> = toml.iter().filter(|b| b.contains("[[clients]]")).collect();
    assert!(registrations.len() >= 5, "{} registrations found", registrations.len());
    for block in &registrations {
        if let Err(e) = ClientRegistry::parse(block) {
            panic!("a registration in docs/integrate.md does not parse: {e}\n{block}");
        }
    }
    let profiles: BTreeSet<&str> = ["one-login", "oidc-basic", "fapi2"]
        .into_iter()
        .filter(|p| registrations.iter().any(|b| b.contains(&format!("profile = \"{p}\""))))
        .collect();
    assert_eq!(profiles.len(), 2, "the guide shows the oidc-basic and fapi2 profiles");
    let settings: Vec<&String> = toml.iter().filter(|b| !b.contains("[[")).collect();
    assert!(!settings.is_empty());
    for block in settings {
        if let Err(e) = toml::from_str::<hub::Config>(block) {
            panic!("hub settings in docs/integrate.md are not the hub's: {e}\n{block}");
        }
    }
}

#[test]
fn every_registry_field_is_in_the_guides_table() {
    let body = CLIENTS_RS
        .split("pub struct Client {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("struct Client in clients.rs");
    let mut skip_next = false;
    let mut fields = Vec::new();
    for line in body.lines().map(str::trim) {
        if line.starts_with("#[serde(skip)]") {
            skip_next = true;
        } else if let Some(field) = line.strip_prefix("pub ").and_then(|l| l.split(':').next()) {
            if !std::mem::take(&mut skip_next) {
                fields.push(field.to_string());
            }
        }
    }
    assert!(fields.len() > 20, "{fields:?}");
    let documented: BTreeSet<String> = table_rows("field")
        .iter()
        .flat_map(|r| spans_in(&r[0]).into_iter().map(str::to_string).collect::<Vec<_>>())
        .collect();
    for field in fields {
        assert!(
            documented.contains(&field),
            "registry field {field} is not in the guide's table"
        );
    }
}

#[test]
fn every_error_code_in_the_guides_tables_is_one_the_hub_sends() {
    let codes: BTreeSet<String> = table_rows("error")
        .iter()
        .flat_map(|r| spans_in(&r[0]).into_iter().map(str::to_string).collect::<Vec<_>>())
        .collect();
    assert!(codes.len() >= 15, "{codes:?}");
    for code in &codes {
        let parsed: Result<ErrorCode, _> = serde_json::from_value(serde_json::Value::String(code.clone()));
        assert!(
            parsed.is_ok(),
            "the guide names error {code}, which the hub does not have"
        );
    }
}

async fn call(app: &TestApp, method: &Method, path: &str) -> Seen {
    let mut request = Request::builder().method(method.clone()).uri(path);
    if method == Method::POST {
        request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn every_endpoint_the_guide_names_answers() {
    let app = TestApp::new()
        .with_client(&dev_clients())
        .with_config(|c| c.sandbox = true)
        .build();
    let mut endpoints = BTreeSet::new();
    for span in code_spans() {
        for (prefix, method) in [("GET /", Method::GET), ("POST /", Method::POST)] {
            if let Some(path) = span.strip_prefix(prefix) {
                if !path.contains(char::is_whitespace) {
                    endpoints.insert((method, format!("/{path}")));
                }
            }
        }
    }
    assert!(endpoints.len() >= 13, "{endpoints:?}");
    for (method, path) in &endpoints {
        let seen = call(&app, method, path).await;
        assert!(
            seen.status != StatusCode::NOT_FOUND && seen.status != StatusCode::METHOD_NOT_ALLOWED,
            "the guide names {method} {path}, which answers {}",
            seen.status
        );
    }
}

#[test]
fn the_guides_sandbox_table_is_every_forced_answer() {
    let named: BTreeSet<String> = table_rows("forced answer")
        .iter()
        .flat_map(|r| spans_in(&r[0]).into_iter().map(str::to_string).collect::<Vec<_>>())
        .collect();
    for name in &named {
        let name = name.replace("<CODE>", "X");
        assert!(sandbox::Forced::parse(&name).is_some(), "the guide names {name}");
    }
    let mut want: BTreeSet<String> = sandbox::NAMES.iter().map(|n| n.to_string()).collect();
    want.insert("return-code:<CODE>".into());
    assert_eq!(named, want, "the guide's table and the sandbox's forced answers differ");
}

#[tokio::test]
async fn the_guides_sandbox_requests_are_accepted() {
    let app = TestApp::new()
        .with_client(&dev_clients())
        .with_config(|c| c.sandbox = true)
        .build();
    let bodies: Vec<&str> = GUIDE
        .lines()
        .filter(|l| l.contains("/sandbox/config") && l.contains("-d '"))
        .filter_map(|l| l.split("-d '").nth(1)?.split('\'').next())
        .collect();
    assert!(bodies.len() >= 5, "{bodies:?}");
    for body in bodies {
        let seen = app
            .send(
                Request::post("/sandbox/config")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await;
        // Each is understood: done, or refused only for what the guide says (no sign-in yet, no
        // back-channel URI), never as an unknown client, answer, action or field.
        let description = seen.json()["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let understood = seen.status == StatusCode::OK
            || (body.contains("backchannel-logout")
                && (description.contains("nobody has signed in") || description.contains("no backchannel_logout_uri")));
        assert!(understood, "{body}: {} {}", seen.status, seen.body);
    }
}
