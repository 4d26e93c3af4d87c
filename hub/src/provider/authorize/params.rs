//! The parameters of an authorization request as received, by query, form or request object
//! (OIDC Core §3.1.2.1, RFC 9101 §4), before any rule is applied.

use serde::{Deserialize, Serialize};

/// Every authorization request parameter, as received.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct Params {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub vtr: Option<String>,
    pub claims: Option<String>,
    pub ui_locales: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    pub id_token_hint: Option<String>,
    pub login_hint: Option<String>,
    /// The thumbprint of the DPoP key the code is to be bound to (RFC 9449 §10).
    pub dpop_jkt: Option<String>,
}
