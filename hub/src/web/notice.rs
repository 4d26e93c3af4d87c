//! The pages a person sees after a provider's answer that does not end the journey (INTERFACE.md §9
//! outcome table): the provider failed, the person did not sign in there, or an identity check is
//! pending or failed. Each names the provider and offers a way on.

use super::page::Page;
use crate::{carry_out::JourneyLink, journey::Notice, registry::Snapshot};
use axum::http::StatusCode;

/// The page for a notice; a provider removed from the registry meanwhile ends on "session expired".
pub fn page(notice: &Notice, reg: &Snapshot, journey: &JourneyLink) -> Page {
    let id = match notice {
        Notice::ProviderProblem(p) | Notice::Denied(p) | Notice::IdentityPending(p) | Notice::IdentityFailed(p) => p,
    };
    let Some(provider) = reg.provider(id.as_str()) else {
        return Page::session_expired();
    };
    match notice {
        Notice::ProviderProblem(_) => Page::new(StatusCode::BAD_GATEWAY, provider.text("provider-problem-heading"))
            .para(provider.text("provider-problem-body"))
            .para("provider-problem-next")
            .code("provider_error")
            .action(journey.page("/choose-provider"), "choose-another"),
        Notice::Denied(_) => Page::new(StatusCode::OK, provider.text("denied-heading"))
            .para("denied-body")
            .code("access_denied")
            .action(journey.page("/choose-provider"), "choose-another")
            .para("return-link-note")
            .with_return_link(journey),
        Notice::IdentityPending(_) => Page::new(StatusCode::OK, "pending-heading")
            .para(provider.text("pending-body"))
            .para("pending-next")
            .code("identity_check_pending")
            .para("return-link-note")
            .with_return_link(journey),
        Notice::IdentityFailed(_) => Page::new(StatusCode::OK, "failed-heading")
            .para(provider.text("failed-body"))
            .para("failed-next")
            .code("identity_check_failed")
            .para("return-link-note")
            .with_return_link(journey),
    }
}
