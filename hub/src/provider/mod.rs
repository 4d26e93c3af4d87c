//! The hub as an OpenID Connect provider to relying services: one module per endpoint of INTERFACE.md §1,
//! named after its path (`/token` → [`token`], `/.well-known/jwks.json` → [`jwks`]), plus the rules they
//! share ([`client_auth`], [`request_object`]) and back-channel logout delivery ([`backchannel`]).

pub mod authorize;
pub mod backchannel;
pub mod client_auth;
pub mod did;
pub mod discovery;
pub mod dpop_proof;
pub mod jwks;
pub mod logout;
pub mod par;
pub mod token;
pub mod trustmark;
pub mod userinfo;
