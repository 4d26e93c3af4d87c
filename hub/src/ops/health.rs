//! `GET /healthz` (the process answers) and `GET /readyz` (it can serve sign-ins), for load balancers
//! and orchestrators. `/readyz` answers a small JSON body, one entry per dependency, with no internal
//! error text: `{"ready": true, "checks": {"store": "ok", "keys": "ok", "audit_log": "ok",
//! "providers": {"stub-a": "fresh"}}}`; 503 when the store or the audit log fail. `keys` is `failing`
//! when the key files changed and could not be read (a bad key dropped in): the instance still signs with
//! the keys it read last, and every instance reads the same files, so it is reported, not made unready
//! (that would take them all out at once). Providers' discovery is reported (`fresh`, `stale`,
//! `failing`, `not_fetched`) and does not make an instance unready either: another instance could not
//! do better, and people are offered the providers that work.

use crate::state::AppState;
use axum::{extract::State, http::StatusCode, response::IntoResponse, Json};
use serde_json::{json, Map, Value};

/// Liveness.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// What one provider's discovery looks like to `/readyz`, from its age (`None`: never fetched) and
/// whether its circuit breaker is open.
pub fn provider_status(age_secs: Option<i64>, breaker_open: bool) -> &'static str {
    match (age_secs, breaker_open) {
        (_, true) => "failing",
        (None, false) => "not_fetched",
        (Some(age), false) if age <= crate::idp::providers::METADATA_MAX_AGE_SECS => "fresh",
        (Some(_), false) => "stale",
    }
}

/// Whether the instance is ready, from the checks that matter: it can keep journeys and write the
/// assertion log.
pub fn ready(store: bool, audit: bool) -> bool {
    store && audit
}

/// Readiness, per dependency.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let store = state.store.ping().await.is_ok();
    let keys = !state.keys.reload_failing();
    let audit = state.audit.healthy();
    let ages: std::collections::HashMap<String, i64> = state.upstreams.discovery_ages().await.into_iter().collect();
    let mut providers = Map::new();
    for provider in state.snapshot().providers.iter() {
        let id = provider.id.as_str();
        let status = provider_status(ages.get(id).copied(), state.upstreams.open(id));
        providers.insert(id.to_string(), Value::from(status));
    }
    let ok = |b: bool| if b { "ok" } else { "failing" };
    let ready = ready(store, audit);
    let body = json!({
        "ready": ready,
        "checks": {
            "store": ok(store),
            "keys": ok(keys),
            "audit_log": ok(audit),
            "providers": providers,
        }
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_and_provider_status_follow_the_rules() {
        let max = crate::idp::providers::METADATA_MAX_AGE_SECS;
        for (age, open, want) in [
            (None, false, "not_fetched"),
            (Some(0), false, "fresh"),
            (Some(max), false, "fresh"),
            (Some(max + 1), false, "stale"),
            (Some(5), true, "failing"),
            (None, true, "failing"),
        ] {
            assert_eq!(provider_status(age, open), want, "{age:?} {open}");
        }
        assert!(ready(true, true));
        for (s, a) in [(false, true), (true, false), (false, false)] {
            assert!(!ready(s, a));
        }
    }
}
