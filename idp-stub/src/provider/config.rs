//! `GET|POST /{p}/config`: a forced outcome and/or persona that overrides the person's choice on the
//! provider page until set back to `null`. For tests and manual trials.

use crate::{
    outcome::Outcome,
    personas,
    state::{lock, Forced},
    AppState, Error,
};
use axum::{
    extract::{rejection::JsonRejection, Path, State},
    Json,
};
use serde::Deserialize;

/// The body of `POST /{p}/config`; a missing field is the same as `null`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForcedRequest {
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub persona: Option<String>,
}

/// Shows the current forced outcome and persona.
pub async fn get(State(state): State<AppState>, Path(provider_id): Path<String>) -> Result<Json<Forced>, Error> {
    state.provider(&provider_id)?;
    Ok(Json(state.forced(&provider_id)))
}

/// Sets (or with `null`, clears) the forced outcome and persona.
pub async fn post(
    State(state): State<AppState>,
    Path(provider_id): Path<String>,
    body: Result<Json<ForcedRequest>, JsonRejection>,
) -> Result<Json<Forced>, Error> {
    state.provider(&provider_id)?;
    let Json(body) = body.map_err(|e| Error::InvalidRequest(e.body_text()))?;
    let outcome = match body.outcome.as_deref() {
        None => None,
        Some(id) => Some(Outcome::parse(id).ok_or_else(|| Error::InvalidRequest(format!("unknown outcome {id:?}")))?),
    };
    let persona = match body.persona.as_deref() {
        None => None,
        Some(id) => Some(
            personas::find(id)
                .ok_or_else(|| Error::InvalidRequest(format!("unknown persona {id:?}")))?
                .id,
        ),
    };
    let forced = Forced { outcome, persona };
    tracing::info!(provider = provider_id, ?forced, "forced outcome set");
    lock(&state.inner.forced).insert(provider_id, forced.clone());
    Ok(Json(forced))
}
