//! `POST /sandbox/config` (sandbox only): what the hub answers one client, as JSON for a service team's
//! own tests. `{"client_id": "my-service", "force": "id-token-wrong-iss"}` forces an answer (see
//! [`super::NAMES`], or `return-code:X`), `"force": null` clears it; `{"client_id": "my-service",
//! "action": "rotate-keys" | "backchannel-logout"}` acts now. JSON only: a form on another site cannot
//! send it.

use super::Forced;
use crate::{
    error::{ApiResult, HubError},
    http::no_store,
    ids::ClientId,
    oauth::ErrorCode,
    state::AppState,
};
use axum::{extract::State, Json};
use serde::Deserialize;
use serde_json::json;

/// The body of `POST /sandbox/config`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub client_id: String,
    #[serde(default)]
    pub force: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
}

/// Applies a change and says what was done, in a sentence for the page and the JSON answer.
pub async fn apply(state: &AppState, change: &Change) -> Result<String, HubError> {
    let bad = |why: String| HubError::oauth(ErrorCode::InvalidRequest, why);
    let Some(sandbox) = &state.sandbox else {
        return Err(bad("the sandbox is off".into()));
    };
    let reg = state.snapshot();
    let client = reg
        .client(&change.client_id)
        .ok_or_else(|| bad(format!("{:?} is not a registered client", change.client_id)))?;
    let id: &ClientId = &client.client_id;
    match change.action.as_deref() {
        None => {
            let forced = match change.force.as_deref() {
                None | Some("") => None,
                Some(name) => Some(Forced::parse(name).ok_or_else(|| bad(format!("{name:?} is not a forced answer")))?),
            };
            let said = match &forced {
                Some(f) => format!("{id} now gets {}", f.name()),
                None => format!("{id} now gets the normal answer"),
            };
            sandbox.force(id, forced);
            tracing::info!(client_id = %id, "sandbox answer changed");
            Ok(said)
        }
        Some("rotate-keys") => {
            // Signing at once, unannounced: a service with a cached JWKS meets a kid it has not seen.
            let now = state.now();
            let mut kids = Vec::new();
            for ring in ["hub-signing", "hub-identity"] {
                let kid = state
                    .keys
                    .rotate(ring, now)
                    .or_else(|_| state.keys.rotate(ring, now + 1))
                    .map_err(|e| bad(format!("could not rotate {ring}: {e}")))?;
                kids.push(kid);
            }
            Ok(format!("new signing keys {} sign from now", kids.join(" and ")))
        }
        Some("backchannel-logout") => {
            let (sub, sid) = sandbox
                .last_assertion(id)
                .ok_or_else(|| bad(format!("nobody has signed in to {id} yet")))?;
            if client.backchannel_logout_uri.is_none() {
                return Err(bad(format!("{id} has no backchannel_logout_uri")));
            }
            crate::provider::backchannel::deliver(state, client, sub, sid);
            Ok(format!("a logout token is on its way to {id}"))
        }
        Some(other) => Err(bad(format!("{other:?} is not an action"))),
    }
}

/// `POST /sandbox/config`.
pub async fn post(State(state): State<AppState>, Json(change): Json<Change>) -> ApiResult {
    let done = apply(&state, &change).await?;
    Ok(no_store(Json(json!({ "client_id": change.client_id, "done": done }))))
}
