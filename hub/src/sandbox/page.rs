//! `GET|POST /sandbox` (sandbox only): the page a service team forces answers from, without writing a
//! request by hand. Its form carries a token only the page knows, so no other site can submit it.

use super::{config::Change, NAMES};
use crate::{
    state::AppState,
    web::{
        chrome::Chrome,
        page::{render, Page, PageResult},
    },
};
use askama::Template;
use axum::{extract::State, http::StatusCode, Form};
use serde::Deserialize;

/// The sandbox page.
#[derive(Template, Debug)]
#[template(path = "sandbox.html")]
pub struct SandboxPage {
    pub chrome: Chrome,
    pub csrf: String,
    pub clients: Vec<String>,
    pub names: Vec<&'static str>,
    pub forced: Vec<(String, String)>,
    pub message: String,
}

/// The form's token: a keyed hash only a page of this hub shows.
fn token(state: &AppState) -> String {
    crate::ids::hash(&format!(
        "sandbox-form:{}",
        crate::ids::hash(&String::from_utf8_lossy(&state.keys.nonce_key))
    ))
}

fn view(state: &AppState, chrome: Chrome, message: String) -> SandboxPage {
    let reg = state.snapshot();
    let mut clients: Vec<String> = reg.clients.iter().map(|c| c.client_id.to_string()).collect();
    clients.sort();
    let forced = state
        .sandbox
        .as_ref()
        .map(|s| s.all().into_iter().map(|(c, f)| (c.to_string(), f.name())).collect())
        .unwrap_or_default();
    SandboxPage {
        chrome,
        csrf: token(state),
        clients,
        names: NAMES.to_vec(),
        forced,
        message,
    }
}

/// `GET /sandbox`.
pub async fn get(State(state): State<AppState>, chrome: Chrome) -> PageResult {
    Ok(render(StatusCode::OK, &view(&state, chrome, String::new())))
}

/// The page's form.
#[derive(Debug, Deserialize)]
pub struct Submitted {
    pub csrf: String,
    pub client_id: String,
    #[serde(default)]
    pub force: String,
    #[serde(default)]
    pub return_code: String,
    #[serde(default)]
    pub action: String,
}

/// `POST /sandbox`.
pub async fn post(State(state): State<AppState>, chrome: Chrome, Form(form): Form<Submitted>) -> PageResult {
    if !crate::ids::constant_time_eq(&form.csrf, &token(&state)) {
        return Err(crate::error::HubError::NotYours.into());
    }
    let force = match (form.force.as_str(), form.return_code.trim()) {
        (_, code) if !code.is_empty() => Some(format!("return-code:{code}")),
        ("", _) => None,
        (name, _) => Some(name.to_string()),
    };
    let change = Change {
        client_id: form.client_id,
        force,
        action: (form.action != "force" && !form.action.is_empty()).then_some(form.action),
    };
    match super::config::apply(&state, &change).await {
        Ok(done) => Ok(render(StatusCode::OK, &view(&state, chrome, done))),
        Err(e) => Err(Page::bad_request(
            "request-problem-heading",
            crate::i18n::Text::new("sandbox-refused").arg("reason", e.description()),
        )
        .into()),
    }
}
