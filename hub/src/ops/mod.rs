//! Operators' endpoints, apart from the service-facing ones: `GET /healthz`, `GET /readyz` and
//! `GET /metrics`; and the guard (rate limits) in front of the costly endpoints.

pub mod guard;
pub mod health;
pub mod metrics;
