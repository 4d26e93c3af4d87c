//! The hub instances under load, as one service sees them: the discovery document, JWKS and DID document
//! fetched once at start and cached, and every request spread round-robin over the instances, so one
//! journey crosses them as it would behind a load balancer.

use crate::verify::DidKeys;
use anyhow::{bail, Context as _};
use serde::Deserialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use url::Url;

/// The instances and a round-robin counter.
#[derive(Debug)]
pub struct Hubs {
    bases: Vec<Url>,
    next: AtomicUsize,
    /// The issuer, where hub URLs in redirects and forms point (the first instance, in a test federation).
    issuer_url: Url,
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

impl Hubs {
    /// The next instance's base URL.
    pub fn next_base(&self) -> &Url {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.bases.len();
        &self.bases[i]
    }

    /// Whether a URL is the hub's (any instance, or the issuer).
    pub fn is_hub(&self, url: &Url) -> bool {
        same_origin(url, &self.issuer_url) || self.bases.iter().any(|b| same_origin(url, b))
    }

    /// A hub URL moved to the next instance (same path and query); any other URL as it is.
    pub fn route(&self, url: Url) -> Url {
        if !self.is_hub(&url) {
            return url;
        }
        let mut moved = self.next_base().clone();
        moved.set_path(url.path());
        moved.set_query(url.query());
        moved
    }
}

#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: Url,
    token_endpoint: Url,
    userinfo_endpoint: Url,
    jwks_uri: Url,
}

/// What a client learns about the hub once and keeps.
#[derive(Debug)]
pub struct Hub {
    pub instances: Hubs,
    pub issuer: String,
    /// The authorization endpoint's path (`/authorize` at the hub), asked of whichever instance is next.
    pub authorization_path: String,
    /// The token endpoint as discovery names it: the `aud` of client assertions.
    pub token_endpoint: Url,
    pub userinfo_endpoint: Url,
    pub jwks: keys::VerifyingKeys,
    /// The identity issuer's keys, when the journeys ask for identity.
    pub did: Option<DidKeys>,
}

async fn json<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: &Url) -> anyhow::Result<T> {
    let response = http
        .get(url.clone())
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    if !response.status().is_success() {
        bail!("GET {url}: {}", response.status());
    }
    response
        .json()
        .await
        .with_context(|| format!("GET {url}: not the JSON expected"))
}

impl Hub {
    /// Fetches every instance's discovery document (they must agree on the issuer), the JWKS and, with
    /// `identity`, the DID document at `/.well-known/did.json`.
    pub async fn discover(http: &reqwest::Client, bases: &[Url], identity: bool) -> anyhow::Result<Hub> {
        let Some(first) = bases.first() else {
            bail!("at least one --hub is needed");
        };
        let mut discovery: Option<Discovery> = None;
        for base in bases {
            let d: Discovery = json(http, &base.join("/.well-known/openid-configuration")?).await?;
            match &discovery {
                Some(seen) if seen.issuer != d.issuer => {
                    bail!(
                        "{base} says its issuer is {} but {first} says {}",
                        d.issuer,
                        seen.issuer
                    )
                }
                Some(_) => {}
                None => discovery = Some(d),
            }
        }
        let Some(d) = discovery else {
            bail!("no discovery document")
        };
        let instances = Hubs {
            bases: bases.to_vec(),
            next: AtomicUsize::new(0),
            issuer_url: Url::parse(&d.issuer).context("the discovery issuer is not a URL")?,
        };
        let jwks = keys::VerifyingKeys::from_jwks(&json(http, &instances.route(d.jwks_uri.clone())).await?)?;
        if jwks.is_empty() {
            bail!("the hub's JWKS has no usable key");
        }
        let did = if identity {
            let doc = json(http, &first.join("/.well-known/did.json")?).await?;
            Some(DidKeys::from_document(&doc).context("the hub's DID document")?)
        } else {
            None
        };
        Ok(Hub {
            instances,
            issuer: d.issuer,
            authorization_path: d.authorization_endpoint.path().to_string(),
            token_endpoint: d.token_endpoint,
            userinfo_endpoint: d.userinfo_endpoint,
            jwks,
            did,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn hub_urls_go_round_robin_and_others_stay() {
        let hubs = Hubs {
            bases: vec![
                Url::parse("http://127.0.0.1:8080").unwrap(),
                Url::parse("http://127.0.0.1:8081").unwrap(),
            ],
            next: AtomicUsize::new(0),
            issuer_url: Url::parse("http://127.0.0.1:8080").unwrap(),
        };
        let callback = Url::parse("http://127.0.0.1:8080/upstream/callback?code=c&state=s").unwrap();
        let seen: Vec<String> = (0..3).map(|_| hubs.route(callback.clone()).to_string()).collect();
        assert_eq!(
            seen,
            [
                "http://127.0.0.1:8080/upstream/callback?code=c&state=s",
                "http://127.0.0.1:8081/upstream/callback?code=c&state=s",
                "http://127.0.0.1:8080/upstream/callback?code=c&state=s",
            ]
        );
        let stub = Url::parse("http://127.0.0.1:8090/stub-a/authorize?x=1").unwrap();
        assert_eq!(hubs.route(stub.clone()), stub);
        assert!(!hubs.is_hub(&stub));
    }
}
