//! The OpenID Connect endpoints of one provider, each under `/{provider}/…`; one module per path
//! (STYLE.md §3).

pub mod authorize;
pub mod client_auth;
pub mod config;
pub mod discovery;
pub mod jwks;
pub mod token;
pub mod userinfo;
