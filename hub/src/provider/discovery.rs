//! `GET /.well-known/openid-configuration` (OIDC Discovery 1.0 §4, INTERFACE.md §1).

use crate::{config::Config, http::cached, state::AppState};
use axum::{extract::State, response::Response, Json};
use serde_json::{json, Value};

/// The discovery document, a pure function of configuration.
pub fn document(config: &Config) -> Value {
    let url = |p: &str| config.url(p);
    json!({
        "issuer": config.issuer,
        "authorization_endpoint": url("/authorize"),
        "token_endpoint": url("/token"),
        "userinfo_endpoint": url("/userinfo"),
        "jwks_uri": url("/.well-known/jwks.json"),
        "end_session_endpoint": url("/logout"),
        "pushed_authorization_request_endpoint": url("/par"),
        "require_pushed_authorization_requests": false,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code"],
        "scopes_supported": ["openid", "email", "phone"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_post", "client_secret_basic"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "code_challenge_methods_supported": ["S256"],
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": ["ES256", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": true,
        "claims_supported": [
            "sub", "email", "email_verified", "phone_number", "phone_number_verified",
            "https://vocab.account.gov.uk/v1/coreIdentityJWT", "https://vocab.account.gov.uk/v1/address",
            "https://vocab.account.gov.uk/v1/passport", "https://vocab.account.gov.uk/v1/drivingPermit",
            "https://vocab.account.gov.uk/v1/returnCode"
        ],
        "subject_types_supported": ["pairwise"],
        "vtr_values_supported": ["Cl", "Cl.Cm", "Cl.Cm.P0", "Cl.Cm.P1", "Cl.Cm.P2", "Cl.Cm.P3"],
        "ui_locales_supported": ["en", "cy"],
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "dpop_signing_alg_values_supported": crate::dpop::ALGS,
        "trustmarks": url("/trustmark"),
    })
}

/// Serves the discovery document, cacheable for a day.
pub async fn get(State(state): State<AppState>) -> Response {
    cached(Json(document(&state.config)), "public, max-age=86400")
}
