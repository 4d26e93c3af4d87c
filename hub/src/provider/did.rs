//! `GET /.well-known/did.json` (W3C did:web, INTERFACE.md §5): the DID document of the identity issuer,
//! listing the keys that sign `coreIdentityJWT` credentials, so services verify them as they do One
//! Login's (`did:web:identity.account.gov.uk`).

use crate::{http::cached_for, state::AppState};
use axum::{extract::State, response::Response, Json};

/// The DID document, cacheable for `did_max_age_secs` (an hour by default).
pub async fn get(State(state): State<AppState>) -> Response {
    cached_for(Json(state.did_document()), state.config.did_max_age_secs)
}
