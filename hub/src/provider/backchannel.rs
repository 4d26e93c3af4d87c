//! Back-channel logout (OIDC Back-Channel Logout 1.0 §2.4–2.7, INTERFACE.md §6): when a hub session ends,
//! every service given an assertion in it that registered a `backchannel_logout_uri` is sent a signed
//! logout token. Delivery runs in the background with retries and backoff; it never delays the person.

use crate::{
    audit::{self, Fact},
    ids::{PairwiseSub, SessionId, Sid},
    journey::HubSession,
    registry::Client,
    state::AppState,
    tokens::{LogoutTokenClaims, LOGOUT_TYP},
};
use std::time::Duration;

/// Attempts per service.
const ATTEMPTS: u32 = 4;

/// Sends logout tokens for an ended session, in the background.
pub fn notify(state: &AppState, id: &SessionId, session: &HubSession) {
    let reg = state.snapshot();
    for client in session.clients.iter().filter_map(|id| reg.client(id.as_str())) {
        let sub = state.pairwise_sub(client, &session.person);
        deliver(state, client, sub, Sid::of_session(id, &client.client_id));
    }
}

/// Sends one service a logout token for `sub` and `sid` in the background, with retries and backoff,
/// if it registered a `backchannel_logout_uri`.
pub fn deliver(state: &AppState, client: &Client, sub: PairwiseSub, sid: Sid) {
    let Some(uri) = client.backchannel_logout_uri.clone() else {
        return;
    };
    let claims = LogoutTokenClaims::new(
        &state.config.issuer,
        client.client_id.clone(),
        sub.clone(),
        sid,
        crate::ids::random_token(),
        state.now(),
    );
    let token = match state.logout_key().sign(LOGOUT_TYP, &claims) {
        Ok(token) => token,
        Err(e) => {
            tracing::error!(error = %e, "could not sign a logout token");
            return;
        }
    };
    let state = state.clone();
    let client_id = client.client_id.clone();
    tokio::spawn(async move {
        let mut delivered = false;
        let mut attempts = 0;
        for attempt in 0..ATTEMPTS {
            attempts = attempt + 1;
            match state.outbound.post_form(&uri, &[("logout_token", &token)], None).await {
                Ok(r) if r.ok() => {
                    delivered = true;
                    break;
                }
                Ok(r) => tracing::warn!(%client_id, status = r.status, attempt, "back-channel logout refused"),
                Err(e) => tracing::warn!(%client_id, error = %e, attempt, "back-channel logout failed"),
            }
            if attempts < ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
            }
        }
        if !delivered {
            tracing::warn!(%client_id, "back-channel logout gave up");
        }
        crate::telemetry::backchannel(delivered, attempts);
        let fact = Fact::BackchannelLogout {
            client_id,
            sub,
            delivered,
            attempts,
        };
        audit::note(state.audit.as_ref(), state.now(), fact);
    });
}
