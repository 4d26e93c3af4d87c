//! Pages for people (GOV.UK Design System): the provider choice and every error, each with a way forward.
//! Templates extend the shared `govuk/layout.html`; pages work without JavaScript.

pub mod choose_provider;
pub mod consent;

use crate::i18n::{Chrome, Text};
use askama::Template;
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
};

/// A simple page: heading, paragraphs, an optional error code and one button. Its texts are message ids,
/// rendered in the person's language by [`crate::i18n::localise`] once the handler has returned it.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: StatusCode,
    pub heading: Text,
    pub paragraphs: Vec<Text>,
    pub code: Option<String>,
    pub action: Option<(String, Text)>,
    pub secondary: Option<(String, Text)>,
}

/// A [`Page`] in one language.
#[derive(Template, Debug)]
#[template(path = "page.html")]
pub struct PageView {
    pub chrome: Chrome,
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub code: Option<String>,
    pub action: Option<(String, String)>,
    pub secondary: Option<(String, String)>,
}

impl Page {
    /// A page with a status and heading.
    pub fn new(status: StatusCode, heading: impl Into<Text>) -> Self {
        Self {
            status,
            heading: heading.into(),
            paragraphs: Vec::new(),
            code: None,
            action: None,
            secondary: None,
        }
    }

    /// Adds a paragraph.
    pub fn para(mut self, text: impl Into<Text>) -> Self {
        self.paragraphs.push(text.into());
        self
    }

    /// Shows an error code a person can quote to support.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Adds the page's button.
    pub fn action(mut self, href: impl Into<String>, text: impl Into<Text>) -> Self {
        self.action = Some((href.into(), text.into()));
        self
    }

    /// Adds a link back to the service (which then receives `access_denied`).
    pub fn with_return_link(mut self) -> Self {
        self.secondary = Some(("/cancel-link".into(), "return-to-service".into()));
        self
    }

    /// "Sorry, there is a problem with the service": the hub or its store is down; try again later.
    pub fn unavailable() -> Self {
        Page::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable-heading")
            .para("unavailable-body")
            .code("temporarily_unavailable")
    }

    /// A query string over the limit (INTERFACE.md §2): 414, with the way back.
    pub fn too_long() -> Self {
        Page::new(StatusCode::URI_TOO_LONG, "too-long-heading")
            .para("go-back-try-again")
            .code("invalid_request")
    }

    /// The journey cookie is missing or the journey has expired.
    pub fn session_expired() -> Self {
        Page::new(StatusCode::BAD_REQUEST, "session-expired-heading")
            .para("session-expired-body")
            .para("go-back-sign-in-again")
            .code("session_expired")
    }

    /// The page in the language of `chrome`.
    pub fn render_in(&self, chrome: &Chrome) -> Response {
        let lang = chrome.lang;
        let view = PageView {
            chrome: chrome.clone(),
            heading: self.heading.render(lang),
            paragraphs: self.paragraphs.iter().map(|p| p.render(lang)).collect(),
            code: self.code.clone(),
            action: self.action.as_ref().map(|(href, t)| (href.clone(), t.render(lang))),
            secondary: self.secondary.as_ref().map(|(href, t)| (href.clone(), t.render(lang))),
        };
        render(self.status, &view)
    }
}

/// The name of the service a journey is for, in the page's language (empty if it has left the registry).
pub fn service_name(state: &crate::state::AppState, client_id: &str, lang: crate::i18n::Lang) -> String {
    state
        .clients()
        .get(client_id)
        .map(|c| c.name(lang).to_string())
        .unwrap_or_default()
}

/// Renders any template as an HTML response with the given status and safe headers.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => {
            let mut response = (status, Html(body)).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; frame-ancestors 'none'; form-action 'self' http: https:"),
            );
            headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

impl IntoResponse for Page {
    /// An empty response carrying the page; [`crate::i18n::localise`] renders it in the person's language.
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// One provider row on the choice page.
#[derive(Debug, Clone)]
pub struct ProviderOption {
    pub id: String,
    pub name: String,
    pub unavailable: bool,
    pub failed: bool,
    pub checked: bool,
}

/// The provider choice page (DESIGN.md journey step 3), its texts in the person's language.
#[derive(Template, Debug)]
#[template(path = "choose_provider.html")]
pub struct ChooseProvider {
    pub chrome: Chrome,
    pub heading: String,
    pub return_to: String,
    pub hint: String,
    pub providers: Vec<ProviderOption>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// The 404 page.
pub async fn not_found() -> Page {
    Page::new(StatusCode::NOT_FOUND, "not-found-heading").para("not-found-body")
}

/// A `302 Found` redirect, the status OAuth 2.0 examples use (RFC 6749 §4.1.2); browsers follow it with
/// a GET even after a form POST.
pub fn found(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
