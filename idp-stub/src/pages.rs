//! The people-facing pages, rendered with askama over the shared GOV.UK layout.

use crate::{outcome::Outcome, personas::Persona};
use askama::Template;
use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

/// An error page with a way on.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// The provider's sign-in page: persona and outcome radios.
#[derive(Template)]
#[template(path = "authorize.html")]
pub struct AuthorizePage<'a> {
    pub provider_id: &'a str,
    pub provider_name: &'a str,
    /// `en` or `cy`, for the page's `lang`.
    pub lang: &'a str,
    pub request_id: &'a str,
    pub personas: &'a [Persona],
    pub outcomes: &'a [Outcome],
    /// A forced outcome or persona, shown so a tester is not surprised.
    pub forced_note: Option<String>,
}

/// The index page: providers, personas, outcomes.
#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage<'a> {
    pub providers: Vec<(String, String, String)>,
    pub personas: &'a [Persona],
    pub outcomes: &'a [Outcome],
    /// Whether `/{p}/config` and `/_requests` are served, and so worth naming.
    pub test_endpoints: bool,
}

/// Renders a template as an HTML response with `status`.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

/// A GOV.UK error page.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &ErrorPage { title, message })
}
