//! Operators' endpoints, apart from the service-facing ones: `GET /healthz`, `GET /readyz` and
//! `GET /metrics`.

pub mod health;
pub mod metrics;
