//! `GET|POST /sign-in` and `POST /sign-out`: an auditor signs in with a name and password from
//! `auditor.users` (Argon2id), gets a fresh session in `__Host-auditor-session`, and signs out with a
//! form. The sign-in form carries a CSRF token that must match its own cookie (double submit: no one
//! can sign a browser in as someone else); an address that fails [`session::MAX_FAILURES`] times waits.

use super::{
    session::{self, SESSION_COOKIE, SIGN_IN_COOKIE},
    AuditorState, ClientAddr, FieldError, Message, SignedIn,
};
use crate::ids;
use askama::Template;
use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::Response,
    Form,
};
use serde::Deserialize;

/// The longest name and password the form takes, characters.
const MAX_FIELD: usize = 1024;

/// The sign-in page.
#[derive(Template, Debug)]
#[template(path = "auditor/sign_in.html")]
pub struct SignInPage {
    pub nav: Option<super::Nav>,
    pub csrf: String,
    pub next: String,
    pub name: String,
    pub errors: Vec<FieldError>,
}

impl SignInPage {
    /// The message for a field, if it has one.
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

/// Where to go after signing in: a path on this view, never another site (`//host`, `/\host`).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 2048
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The page with the form's CSRF cookie set (a new one unless the browser has one).
fn form(status: StatusCode, headers: &HeaderMap, next: String, name: String, errors: Vec<FieldError>) -> Response {
    let csrf = session::read(headers, SIGN_IN_COOKIE).unwrap_or_else(ids::random_token);
    let mut response = crate::web::page::render(
        status,
        &SignInPage {
            nav: None,
            csrf: csrf.clone(),
            next,
            name,
            errors,
        },
    );
    session::set(response.headers_mut(), SIGN_IN_COOKIE, csrf);
    response
}

/// The query of `GET /sign-in`.
#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
}

/// `GET /sign-in`: the form (or, already signed in, where the auditor was going).
pub async fn get(State(state): State<AuditorState>, headers: HeaderMap, Query(q): Query<SignInQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    let signed = session::read(&headers, SESSION_COOKIE).and_then(|id| state.sessions.touch(&id, state.now()));
    if signed.is_some() {
        return crate::http::found(&next);
    }
    form(StatusCode::OK, &headers, next, String::new(), Vec::new())
}

/// The sign-in form as posted.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

/// `POST /sign-in`.
pub async fn post(
    State(state): State<AuditorState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let name = f.name.trim().to_string();
    let cookie = session::read(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if cookie.is_empty() || !ids::constant_time_eq(&cookie, &f.csrf) {
        let expired = FieldError {
            field: "name",
            message: "The sign-in form had expired. Sign in again".into(),
        };
        return form(StatusCode::BAD_REQUEST, &headers, next, name, vec![expired]);
    }
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > MAX_FIELD {
        errors.push(FieldError {
            field: "name",
            message: "Enter your name".into(),
        });
    }
    if f.password.is_empty() || f.password.chars().count() > MAX_FIELD {
        errors.push(FieldError {
            field: "password",
            message: "Enter your password".into(),
        });
    }
    if !errors.is_empty() {
        return form(StatusCode::BAD_REQUEST, &headers, next, name, errors);
    }
    let now = state.now();
    if let Some(wait) = state.failures.wait(ip, now) {
        let minutes = (wait + 59) / 60;
        let mut response = Message::render(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "Too many failed sign-ins",
            &[
                "There have been too many failed sign-ins from your address.",
                &format!(
                    "Wait {minutes} minute{} and try again.",
                    if minutes == 1 { "" } else { "s" }
                ),
            ],
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let users = state.app.config.auditor.users.clone();
    let (who, password) = (name.clone(), f.password);
    let ok = tokio::task::spawn_blocking(move || session::check_password(&users, &who, &password))
        .await
        .unwrap_or(false);
    if !ok {
        state.failures.failed(ip, now);
        tracing::info!(address = %ip, "auditor sign-in refused");
        let wrong = FieldError {
            field: "name",
            message: "The name or password is not right".into(),
        };
        return form(StatusCode::BAD_REQUEST, &headers, next, name, vec![wrong]);
    }
    state.failures.succeeded(ip);
    // A fresh session id at every sign-in: an id planted before it is worth nothing.
    if let Some(old) = session::read(&headers, SESSION_COOKIE) {
        state.sessions.end(&old);
    }
    let id = state.sessions.start(&name, now);
    tracing::info!(auditor = %name, "auditor signed in");
    let mut response = crate::http::found(&next);
    session::set(response.headers_mut(), SESSION_COOKIE, id);
    session::clear(response.headers_mut(), SIGN_IN_COOKIE);
    response
}

/// The sign-out form as posted.
#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /sign-out`: ends the session (its form's CSRF token must match the session's).
pub async fn sign_out(State(state): State<AuditorState>, signed: SignedIn, Form(f): Form<SignOutForm>) -> Response {
    if !ids::constant_time_eq(&signed.who.csrf, &f.csrf) {
        return Message::render(
            StatusCode::BAD_REQUEST,
            signed.nav(""),
            "The form had expired",
            &["Use the Sign out button on the page again."],
        );
    }
    state.sessions.end(&signed.id);
    tracing::info!(auditor = %signed.who.name, "auditor signed out");
    let mut response = crate::http::found("/sign-in");
    session::clear(response.headers_mut(), SESSION_COOKIE);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        let cases = [
            (Some("/figures?from=2026-01-01"), "/figures?from=2026-01-01"),
            (Some("//evil.example/"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("/a b"), "/"),
            (None, "/"),
        ];
        for (next, want) in cases {
            assert_eq!(safe_next(next), want, "{next:?}");
        }
    }
}
