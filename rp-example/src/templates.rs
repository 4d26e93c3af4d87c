//! The pages, as askama templates extending the shared GOV.UK layout (`govuk/templates/govuk/layout.html`).

use askama::Template;
use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

/// Renders a page, or a bare 500 if the template fails (it cannot, short of a bug).
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// `GET /`.
#[derive(Template)]
#[template(path = "start.html")]
pub struct StartPage<'a> {
    pub service_name: &'a str,
    pub signed_in: bool,
}

/// The identity credential on `/account`: the JWT as received, its status and (when valid) its claims.
pub struct IdentityView<'a> {
    pub jwt: &'a str,
    pub validation: String,
    pub claims: Option<String>,
}

/// `GET /account`.
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub service_name: &'a str,
    pub sub: &'a str,
    pub vot: &'a str,
    pub vtm: Option<&'a str>,
    pub sid: Option<&'a str>,
    pub claims: &'a str,
    /// Given names then family names, from the validated credential.
    pub name: Option<String>,
    /// The birth date as received.
    pub birth_date: Option<&'a str>,
    /// The credential's `vot` (e.g. `P2`).
    pub identity_level: Option<&'a str>,
    /// The return codes, comma-separated, when the claim is there.
    pub return_codes: Option<String>,
    /// Pretty JSON of the address, passport and driving permit claims, when present.
    pub address: Option<String>,
    pub passport: Option<String>,
    pub driving_permit: Option<String>,
    pub identity: Option<IdentityView<'a>>,
}

/// `GET /signed-out`.
#[derive(Template)]
#[template(path = "signed_out.html")]
pub struct SignedOutPage<'a> {
    pub service_name: &'a str,
}

/// Any [`crate::RpError`].
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub service_name: &'a str,
    pub heading: &'a str,
    pub body: &'a str,
    pub code: &'a str,
    pub detail: Option<&'a str>,
    pub link_href: &'a str,
    pub link_text: &'a str,
}
