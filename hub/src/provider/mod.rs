//! The hub as an OpenID Connect provider to relying services: one module per endpoint of INTERFACE.md §1,
//! named after its path.

pub mod authorize;
pub mod backchannel;
pub mod client_auth;
pub mod did;
pub mod discovery;
pub mod health;
pub mod jwks;
pub mod logout;
pub mod metrics;
pub mod request_object;
pub mod token;
pub mod trustmark;
pub mod userinfo;
