//! The Config OP plan (`oidcc-config-certification-test-plan`): its one module.

use super::{shared, Plan};
use crate::harness::Agent;
use anyhow::{anyhow, ensure, Result};
use serde_json::Value;

/// Whether `doc[field]` is an array holding `value`.
pub fn lists(doc: &Value, field: &str, value: &str) -> bool {
    doc[field]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(value)))
}

/// Fetches discovery as the suite does: 200 and `Content-Type: application/json`.
pub async fn fetch_discovery(hub: &str) -> Result<Value> {
    let answer =
        super::client::Http::from(reqwest::get(format!("{hub}/.well-known/openid-configuration")).await?).await?;
    ensure!(answer.status == 200, "discovery answered {}", answer.status);
    answer.ensure_json()?;
    Ok(answer.json())
}

/// The checks every discovery module shares: `issuer` is the discovery URL without
/// `/.well-known/openid-configuration`, a URL; every `*_endpoint` is a URL under the issuer. (The suite
/// also asks for https: the hub refuses an `http` issuer except on loopback, where these tests run, see
/// `Config::validate`.)
pub fn issuer_and_endpoints(doc: &Value, hub: &str) -> Result<()> {
    ensure!(doc["issuer"] == hub, "issuer {} for discovery at {hub}", doc["issuer"]);
    url::Url::parse(hub)?;
    let endpoints = doc
        .as_object()
        .ok_or_else(|| anyhow!("discovery is not an object"))?
        .iter()
        .filter(|(k, _)| k.ends_with("_endpoint"));
    for (name, value) in endpoints {
        let url = value.as_str().ok_or_else(|| anyhow!("{name} is not a string"))?;
        ensure!(url.starts_with(hub) && url::Url::parse(url).is_ok(), "{name} = {url}");
    }
    Ok(())
}

/// `oidcc-discovery-endpoint-verification`: discovery answers 200 in JSON; the issuer matches; `code`
/// among the response types; `pairwise` among the subject types; RS256 among the ID token algorithms;
/// authorization, token, userinfo endpoints and `jwks_uri` present; the JWKS valid, every key with a
/// distinct `kid`; `scopes_supported` with `openid`; `claims_supported` an array; `grant_types_supported`
/// non-empty; locales and `code_challenge_methods_supported` well formed; RS256 among the request object
/// algorithms (a WARNING in the suite).
#[tokio::test]
async fn oidcc_discovery_endpoint_verification() -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let doc = fetch_discovery(s.hub()).await?;
    issuer_and_endpoints(&doc, s.hub())?;
    ensure!(lists(&doc, "response_types_supported", "code"));
    ensure!(lists(&doc, "subject_types_supported", "pairwise") || lists(&doc, "subject_types_supported", "public"));
    ensure!(lists(&doc, "id_token_signing_alg_values_supported", "RS256"));
    for field in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
    ] {
        ensure!(doc[field].is_string(), "no {field}");
    }
    ensure!(lists(&doc, "scopes_supported", "openid"));
    ensure!(doc["claims_supported"].is_array());
    ensure!(doc["grant_types_supported"].as_array().is_some_and(|a| !a.is_empty()));
    ensure!(doc["code_challenge_methods_supported"].is_array());
    ensure!(lists(&doc, "request_object_signing_alg_values_supported", "RS256"));
    for field in ["ui_locales_supported", "claims_locales_supported"] {
        if let Some(list) = doc.get(field) {
            let list = list.as_array().ok_or_else(|| anyhow!("{field} is not an array"))?;
            for tag in list {
                let tag = tag.as_str().unwrap_or_default();
                ensure!(
                    !tag.is_empty()
                        && tag
                            .split('-')
                            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric())),
                    "{field} has {tag:?}, not a BCP 47 tag"
                );
            }
        }
    }
    let jwks_uri = doc["jwks_uri"].as_str().unwrap_or_default();
    let jwks: Value = Agent::new()?
        .get(jwks_uri)
        .await
        .and_then(|seen| Ok(serde_json::from_str(&seen.body)?))?;
    keys::VerifyingKeys::from_jwks(&jwks)?;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .ok_or_else(|| anyhow!("no keys"))?
        .iter()
        .map(|k| k["kid"].as_str().unwrap_or_default())
        .collect();
    ensure!(kids.iter().all(|k| !k.is_empty()), "a key without kid: {jwks}");
    let mut distinct = kids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    ensure!(distinct.len() == kids.len(), "kids repeat: {kids:?}");
    Ok(())
}
