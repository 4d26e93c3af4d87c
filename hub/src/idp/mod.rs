//! The hub as an OpenID Connect client of certified identity providers (INTERFACE.md §9): [`check`]
//! holds the rules for the hub's request and a provider's answer as pure functions; [`providers`]
//! makes the calls (discovery, token, ID token keys, userinfo) through the [`crate::outbound`] seam.
//! The endpoints a provider sends the person back to live in `upstream/`.

pub mod check;
pub mod providers;

/// The redirect URI path the hub registers at every provider.
pub const CALLBACK_PATH: &str = "/upstream/callback";
/// Where the hub publishes the key it signs client assertions with, for providers to fetch.
pub const JWKS_PATH: &str = "/upstream/jwks.json";
