//! The hub's middle tier of tests: whole sign-ins in-process (`tower::ServiceExt::oneshot`, no socket,
//! no browser) through a fake provider, with the clock moved by hand. One test binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod app;
mod auditor;
mod fake_provider;
mod journeys;
mod router;
mod services;
mod snapshots;
