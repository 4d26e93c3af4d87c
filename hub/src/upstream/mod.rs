//! The endpoints providers send the person and their requests to (INTERFACE.md §9):
//! `GET /upstream/callback` ([`callback`]) and `GET /upstream/jwks.json` ([`jwks`]). The rules they apply
//! live in [`crate::idp`].

pub mod callback;
pub mod jwks;
