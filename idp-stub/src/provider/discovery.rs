//! `GET /{p}/.well-known/openid-configuration`: OpenID Connect Discovery 1.0 §3 metadata.

use crate::{AppState, Error};
use axum::{
    extract::{Path, State},
    Json,
};
use serde_json::{json, Value};

/// The claims the stub can release.
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "given_name",
    "family_name",
    "birthdate",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
    "https://vocab.account.gov.uk/v1/passport",
    "https://vocab.account.gov.uk/v1/drivingPermit",
    "https://vocab.account.gov.uk/v1/address",
];

/// The metadata document of the provider `issuer`.
pub fn metadata(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "phone", "address"],
        "claims_supported": CLAIMS_SUPPORTED,
        "acr_values_supported": ["Cl", "Cl.Cm", "Cl.Cm.P1", "Cl.Cm.P2", "Cl.Cm.P3"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    })
}

/// Serves the provider's discovery document.
pub async fn get(State(state): State<AppState>, Path(provider): Path<String>) -> Result<Json<Value>, Error> {
    let p = state.provider(&provider)?;
    Ok(Json(metadata(&p.issuer)))
}
