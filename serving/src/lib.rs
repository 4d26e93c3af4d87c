//! What the federation's three servers (hub, idp-stub, rp-example) share to run as a national service
//! (issue "run it like a national service"): TLS with certificates reloaded in place ([`tls`]), one
//! bounded HTTP/1.1 + HTTP/2 server loop with graceful shutdown ([`server`]), the trust store of their
//! outbound calls ([`trust`]), request ids and W3C trace context on every request ([`request`]), and logs
//! (text or JSON) with optional OpenTelemetry trace export over OTLP ([`telemetry`]).
//!
//! Each binary's configuration embeds [`TlsConfig`] and [`TelemetryConfig`]; its `main` calls
//! [`telemetry::init`] and [`shutdown::signal`], its `run` calls [`server::serve`].

pub mod config;
pub mod request;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod trust;

pub use config::{LogFormat, TelemetryConfig, TlsConfig};
