//! Pages for people (GOV.UK Design System), each with a way forward, working without JavaScript:
//! the provider choice (`GET|POST /choose-provider`), consent (`GET|POST /consent`), going back to the
//! service (`POST /cancel`, `GET /cancel-link`), the notices after a provider's answer, and every error
//! page. Templates extend the shared `govuk/layout.html`.

pub mod cancel;
pub mod choose_provider;
pub mod chrome;
pub mod consent;
pub mod form_post;
pub mod localise;
pub mod notice;
pub mod page;

use crate::{
    carry_out::{Next, Outcome},
    http::{self, cookies},
    registry::Snapshot,
};
use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use page::Page;

/// Renders what carrying out a decision said: a redirect (to the service, the provider, the choice or
/// consent page) or a notice page, with the cookies that change.
pub fn respond(outcome: Outcome, reg: &Snapshot) -> Response {
    let page = |path: &str| match &outcome.journey {
        Some(link) => http::found(&link.page(path)),
        None => page::for_error(crate::error::HubError::NoJourney).into_response(),
    };
    let mut response = match &outcome.next {
        Next::Service(delivery) => http::deliver(delivery),
        Next::Provider(location) => http::found(location),
        Next::Choice | Next::ChoiceAgain => page("/choose-provider"),
        Next::Consent => page("/consent"),
        Next::Notice(n) => match &outcome.journey {
            Some(link) => notice::page(n, reg, link).into_response(),
            None => page::for_error(crate::error::HubError::NoJourney).into_response(),
        },
    };
    cookies::apply(response.headers_mut(), &outcome.cookies);
    response
}

/// The 404 page.
pub async fn not_found() -> Page {
    Page::new(StatusCode::NOT_FOUND, "not-found-heading").para("not-found-body")
}
