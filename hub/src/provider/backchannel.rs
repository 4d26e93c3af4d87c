//! Back-channel logout (OIDC Back-Channel Logout 1.0 §2.4–2.7, INTERFACE.md §6): when a hub session ends,
//! every service given an assertion in it that registered a `backchannel_logout_uri` is sent a signed
//! logout token. Delivery runs in the background with retries and backoff; it never delays the person.

use crate::{session::HubSession, state::AppState};
use serde_json::{json, Map};
use std::time::Duration;

/// The logout event (Back-Channel Logout 1.0 §2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Attempts per service.
const ATTEMPTS: u32 = 4;

/// The claims of a logout token for one service.
pub fn logout_claims(issuer: &str, client_id: &str, sub: &str, now: i64) -> Map<String, serde_json::Value> {
    let claims = json!({
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + 120,
        "jti": crate::ids::random_token(),
        "sub": sub,
        "events": { EVENT: {} },
    });
    claims.as_object().cloned().unwrap_or_default()
}

/// Sends logout tokens for an ended session, in the background.
pub fn notify(state: &AppState, session: &HubSession) {
    let clients = state.clients();
    for client in session.clients.iter().filter_map(|id| clients.get(id)) {
        let Some(uri) = client.backchannel_logout_uri.clone() else {
            continue;
        };
        let sub = state.pairwise_sub(client, &session.person);
        let claims = logout_claims(&state.config.issuer, &client.client_id, &sub, state.now());
        let token = match state.keys.signing.sign_jwt("logout+jwt", &claims) {
            Ok(token) => token,
            Err(e) => {
                tracing::error!(error = %e, "could not sign a logout token");
                continue;
            }
        };
        let http = state.http.clone();
        let client_id = client.client_id.clone();
        tokio::spawn(async move {
            for attempt in 0..ATTEMPTS {
                let sent = http.post(&uri).form(&[("logout_token", token.as_str())]).send().await;
                match sent {
                    Ok(r) if r.status().is_success() => return,
                    Ok(r) => tracing::warn!(client_id, status = %r.status(), attempt, "back-channel logout refused"),
                    Err(e) => tracing::warn!(client_id, error = %e, attempt, "back-channel logout failed"),
                }
                tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
            }
            tracing::warn!(client_id, "back-channel logout gave up");
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logout_token_claims_follow_the_spec() {
        let c = logout_claims("https://hub", "svc", "urn:sub", 1000);
        assert_eq!(c["aud"], "svc");
        assert_eq!(c["exp"], 1120);
        assert!(c["events"].get(EVENT).is_some());
        assert!(c.get("nonce").is_none(), "a logout token must not carry a nonce");
        assert_eq!(c["jti"].as_str().map(str::len), Some(43));
    }
}
