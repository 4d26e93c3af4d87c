//! The hub's metrics (Prometheus names and labels), counted where things happen. Labels come only from
//! fixed sets (route templates, levels, outcomes, registered ids): never a request value, never anything
//! about a person. `GET /metrics` serves them ([`crate::ops::metrics`]).

use crate::audit::ProviderOutcome;

/// Counts a code issued to a service, by the level asserted.
pub fn code_issued(vot: &'static str, identity: Option<&'static str>, return_code: Option<&'static str>) {
    metrics::counter!(
        "hub_codes_issued_total",
        "vot" => vot,
        "identity" => identity.unwrap_or("none"),
        "return_code" => return_code.unwrap_or("none")
    )
    .increment(1);
}

/// Counts a connection closed at once because the server was at its connection cap (`total`, `per_ip`).
pub fn connection_refused(cap: &'static str) {
    metrics::counter!("hub_connections_refused_total", "cap" => cap).increment(1);
}

/// Counts a request refused by a rate limit (`ip` or `client`).
pub fn rate_limited(by: &'static str) {
    metrics::counter!("hub_rate_limited_total", "by" => by).increment(1);
}

/// Counts a provider's circuit breaker opening.
pub fn breaker_opened(provider: &str) {
    metrics::counter!("hub_provider_breaker_opened_total", "provider" => provider.to_string()).increment(1);
}

/// Counts back-channel logout deliveries (`delivered` or `gave_up`) and the attempts they took.
pub fn backchannel(delivered: bool, attempts: u32) {
    let outcome = if delivered { "delivered" } else { "gave_up" };
    metrics::counter!("hub_backchannel_logout_total", "outcome" => outcome).increment(1);
    metrics::counter!("hub_backchannel_logout_attempts_total").increment(u64::from(attempts));
}

/// Times an audit append (durable on return) and counts failures.
pub fn audit_append(took: std::time::Duration, ok: bool) {
    metrics::histogram!("hub_audit_append_seconds").record(took.as_secs_f64());
    if !ok {
        metrics::counter!("hub_audit_append_failures_total").increment(1);
    }
}

/// Counts checkpoints a witness cosigned (`true`) or did not.
pub fn witness(cosigned: bool) {
    let outcome = if cosigned { "cosigned" } else { "failed" };
    metrics::counter!("hub_audit_witness_total", "outcome" => outcome).increment(1);
}

/// Counts registry reloads by outcome (`applied` or `refused`).
pub fn registry_reload(outcome: &'static str) {
    metrics::counter!("hub_registry_reloads_total", "outcome" => outcome).increment(1);
}

/// Counts a provider's answer by outcome. `provider` is a registered provider id.
pub fn provider_outcome(provider: &str, outcome: ProviderOutcome) {
    let outcome = match outcome {
        ProviderOutcome::Success => "success",
        ProviderOutcome::LevelNotReached => "level_not_reached",
        ProviderOutcome::Denied => "access_denied",
        ProviderOutcome::Pending => "pending",
        ProviderOutcome::FraudSuspected => "fraud_suspected",
        ProviderOutcome::Unavailable => "unavailable",
        ProviderOutcome::Invalid => "refused",
    };
    metrics::counter!("hub_provider_outcomes_total", "provider" => provider.to_string(), "outcome" => outcome)
        .increment(1);
}

/// Counts TLS certificate reloads by outcome (`applied` or `refused`).
pub fn tls_reload(outcome: &'static str) {
    metrics::counter!("hub_tls_reloads_total", "outcome" => outcome).increment(1);
}

/// Times one call to a provider (`endpoint`: `discovery`, `token`, `userinfo`) and counts its outcome:
/// `ok` (2xx), `refused` (another status), `timeout`, `unreachable`.
pub fn provider_call(
    provider: &str,
    endpoint: &'static str,
    reply: &Result<crate::outbound::Reply, crate::outbound::FetchError>,
    took: std::time::Duration,
) {
    let outcome = match reply {
        Ok(r) if r.ok() => "ok",
        Ok(_) => "refused",
        Err(crate::outbound::FetchError::Timeout(_)) => "timeout",
        Err(_) => "unreachable",
    };
    provider_call_outcome(provider, endpoint, outcome, took);
}

/// [`provider_call`] with the outcome already named.
pub fn provider_call_outcome(provider: &str, endpoint: &'static str, outcome: &'static str, took: std::time::Duration) {
    metrics::histogram!(
        "hub_provider_request_duration_seconds",
        "provider" => provider.to_string(),
        "endpoint" => endpoint
    )
    .record(took.as_secs_f64());
    metrics::counter!(
        "hub_provider_requests_total",
        "provider" => provider.to_string(),
        "endpoint" => endpoint,
        "outcome" => outcome
    )
    .increment(1);
}

/// Counts a journey's end by service, provider (`none` before one was chosen) and outcome (`assertion`
/// or the OAuth error code returned). Service and provider are registered ids: fixed sets.
pub fn journey_ended(client: &str, provider: &str, outcome: &'static str) {
    metrics::counter!(
        "hub_journeys_total",
        "client" => client.to_string(),
        "provider" => provider.to_string(),
        "outcome" => outcome
    )
    .increment(1);
}

/// Times one store operation (`op`: the [`crate::store::SessionStore`] method) and counts its errors.
pub fn store_op(op: &'static str, took: std::time::Duration, ok: bool) {
    metrics::histogram!("hub_store_operation_duration_seconds", "op" => op).record(took.as_secs_f64());
    if !ok {
        metrics::counter!("hub_store_errors_total", "op" => op).increment(1);
    }
}
