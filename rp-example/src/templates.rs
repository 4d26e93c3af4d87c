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

/// One row of the identity section of `/account`.
pub struct IdentityView<'a> {
    pub jwt: &'a str,
    pub validation: &'a str,
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
