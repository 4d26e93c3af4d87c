//! `GET /.well-known/did.json` (W3C did:web, INTERFACE.md §5): the DID document of the identity issuer,
//! listing the keys that sign `coreIdentityJWT` credentials, so services verify them as they do One
//! Login's (`did:web:identity.account.gov.uk`).

use crate::{http::cached, state::AppState};
use axum::{extract::State, response::Response, Json};

/// The DID document, cacheable for an hour.
pub async fn get(State(state): State<AppState>) -> Response {
    cached(
        Json(keys::did::document(
            state.config.identity_issuer(),
            &[&state.keys.identity],
        )),
        "public, max-age=3600",
    )
}
