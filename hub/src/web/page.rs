//! A person's page (GOV.UK Design System): heading, paragraphs, an optional error code a person can
//! quote, and a way forward. Its texts are message ids, rendered in the person's language by
//! [`super::chrome::localise`] once the handler has returned it. Every HTML response carries the same
//! safe headers (no caching, no framing, a strict CSP).

use super::chrome::Chrome;
use crate::{error::HubError, i18n::Text, journey::JourneyError};
use askama::Template;
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
};

/// A simple page: heading, paragraphs, an optional error code and up to two ways on.
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

    /// Adds a link back to the service (which then receives `access_denied`, or a `returnCode`); it
    /// carries the journey's token, as every state-changing link does.
    pub fn with_return_link(mut self, journey: &crate::carry_out::JourneyLink) -> Self {
        self.secondary = Some((journey.action("/cancel-link"), "return-to-service".into()));
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

    /// A provider's answer that cannot belong to this browser's journey.
    pub fn callback_mismatch() -> Self {
        Page::new(StatusCode::BAD_REQUEST, "callback-mismatch-heading")
            .para("callback-mismatch-body")
            .para("go-back-sign-in-again")
            .code("invalid_callback")
    }

    /// A request the hub cannot act on, before it can trust the service's redirect URI.
    pub fn bad_request(heading: impl Into<Text>, detail: impl Into<Text>) -> Self {
        Page::new(StatusCode::BAD_REQUEST, heading)
            .para(detail)
            .para("request-problem-next")
            .code("invalid_request")
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

impl IntoResponse for Page {
    /// An empty response carrying the page; [`super::chrome::localise`] renders it in the person's language.
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
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

/// The page a person sees for an error (STYLE.md §5: the person's rendering of [`HubError`]).
pub fn for_error(error: HubError) -> Page {
    match error {
        HubError::Store(_) | HubError::Audit(_) => Page::unavailable(),
        HubError::RateLimited(_) => Page::new(StatusCode::TOO_MANY_REQUESTS, "too-many-heading")
            .para("too-many-body")
            .code("rate_limited"),
        HubError::Journey(JourneyError::NotAwaiting) => Page::callback_mismatch(),
        HubError::Journey(_) | HubError::NoJourney => Page::session_expired(),
        HubError::NotYours => Page::new(StatusCode::FORBIDDEN, "session-expired-heading")
            .para("not-yours-body")
            .para("go-back-sign-in-again")
            .code("not_this_browser"),
        HubError::OAuth { .. } | HubError::InvalidClient { .. } | HubError::InvalidToken(_) | HubError::Dpop { .. } => {
            Page::bad_request("request-problem-heading", "request-unreadable-body")
        }
    }
}

/// A person's route failed: rendered as a GOV.UK page with a way forward.
#[derive(Debug)]
pub enum PageError {
    /// Something went wrong: [`for_error`] says which page.
    Error(HubError),
    /// The request is refused with a page of its own (before any redirect can be trusted).
    Refused(Box<Page>),
}

impl PageError {
    fn wrap(e: HubError) -> Self {
        Self::Error(e)
    }
}

/// What a person's route returns.
pub type PageResult = Result<Response, PageError>;

crate::error::rendered_as!(PageError);

impl From<Page> for PageError {
    fn from(page: Page) -> Self {
        Self::Refused(Box::new(page))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::Error(e) => {
                e.log();
                let limited = match &e {
                    HubError::RateLimited(l) => Some(*l),
                    _ => None,
                };
                let mut response = for_error(e).into_response();
                if let Some(l) = limited {
                    crate::error::retry_after(&mut response, &l);
                }
                response
            }
            Self::Refused(page) => page.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn errors_become_pages_with_a_way_on() {
        let down = HubError::Store(StoreError::Unavailable("refused".into()));
        assert_eq!(for_error(down).status, StatusCode::SERVICE_UNAVAILABLE);
        let mismatch = for_error(HubError::Journey(JourneyError::NotAwaiting));
        assert_eq!(mismatch.code.as_deref(), Some("invalid_callback"));
        assert_eq!(for_error(HubError::NoJourney).code.as_deref(), Some("session_expired"));
    }
}
