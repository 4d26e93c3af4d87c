//! The FAPI 2.0 Security Profile Final plan (`fapi2-security-profile-final-test-plan`) with
//! `plain_fapi`, `private_key_jwt`, DPoP, `openid_connect`, unsigned (plain) PAR: two `fapi2` clients with
//! different keys, the second's redirect URI carrying `?dummy1=lorem&dummy2=ipsum`.
//!
//! The suite's common flow ([`Fapi::flow`]): PAR with a client assertion whose `aud` is the issuer
//! (201, JSON, `request_uri` random enough, `expires_in` 5 s to a year); the browser to `/authorize` with
//! `client_id`, `request_uri` and the permitted duplicates; the callback's `state` and (required) `iss`;
//! the code random enough; `/token` with a fresh assertion and a DPoP proof, answering the server's
//! `use_dpop_nonce` once (its `DPoP-Nonce` header present, once, of NQCHARs); the access token random
//! enough, `expires_in`, an ID token (with `kid`, ES256) passing the standard checks; userinfo as the
//! resource with `Authorization: DPoP` and a proof with `ath`: 200, a `Date` within five minutes, the
//! `x-fapi-interaction-id` echoed.

use super::{
    client::{
        authorize, check_id_token, ensure_endpoint_error, ensure_error_page, ensure_error_response,
        ensure_random_enough, ensure_state_and_iss, http, new_key, pkce, random, random_of, response, sign_raw,
        AuthResponse, Http, Tokens,
    },
    config::{fetch_discovery, lists},
    shared, Mode, Plan, Shared, FAPI_1, FAPI_2, SHORT_CODE_TTL, SHORT_REQUEST_URI_TTL,
};
use crate::harness::{now, Agent};
use anyhow::{anyhow, ensure, Result};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde_json::{json, Map, Value};
use std::{sync::Mutex, time::Duration};

/// A DPoP key and the server nonce last received for it.
pub struct Dpop {
    pub key: keys::SigningKey,
    nonce: Mutex<Option<String>>,
    /// Seconds added to `iat` (the modules that send proofs made 10 s early or 8 s late).
    pub iat_offset: i64,
    /// Claims added to every proof (`nbf`, `exp` in `check-dpop-proof-nbf-exp`).
    pub extra: Map<String, Value>,
}

/// `DPoP-Nonce` as the suite checks it: at most once, non-empty, NQCHARs only.
fn dpop_nonce(answer: &Http) -> Result<Option<String>> {
    let values: Vec<_> = answer.headers.get_all("dpop-nonce").iter().collect();
    ensure!(values.len() <= 1, "DPoP-Nonce {} times", values.len());
    let Some(value) = values.first() else {
        return Ok(None);
    };
    let value = value.to_str()?.to_string();
    ensure!(
        !value.is_empty() && value.bytes().all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
        "DPoP-Nonce {value:?} is not NQCHARs"
    );
    Ok(Some(value))
}

impl Dpop {
    pub fn new() -> Result<Self> {
        Ok(Self {
            key: new_key()?,
            nonce: Mutex::new(None),
            iat_offset: 0,
            extra: Map::new(),
        })
    }

    pub fn jkt(&self) -> Result<String> {
        Ok(self.key.thumbprint()?)
    }

    pub fn nonce(&self) -> Option<String> {
        self.nonce.lock().ok().and_then(|n| n.clone())
    }

    /// Keeps the nonce an answer carries (the suite replaces its nonce on any 2xx that has one).
    pub fn remember(&self, answer: &Http) -> Result<()> {
        if let Some(n) = dpop_nonce(answer)? {
            if let Ok(mut slot) = self.nonce.lock() {
                *slot = Some(n);
            }
        }
        Ok(())
    }

    /// A proof for `htm` at `htu` (with `ath` for `access_token`).
    pub fn proof(&self, htm: &str, htu: &str, access_token: Option<&str>) -> Result<String> {
        let mut claims = json!({
            "jti": random(), "htm": htm, "htu": htu, "iat": now() + self.iat_offset,
        });
        if let Some(n) = self.nonce() {
            claims["nonce"] = json!(n);
        }
        if let Some(t) = access_token {
            claims["ath"] = json!(keys::dpop::ath(t));
        }
        for (k, v) in &self.extra {
            claims[k] = v.clone();
        }
        let mut jwk = self.key.public_jwk();
        if let Some(j) = jwk.as_object_mut() {
            for m in ["kid", "alg", "use"] {
                j.remove(m);
            }
        }
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        sign_raw(&self.key, header.as_object().ok_or_else(|| anyhow!("header"))?, &claims)
    }

    /// Sends a request with a fresh proof, and once more with the server's nonce if it asks for one
    /// (`use_dpop_nonce` in JSON at the authorization server, or in `WWW-Authenticate: DPoP` at a
    /// resource, with `DPoP-Nonce` then mandatory).
    pub async fn send(
        &self,
        htm: &str,
        htu: &str,
        access_token: Option<&str>,
        build: &(dyn Fn(String) -> Result<reqwest::RequestBuilder> + Sync),
    ) -> Result<Http> {
        let mut answer = Http::from(build(self.proof(htm, htu, access_token)?)?.send().await?).await?;
        let wants_nonce = |a: &Http| {
            a.json()["error"] == "use_dpop_nonce"
                || (a.status == 401
                    && a.header("www-authenticate").is_some_and(|w| {
                        w.to_ascii_lowercase().starts_with("dpop ") && w.contains("error=\"use_dpop_nonce\"")
                    }))
        };
        if wants_nonce(&answer) {
            let nonce = dpop_nonce(&answer)?;
            ensure!(nonce.is_some(), "use_dpop_nonce without a DPoP-Nonce header");
            self.remember(&answer)?;
            answer = Http::from(build(self.proof(htm, htu, access_token)?)?.send().await?).await?;
        }
        self.remember(&answer)?;
        Ok(answer)
    }
}

/// One of the suite's two FAPI clients.
#[derive(Clone, Copy)]
pub struct Fapi {
    pub id: &'static str,
    pub key: &'static keys::SigningKey,
    s: &'static Shared,
}

/// A pushed request and what the client must see again.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub request_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub verifier: String,
    pub scope: String,
}

/// What a module changes in the common flow.
#[derive(Default)]
pub struct Options<'a> {
    /// PAR parameters to set (`None` removes).
    pub par: Vec<(&'a str, Option<String>)>,
    /// A DPoP proof at PAR with this key.
    pub dpop_at_par: Option<&'a Dpop>,
    /// Parameters added to the authorization URL.
    pub authorize_extra: Vec<(&'a str, String)>,
    /// Send only `client_id` and `request_uri` to `/authorize` (no permitted duplicates).
    pub bare: bool,
    /// The authorization URL's parameters in reverse order.
    pub reversed: bool,
}

impl Fapi {
    pub fn one(s: &'static Shared) -> Self {
        Self {
            id: FAPI_1,
            key: &s.fapi_keys[0],
            s,
        }
    }

    pub fn two(s: &'static Shared) -> Self {
        Self {
            id: FAPI_2,
            key: &s.fapi_keys[1],
            s,
        }
    }

    /// The client registered for signed requests only, with client 1's key.
    pub fn signed_only(s: &'static Shared) -> Self {
        Self {
            id: super::FAPI_JAR,
            key: &s.fapi_keys[0],
            s,
        }
    }

    pub fn redirect_uri(&self) -> String {
        self.s.redirect_uri(self.id)
    }

    /// The suite's assertion: `iss` = `sub` = client, `aud` the issuer as a string, `iat` = `nbf` = now,
    /// `exp` now + 60, a random `jti`; `edit` changes it.
    pub fn assertion(&self, edit: &dyn Fn(&mut Map<String, Value>)) -> Result<String> {
        let t = now();
        let mut claims = json!({
            "iss": self.id, "sub": self.id, "aud": self.s.hub(), "jti": random(),
            "iat": t, "nbf": t, "exp": t + 60,
        })
        .as_object()
        .cloned()
        .ok_or_else(|| anyhow!("claims"))?;
        edit(&mut claims);
        Ok(self.key.sign_jwt("JWT", &claims)?)
    }

    /// The suite's PAR parameters, changed as asked.
    pub fn par_params(&self, set: &[(&str, Option<String>)]) -> (Vec<(String, String)>, Pushed) {
        let (verifier, challenge) = pkce();
        let mut params: Vec<(String, String)> = [
            ("client_id", self.id.to_string()),
            ("redirect_uri", self.redirect_uri()),
            ("scope", "openid email".to_string()),
            ("state", random()),
            ("nonce", random()),
            ("response_type", "code".to_string()),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in set {
            params.retain(|(name, _)| name != k);
            if let Some(v) = v {
                params.push((k.to_string(), v.clone()));
            }
        }
        let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let pushed = Pushed {
            request_uri: String::new(),
            state: get("state"),
            nonce: get("nonce"),
            verifier,
            scope: get("scope").unwrap_or_default(),
        };
        (params, pushed)
    }

    /// `POST /par` with these parameters and an assertion changed by `edit`, a DPoP proof by `dpop`.
    pub async fn par_raw(
        &self,
        params: &[(String, String)],
        dpop: Option<&Dpop>,
        edit: &(dyn Fn(&mut Map<String, Value>) + Sync),
    ) -> Result<Http> {
        let url = format!("{}/par", self.s.hub());
        let build = |proof: Option<String>| -> Result<reqwest::RequestBuilder> {
            let mut form = params.to_vec();
            form.push((
                "client_assertion_type".into(),
                keys::client_assertion::JWT_BEARER.into(),
            ));
            form.push(("client_assertion".into(), self.assertion(edit)?));
            let mut request = http()?.post(&url).form(&form);
            if let Some(p) = proof {
                request = request.header("DPoP", p);
            }
            Ok(request)
        };
        match dpop {
            Some(d) => d.send("POST", &url, None, &|p| build(Some(p))).await,
            None => Http::from(build(None)?.send().await?).await,
        }
    }

    /// PAR as the suite does it, checked: 201, JSON, `request_uri` and `expires_in`.
    pub async fn push(&self, options: &Options<'_>) -> Result<Pushed> {
        let (params, mut pushed) = self.par_params(&options.par);
        let answer = self.par_raw(&params, options.dpop_at_par, &|_| {}).await?;
        ensure!(answer.status == 201, "PAR answered {}: {}", answer.status, answer.body);
        answer.ensure_json()?;
        let body = answer.json();
        pushed.request_uri = body["request_uri"]
            .as_str()
            .ok_or_else(|| anyhow!("no request_uri: {body}"))?
            .to_string();
        let expires_in = body["expires_in"].as_i64().ok_or_else(|| anyhow!("no expires_in"))?;
        ensure!((5..365 * 86_400).contains(&expires_in), "expires_in {expires_in}");
        let random_part = pushed.request_uri.rsplit(':').next().unwrap_or_default();
        ensure_random_enough("request_uri", random_part)?;
        Ok(pushed)
    }

    /// The authorization URL for a pushed request.
    pub fn authorize_url(&self, pushed: &Pushed, options: &Options<'_>) -> String {
        let mut params: Vec<(String, String)> = vec![
            ("client_id".into(), self.id.into()),
            ("request_uri".into(), pushed.request_uri.clone()),
        ];
        if !options.bare {
            params.push(("response_type".into(), "code".into()));
            params.push(("scope".into(), pushed.scope.clone()));
            params.push(("redirect_uri".into(), self.redirect_uri()));
        }
        for (k, v) in &options.authorize_extra {
            params.push((k.to_string(), v.clone()));
        }
        if options.reversed {
            params.reverse();
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        format!("{}/authorize?{query}", self.s.hub())
    }

    /// The browser from the authorization URL to the callback; the person answers `outcome`.
    pub async fn callback(&self, agent: &mut Agent, url: &str, outcome: &str) -> Result<AuthResponse> {
        let ended = authorize(self.s, agent, url, outcome).await?;
        let seen = if outcome == "success" {
            ended.seen
        } else {
            // The hub's page after a provider said no: its link returns to the service.
            let link = ended.seen.href("return-to-service")?;
            agent.get(&link).await?
        };
        response(agent, &seen, &self.redirect_uri(), Mode::Query).await
    }

    /// PAR and the browser, to a checked code.
    pub async fn code(&self, agent: &mut Agent, options: &Options<'_>) -> Result<(Pushed, String)> {
        let pushed = self.push(options).await?;
        let response = self
            .callback(agent, &self.authorize_url(&pushed, options), "success")
            .await?;
        ensure_state_and_iss(self.s, &response, pushed.state.as_deref())?;
        for (k, _) in &response.pairs {
            ensure!(
                matches!(
                    k.as_str(),
                    "code" | "state" | "iss" | "dummy1" | "dummy2" | "session_state"
                ),
                "unexpected {k} in the authorization response"
            );
        }
        let code = response.code()?;
        ensure_random_enough("the code", &code)?;
        Ok((pushed, code))
    }

    /// `POST /token` for `code` as `self` (with `client_id`/assertion of `auth`, `self` by default).
    pub async fn token(
        &self,
        code: &str,
        verifier: Option<&str>,
        dpop: Option<&Dpop>,
        edit: &(dyn Fn(&mut Map<String, Value>) + Sync),
    ) -> Result<Http> {
        let url = format!("{}/token", self.s.hub());
        let redirect_uri = self.redirect_uri();
        let build = |proof: Option<String>| -> Result<reqwest::RequestBuilder> {
            let mut form: Vec<(String, String)> = vec![
                ("grant_type".into(), "authorization_code".into()),
                ("code".into(), code.into()),
                ("redirect_uri".into(), redirect_uri.clone()),
                (
                    "client_assertion_type".into(),
                    keys::client_assertion::JWT_BEARER.into(),
                ),
                ("client_assertion".into(), self.assertion(edit)?),
            ];
            if let Some(v) = verifier {
                form.push(("code_verifier".into(), v.into()));
            }
            let mut request = http()?.post(&url).form(&form);
            if let Some(p) = proof {
                request = request.header("DPoP", p);
            }
            Ok(request)
        };
        match dpop {
            Some(d) => d.send("POST", &url, None, &|p| build(Some(p))).await,
            None => Http::from(build(None)?.send().await?).await,
        }
    }

    /// The token response, checked as the suite checks it.
    pub async fn redeem(&self, code: &str, pushed: &Pushed, dpop: &Dpop) -> Result<Tokens> {
        let answer = self.token(code, Some(&pushed.verifier), Some(dpop), &|_| {}).await?;
        ensure!(
            answer.status == 200,
            "token endpoint: {} {}",
            answer.status,
            answer.body
        );
        let body = answer.json();
        ensure!(body.get("error").is_none());
        let access_token = body["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("no access_token: {body}"))?
            .to_string();
        ensure_random_enough("the access token", &access_token)?;
        let expires_in = body["expires_in"].as_i64().ok_or_else(|| anyhow!("no expires_in"))?;
        ensure!(expires_in > 0 && expires_in <= 365 * 86_400);
        ensure!(
            body["token_type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("dpop")),
            "token_type {}",
            body["token_type"]
        );
        let id_token = body["id_token"]
            .as_str()
            .ok_or_else(|| anyhow!("no id_token"))?
            .to_string();
        let header = keys::decode_header(&id_token)?;
        ensure!(
            matches!(header.alg.as_str(), "PS256" | "ES256" | "EdDSA" | "Ed25519"),
            "ID token alg {}",
            header.alg
        );
        let claims = check_id_token(self.s, &id_token, self.id, pushed.nonce.as_deref(), Some(&access_token)).await?;
        Ok(Tokens {
            access_token,
            id_token,
            claims,
        })
    }

    /// The resource (userinfo) with `Authorization: <scheme> <token>` and a proof by `dpop`.
    pub async fn resource(&self, tokens: &Tokens, dpop: &Dpop, scheme: &str, headers: &[(&str, &str)]) -> Result<Http> {
        let url = format!("{}/userinfo", self.s.hub());
        let at = tokens.access_token.clone();
        dpop.send("GET", &url, Some(&at), &|proof| {
            let mut request = http()?
                .get(&url)
                .header("Authorization", format!("{scheme} {at}"))
                .header("DPoP", proof);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            Ok(request)
        })
        .await
    }

    /// The suite's resource call, checked: 200/201, `Date` within five minutes, the interaction id echoed
    /// (client 1 sends the `x-fapi-*` headers), a JSON body whose `sub` is the ID token's.
    pub async fn ensure_resource(&self, tokens: &Tokens, dpop: &Dpop) -> Result<()> {
        let interaction = "c770aef3-6784-41f7-8e0e-ff5f97bddb3a";
        let headers: Vec<(&str, &str)> = if self.id == FAPI_1 {
            vec![
                ("x-fapi-auth-date", "Tue, 11 Sep 2012 19:43:31 GMT"),
                ("x-fapi-customer-ip-address", "198.51.100.119"),
                ("x-fapi-interaction-id", interaction),
            ]
        } else {
            Vec::new()
        };
        let answer = self.resource(tokens, dpop, "DPoP", &headers).await?;
        ensure!(
            matches!(answer.status, 200 | 201),
            "resource: {} {}",
            answer.status,
            answer.body
        );
        let date = answer.header("date").ok_or_else(|| anyhow!("no Date header"))?;
        let date = httpdate::parse_http_date(&date)?;
        let secs = date.duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
        ensure!(
            (secs - now()).abs() <= 300,
            "Date {secs} is not within five minutes of now"
        );
        if self.id == FAPI_1 {
            if let Some(echo) = answer.header("x-fapi-interaction-id") {
                ensure!(echo.eq_ignore_ascii_case(interaction), "x-fapi-interaction-id {echo}");
            }
        }
        answer.ensure_json()?;
        ensure!(answer.json()["sub"].as_str() == Some(tokens.sub().as_str()));
        Ok(())
    }

    /// The whole common flow with a fresh DPoP key: tokens and the key.
    pub async fn flow(&self, options: &Options<'_>) -> Result<(Pushed, Tokens, Dpop)> {
        let mut agent = Agent::new()?;
        let (pushed, code) = self.code(&mut agent, options).await?;
        let dpop = Dpop::new()?;
        let tokens = self.redeem(&code, &pushed, &dpop).await?;
        self.ensure_resource(&tokens, &dpop).await?;
        Ok((pushed, tokens, dpop))
    }
}

async fn plan() -> Result<&'static Shared> {
    shared(Plan::Fapi).await
}

/// `fapi2-security-profile-final-discovery-end-point-verification`.
#[tokio::test]
async fn fapi2_security_profile_final_discovery_end_point_verification() -> Result<()> {
    let s = plan().await?;
    let doc = fetch_discovery(s.hub()).await?;
    super::config::issuer_and_endpoints(&doc, s.hub())?;
    ensure!(lists(&doc, "response_types_supported", "code"));
    ensure!(doc["authorization_response_iss_parameter_supported"] == true);
    ensure!(doc["pushed_authorization_request_endpoint"] == format!("{}/par", s.hub()));
    ensure!(doc
        .get("require_pushed_authorization_requests")
        .is_none_or(Value::is_boolean));
    let fapi_alg = |field: &str| {
        ["PS256", "ES256", "EdDSA", "Ed25519"]
            .iter()
            .any(|a| lists(&doc, field, a))
    };
    ensure!(fapi_alg("dpop_signing_alg_values_supported"));
    ensure!(fapi_alg("id_token_signing_alg_values_supported"));
    ensure!(lists(&doc, "token_endpoint_auth_methods_supported", "private_key_jwt"));
    ensure!(fapi_alg("token_endpoint_auth_signing_alg_values_supported"));
    ensure!(lists(&doc, "code_challenge_methods_supported", "S256"));
    ensure!(doc.get("grant_types_supported").is_none_or(|_| lists(
        &doc,
        "grant_types_supported",
        "authorization_code"
    )));
    ensure!(doc["jwks_uri"].is_string());
    ensure!(lists(&doc, "scopes_supported", "openid"));
    ensure!(doc["subject_types_supported"].is_array());
    Ok(())
}

/// `fapi2-security-profile-final-happy-flow`: the common flow for client 1, with its extra resource
/// calls (the access token in the query refused; `Accept` variants served); then client 2 through its
/// redirect URI with a query, a 43-character nonce and a 128-character state, PAR carrying only
/// `dpop_jkt`, the authorization URL's parameters reversed; finally client 2's token with client 1's
/// DPoP key refused.
#[tokio::test]
async fn fapi2_security_profile_final_happy_flow() -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let (_, tokens1, dpop1) = one.flow(&Options::default()).await?;
    let in_query = http()?
        .get(format!("{}/userinfo?access_token={}", s.hub(), tokens1.access_token))
        .send()
        .await?
        .status()
        .as_u16();
    ensure!(matches!(in_query, 400 | 401 | 414), "a token in the query: {in_query}");
    for accept in [
        vec![
            ("Accept", "application/json; charset=utf-8"),
            ("Accept-Charset", "utf-8"),
        ],
        vec![("Accept", "application/json, application/*+json, */*")],
    ] {
        let answer = one.resource(&tokens1, &dpop1, "DPoP", &accept).await?;
        ensure!(matches!(answer.status, 200 | 201), "{accept:?}: {}", answer.status);
    }
    ensure_only_requested(&tokens1)?;

    let two = Fapi::two(s);
    let dpop2 = Dpop::new()?;
    let options = Options {
        par: vec![
            ("nonce", Some(random_of(43))),
            ("state", Some(random_of(128))),
            ("dpop_jkt", Some(dpop2.jkt()?)),
        ],
        reversed: true,
        ..Options::default()
    };
    let mut agent = Agent::new()?;
    let (pushed, code) = two.code(&mut agent, &options).await?;
    let tokens2 = two.redeem(&code, &pushed, &dpop2).await?;
    two.ensure_resource(&tokens2, &dpop2).await?;
    let crossed = two.resource(&tokens2, &dpop1, "DPoP", &[]).await?;
    ensure!(
        (400..500).contains(&crossed.status),
        "client 2's token with client 1's key: {}",
        crossed.status
    );
    Ok(())
}

fn ensure_only_requested(tokens: &Tokens) -> Result<()> {
    super::client::ensure_only_requested_claims(&tokens.claims)
}

/// `fapi2-security-profile-final-user-rejects-authentication`: the person cancels at the provider, for
/// both clients (state 128 characters): `error=access_denied` with the state; client 2's `dummy1` and
/// `dummy2` come back.
#[tokio::test]
async fn fapi2_security_profile_final_user_rejects_authentication() -> Result<()> {
    let s = plan().await?;
    for client in [Fapi::one(s), Fapi::two(s)] {
        let options = Options {
            par: vec![("state", Some(random_of(128)))],
            ..Options::default()
        };
        let pushed = client.push(&options).await?;
        let mut agent = Agent::new()?;
        let response = client
            .callback(&mut agent, &client.authorize_url(&pushed, &options), "cancel")
            .await?;
        ensure_error_response(s, &response, pushed.state.as_deref(), &["access_denied"])?;
    }
    Ok(())
}

/// `fapi2-security-profile-final-ensure-authorization-request-without-state-success`: no `state`: success,
/// and no `state` comes back.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_authorization_request_without_state_success() -> Result<()> {
    let s = plan().await?;
    let (pushed, _, _) = Fapi::one(s)
        .flow(&Options {
            par: vec![("state", None)],
            ..Options::default()
        })
        .await?;
    ensure!(pushed.state.is_none());
    Ok(())
}

/// `fapi2-security-profile-final-ensure-authorization-request-without-nonce-success`: no `nonce`: success,
/// and the ID token carries none.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_authorization_request_without_nonce_success() -> Result<()> {
    let s = plan().await?;
    let (_, tokens, _) = Fapi::one(s)
        .flow(&Options {
            par: vec![("nonce", None)],
            ..Options::default()
        })
        .await?;
    ensure!(!tokens.claims.contains_key("nonce"));
    Ok(())
}

/// `fapi2-security-profile-final-ensure-authorization-request-with-64-char-nonce-success`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_authorization_request_with_64_char_nonce_success() -> Result<()> {
    let s = plan().await?;
    let nonce = random_of(64);
    let (_, tokens, _) = Fapi::one(s)
        .flow(&Options {
            par: vec![("nonce", Some(nonce.clone()))],
            ..Options::default()
        })
        .await?;
    ensure!(tokens.claims.get("nonce") == Some(&json!(nonce)));
    Ok(())
}

/// `fapi2-security-profile-final-ensure-other-scope-order-succeeds`: `scope=email openid`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_other_scope_order_succeeds() -> Result<()> {
    let s = plan().await?;
    Fapi::one(s)
        .flow(&Options {
            par: vec![("scope", Some("email openid".into()))],
            ..Options::default()
        })
        .await
        .map(|_| ())
}

/// `fapi2-security-profile-final-test-claims-parameter-identity-claims`: `claims_parameter_supported` is
/// true and `claims_supported` lists standard claims, so the suite asks for each in `id_token` and
/// `userinfo` (and made-up ones) through `claims`: success; userinfo 200 in JSON with the ID token's
/// `sub` (a missing claim is only a WARNING).
#[tokio::test]
async fn fapi2_security_profile_final_test_claims_parameter_identity_claims() -> Result<()> {
    let s = plan().await?;
    let doc = fetch_discovery(s.hub()).await?;
    ensure!(doc["claims_parameter_supported"] == true);
    let standard: Vec<String> = doc["claims_supported"]
        .as_array()
        .ok_or_else(|| anyhow!("no claims_supported"))?
        .iter()
        .filter_map(Value::as_str)
        .filter(|c| !c.starts_with("https://"))
        .map(str::to_string)
        .collect();
    ensure!(standard.iter().any(|c| c == "email"));
    let mut members = Map::new();
    for c in &standard {
        members.insert(c.clone(), Value::Null);
    }
    members.insert(format!("unknown-{}", random()), Value::Null);
    let claims = json!({"id_token": members, "userinfo": members}).to_string();
    let one = Fapi::one(s);
    let (_, tokens, dpop) = one
        .flow(&Options {
            par: vec![("claims", Some(claims))],
            ..Options::default()
        })
        .await?;
    let answer = one.resource(&tokens, &dpop, "DPoP", &[]).await?;
    answer.ensure_json()?;
    ensure!(answer.json()["email"].is_string());
    Ok(())
}

/// `fapi2-security-profile-final-access-token-type-header-case-sensitivity`: `Authorization: dpOp …`
/// is accepted (RFC 9110 §11.1).
#[tokio::test]
async fn fapi2_security_profile_final_access_token_type_header_case_sensitivity() -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let (_, tokens, dpop) = one.flow(&Options::default()).await?;
    let answer = one.resource(&tokens, &dpop, "dpOp", &[]).await?;
    ensure!(matches!(answer.status, 200 | 201), "{} {}", answer.status, answer.body);
    Ok(())
}

/// A flow whose token and resource proofs are made by `dpop`, with a PAR proof too when `at_par`.
async fn flow_with(s: &'static Shared, dpop: &Dpop, at_par: bool) -> Result<()> {
    let one = Fapi::one(s);
    let options = Options {
        dpop_at_par: at_par.then_some(dpop),
        ..Options::default()
    };
    let mut agent = Agent::new()?;
    let (pushed, code) = one.code(&mut agent, &options).await?;
    let tokens = one.redeem(&code, &pushed, dpop).await?;
    one.ensure_resource(&tokens, dpop).await
}

/// `fapi2-security-profile-final-check-dpop-proof-nbf-exp`: token and resource proofs with `nbf` = now
/// and `exp` = now + 5 min are accepted.
#[tokio::test]
async fn fapi2_security_profile_final_check_dpop_proof_nbf_exp() -> Result<()> {
    let s = plan().await?;
    let mut dpop = Dpop::new()?;
    let t = now();
    dpop.extra.insert("nbf".into(), json!(t));
    dpop.extra.insert("exp".into(), json!(t + 300));
    flow_with(s, &dpop, false).await
}

/// `fapi2-security-profile-final-ensure-dpopproof-with-iat-10seconds-before-succeeds`: PAR, token and
/// resource proofs made 10 s ago are accepted.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_dpopproof_with_iat_10seconds_before_succeeds() -> Result<()> {
    let s = plan().await?;
    let mut dpop = Dpop::new()?;
    dpop.iat_offset = -10;
    flow_with(s, &dpop, true).await
}

/// `fapi2-security-profile-final-ensure-dpopproof-with-iat-10seconds-after-succeeds`: proofs dated 8 s
/// ahead (the suite's allowance for latency) are accepted.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_dpopproof_with_iat_10seconds_after_succeeds() -> Result<()> {
    let s = plan().await?;
    let mut dpop = Dpop::new()?;
    dpop.iat_offset = 8;
    flow_with(s, &dpop, true).await
}

/// A thumbprint with its first character changed.
fn corrupted(jkt: &str) -> String {
    let first = if jkt.starts_with('A') { "B" } else { "A" };
    format!("{first}{}", &jkt[1..])
}

/// `fapi2-security-profile-final-ensure-mismatched-dpop-jkt-fails`: a PAR proof by K and `dpop_jkt` a
/// corrupted thumbprint of K: PAR answers 400 `invalid_dpop_proof` (or `invalid_request`).
#[tokio::test]
async fn fapi2_security_profile_final_ensure_mismatched_dpop_jkt_fails() -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let dpop = Dpop::new()?;
    let (params, _) = one.par_params(&[("dpop_jkt", Some(corrupted(&dpop.jkt()?)))]);
    let answer = one.par_raw(&params, Some(&dpop), &|_| {}).await?;
    ensure_endpoint_error(&answer, &[400], &["invalid_request", "invalid_dpop_proof"])
}

/// `fapi2-security-profile-final-ensure-token-endpoint-fails-with-mismatched-dpop-proof-jkt`: the code
/// bound to K1 by a PAR proof; the token request proven by K2: 400 with one of the three codes.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_token_endpoint_fails_with_mismatched_dpop_proof_jkt() -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let k1 = Dpop::new()?;
    let options = Options {
        dpop_at_par: Some(&k1),
        ..Options::default()
    };
    let (pushed, code) = one.code(&mut Agent::new()?, &options).await?;
    let k2 = Dpop::new()?;
    let answer = one.token(&code, Some(&pushed.verifier), Some(&k2), &|_| {}).await?;
    ensure_endpoint_error(
        &answer,
        &[400],
        &["invalid_request", "invalid_grant", "invalid_dpop_proof"],
    )
}

/// `fapi2-security-profile-final-ensure-token-endpoint-fails-with-mismatched-dpop-jkt`: PAR with a
/// corrupted `dpop_jkt` of K and no proof succeeds; the token request proven by K: 400.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_token_endpoint_fails_with_mismatched_dpop_jkt() -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let k = Dpop::new()?;
    let options = Options {
        par: vec![("dpop_jkt", Some(corrupted(&k.jkt()?)))],
        ..Options::default()
    };
    let (pushed, code) = one.code(&mut Agent::new()?, &options).await?;
    let answer = one.token(&code, Some(&pushed.verifier), Some(&k), &|_| {}).await?;
    ensure_endpoint_error(
        &answer,
        &[400],
        &["invalid_request", "invalid_grant", "invalid_dpop_proof"],
    )
}

/// `fapi2-security-profile-final-ensure-dpopproof-at-par-endpoint-binding-success`: PAR, token and
/// resource proofs by one key: the flow succeeds.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_dpopproof_at_par_endpoint_binding_success() -> Result<()> {
    let s = plan().await?;
    flow_with(s, &Dpop::new()?, true).await
}

/// `fapi2-security-profile-final-ensure-dpop-auth-code-binding-success`: PAR with both `dpop_jkt` of K
/// and a proof by K; everything after proven by K succeeds.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_dpop_auth_code_binding_success() -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let k = Dpop::new()?;
    let options = Options {
        par: vec![("dpop_jkt", Some(k.jkt()?))],
        dpop_at_par: Some(&k),
        ..Options::default()
    };
    let (pushed, code) = one.code(&mut Agent::new()?, &options).await?;
    let tokens = one.redeem(&code, &pushed, &k).await?;
    one.ensure_resource(&tokens, &k).await
}

/// `fapi2-security-profile-final-ensure-different-nonce-inside-and-outside-request-object`: PAR with N1,
/// `nonce=N2` added to the authorization URL: the hub uses only what was pushed; success with N1 in the
/// ID token (one of the suite's passes).
#[tokio::test]
async fn fapi2_security_profile_final_ensure_different_nonce_inside_and_outside_request_object() -> Result<()> {
    let s = plan().await?;
    let (pushed, tokens, _) = Fapi::one(s)
        .flow(&Options {
            authorize_extra: vec![("nonce", random())],
            ..Options::default()
        })
        .await?;
    ensure!(tokens.claims.get("nonce").and_then(Value::as_str) == pushed.nonce.as_deref());
    Ok(())
}

/// `fapi2-security-profile-final-ensure-different-state-inside-and-outside-request-object`: PAR with S1,
/// another `state` in the URL: success with S1 (checked by the flow).
#[tokio::test]
async fn fapi2_security_profile_final_ensure_different_state_inside_and_outside_request_object() -> Result<()> {
    let s = plan().await?;
    Fapi::one(s)
        .flow(&Options {
            authorize_extra: vec![("state", random())],
            ..Options::default()
        })
        .await
        .map(|_| ())
}

/// `fapi2-security-profile-final-ensure-authorization-request-with-long-nonce`: a 384-character nonce:
/// success with it intact.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_authorization_request_with_long_nonce() -> Result<()> {
    let s = plan().await?;
    let nonce = random_of(384);
    let (_, tokens, _) = Fapi::one(s)
        .flow(&Options {
            par: vec![("nonce", Some(nonce.clone()))],
            ..Options::default()
        })
        .await?;
    ensure!(tokens.claims.get("nonce") == Some(&json!(nonce)));
    Ok(())
}

/// `fapi2-security-profile-final-ensure-authorization-request-with-long-state`: a 1000-character state:
/// success with it intact (checked by the flow).
#[tokio::test]
async fn fapi2_security_profile_final_ensure_authorization_request_with_long_state() -> Result<()> {
    let s = plan().await?;
    let (pushed, _, _) = Fapi::one(s)
        .flow(&Options {
            par: vec![("state", Some(random_of(1000)))],
            ..Options::default()
        })
        .await?;
    ensure!(pushed.state.as_deref().is_some_and(|st| st.len() == 1000));
    Ok(())
}

/// `fapi2-security-profile-final-state-only-outside-request-object-not-used`: no `state` pushed, one in
/// the URL only: success with no `state` returned.
#[tokio::test]
async fn fapi2_security_profile_final_state_only_outside_request_object_not_used() -> Result<()> {
    let s = plan().await?;
    Fapi::one(s)
        .flow(&Options {
            par: vec![("state", None)],
            authorize_extra: vec![("state", random())],
            ..Options::default()
        })
        .await
        .map(|_| ())
}

/// PAR with these changes must be refused: 400 with one of `codes`.
async fn par_refused(set: &[(&str, Option<String>)], codes: &[&str]) -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let (params, _) = one.par_params(set);
    let answer = one.par_raw(&params, None, &|_| {}).await?;
    ensure_endpoint_error(&answer, &[400], codes)
}

/// `fapi2-security-profile-final-ensure-request-object-without-redirect-uri-fails`: no `redirect_uri`
/// pushed: PAR 400 `invalid_request`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_request_object_without_redirect_uri_fails() -> Result<()> {
    par_refused(&[("redirect_uri", None)], &["invalid_request"]).await
}

/// `fapi2-security-profile-final-plain-fapi-tolerate-unregistered-redirect-uri`: an unregistered
/// `redirect_uri` pushed: PAR 400 `invalid_request` (one of the suite's passes; the hub does not take
/// PAR-time redirect URIs).
#[tokio::test]
async fn fapi2_security_profile_final_plain_fapi_tolerate_unregistered_redirect_uri() -> Result<()> {
    let s = plan().await?;
    let bad = format!("{}/callback/{}", s.cb, random());
    par_refused(&[("redirect_uri", Some(bad))], &["invalid_request"]).await
}

/// `fapi2-security-profile-final-ensure-unsigned-authorization-request-without-using-par-fails`: the
/// plain request at `/authorize`: a redirect with `invalid_request` and the state.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_unsigned_authorization_request_without_using_par_fails() -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let (params, pushed) = one.par_params(&[]);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let mut agent = Agent::new()?;
    let seen = agent.get(&format!("{}/authorize?{query}", s.hub())).await?;
    let response = response(&mut agent, &seen, &one.redirect_uri(), Mode::Query).await?;
    ensure_error_response(s, &response, pushed.state.as_deref(), &["invalid_request"])
}

/// `fapi2-security-profile-final-ensure-redirect-uri-in-authorization-request`: no `redirect_uri`
/// anywhere: PAR 400 `invalid_request`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_redirect_uri_in_authorization_request() -> Result<()> {
    par_refused(&[("redirect_uri", None)], &["invalid_request"]).await
}

/// `fapi2-security-profile-final-ensure-response-type-code-idtoken-fails`: PAR 400
/// `unsupported_response_type`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_response_type_code_idtoken_fails() -> Result<()> {
    par_refused(
        &[("response_type", Some("code id_token".into()))],
        &["unsupported_response_type"],
    )
    .await
}

/// `fapi2-security-profile-final-ensure-response-type-token-fails`: likewise for `token`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_response_type_token_fails() -> Result<()> {
    par_refused(
        &[("response_type", Some("token".into()))],
        &["unsupported_response_type"],
    )
    .await
}

/// A code of client 1 and its pushed request, not yet redeemed.
async fn code_of_one(s: &'static Shared) -> Result<(Fapi, Pushed, String)> {
    let one = Fapi::one(s);
    let (pushed, code) = one.code(&mut Agent::new()?, &Options::default()).await?;
    Ok((one, pushed, code))
}

/// `fapi2-security-profile-final-ensure-client-id-in-token-endpoint`: client 1's code with client 2's
/// `client_id` and an assertion for client 2 signed by client 1's key: 400 (401 allowed), JSON,
/// `invalid_client` or `invalid_grant`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_client_id_in_token_endpoint() -> Result<()> {
    let s = plan().await?;
    let (one, pushed, code) = code_of_one(s).await?;
    let answer = one
        .token(&code, Some(&pushed.verifier), Some(&Dpop::new()?), &|c| {
            c.insert("iss".into(), json!(FAPI_2));
            c.insert("sub".into(), json!(FAPI_2));
        })
        .await?;
    ensure_endpoint_error(&answer, &[400, 401], &["invalid_client", "invalid_grant"])
}

/// `fapi2-security-profile-final-ensure-holder-of-key-required`: the token request without a DPoP proof:
/// 400 JSON `invalid_dpop_proof` (one of the three codes). (The module's TLS checks need TLS: the test
/// federation serves plain HTTP on loopback; see the README.)
#[tokio::test]
async fn fapi2_security_profile_final_ensure_holder_of_key_required() -> Result<()> {
    let s = plan().await?;
    let (one, pushed, code) = code_of_one(s).await?;
    let answer = one.token(&code, Some(&pushed.verifier), None, &|_| {}).await?;
    ensure_endpoint_error(
        &answer,
        &[400],
        &["invalid_request", "invalid_grant", "invalid_dpop_proof"],
    )
}

/// `fapi2-security-profile-final-ensure-authorization-code-is-bound-to-client`: client 1's code with
/// client 2's credentials and DPoP key: 400, JSON, `invalid_grant`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_authorization_code_is_bound_to_client() -> Result<()> {
    let s = plan().await?;
    let (_, pushed, code) = code_of_one(s).await?;
    let two = Fapi::two(s);
    let answer = two
        .token(&code, Some(&pushed.verifier), Some(&Dpop::new()?), &|_| {})
        .await?;
    ensure_endpoint_error(&answer, &[400], &["invalid_grant"])
}

/// `fapi2-security-profile-final-attempt-reuse-authorization-code-after-one-second`: the code replayed a
/// second later with a fresh assertion and proof: 400, JSON, `invalid_grant` (a 200 fails); the first
/// access token is revoked (a 4xx at the resource).
#[tokio::test]
async fn fapi2_security_profile_final_attempt_reuse_authorization_code_after_one_second() -> Result<()> {
    let s = plan().await?;
    let (one, pushed, code) = code_of_one(s).await?;
    let dpop = Dpop::new()?;
    let tokens = one.redeem(&code, &pushed, &dpop).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let again = one.token(&code, Some(&pushed.verifier), Some(&dpop), &|_| {}).await?;
    ensure_endpoint_error(&again, &[400], &["invalid_grant"])?;
    let after = one.resource(&tokens, &dpop, "DPoP", &[]).await?;
    ensure!(
        (400..500).contains(&after.status),
        "the first access token still works: {}",
        after.status
    );
    Ok(())
}

/// `fapi2-security-profile-final-ensure-token-endpoint-fails-with-expired-auth-code`: the suite waits 62 s
/// (codes live at most 60 s). What stands in: the short-lived federation, whose codes live
/// [`SHORT_CODE_TTL`] s, and a redemption once that has passed: 400, JSON, `invalid_grant`. (The 60-second
/// rule itself, with the default five-minute codes, is `hub/tests/inprocess`
/// `fapi2_codes_live_sixty_seconds_and_bind_to_a_dpop_key_given_at_par`, on a moved clock.)
#[tokio::test]
async fn fapi2_security_profile_final_ensure_token_endpoint_fails_with_expired_auth_code() -> Result<()> {
    let s = shared(Plan::ShortLived).await?;
    let (one, pushed, code) = code_of_one(s).await?;
    tokio::time::sleep(Duration::from_secs(SHORT_CODE_TTL + 1)).await;
    let answer = one
        .token(&code, Some(&pushed.verifier), Some(&Dpop::new()?), &|_| {})
        .await?;
    ensure_endpoint_error(&answer, &[400], &["invalid_grant"])
}

/// `fapi2-security-profile-final-ensure-signed-client-assertion-with-RS256-fails`: the suite skips it
/// unless the client's key is PS256 (ours are ES256). Run anyway: an assertion signed RS256 (by an RSA
/// key, as the suite would with its PS256 key) is refused: 400, JSON, `invalid_client`.
#[allow(non_snake_case)]
#[tokio::test]
async fn fapi2_security_profile_final_ensure_signed_client_assertion_with_RS256_fails() -> Result<()> {
    let s = plan().await?;
    let (one, pushed, code) = code_of_one(s).await?;
    let rsa = keys::SigningKey::generate_rs256()?;
    let t = now();
    let claims = json!({"iss": one.id, "sub": one.id, "aud": s.hub(), "jti": random(), "iat": t, "exp": t + 60});
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": one.key.kid()});
    let assertion = sign_raw(&rsa, header.as_object().ok_or_else(|| anyhow!("h"))?, &claims)?;
    let dpop = Dpop::new()?;
    let url = format!("{}/token", s.hub());
    let redirect_uri = one.redirect_uri();
    let answer = dpop
        .send("POST", &url, None, &|proof| {
            Ok(http()?.post(&url).header("DPoP", proof).form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect_uri.as_str()),
                ("code_verifier", pushed.verifier.as_str()),
                ("client_assertion_type", keys::client_assertion::JWT_BEARER),
                ("client_assertion", assertion.as_str()),
            ]))
        })
        .await?;
    ensure_endpoint_error(&answer, &[400, 401], &["invalid_client"])
}

/// Client 1's code redeemed with a changed (or no) client assertion: 400 (401 allowed), JSON,
/// `invalid_client` or `invalid_request`.
async fn bad_assertion(edit: &(dyn Fn(&mut Map<String, Value>) + Sync), drop_assertion: bool) -> Result<()> {
    let s = plan().await?;
    let (one, pushed, code) = code_of_one(s).await?;
    let answer = if drop_assertion {
        let dpop = Dpop::new()?;
        let url = format!("{}/token", s.hub());
        let redirect_uri = one.redirect_uri();
        dpop.send("POST", &url, None, &|proof| {
            Ok(http()?.post(&url).header("DPoP", proof).form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect_uri.as_str()),
                ("code_verifier", pushed.verifier.as_str()),
                ("client_id", one.id),
            ]))
        })
        .await?
    } else {
        one.token(&code, Some(&pushed.verifier), Some(&Dpop::new()?), edit)
            .await?
    };
    ensure_endpoint_error(&answer, &[400, 401], &["invalid_client", "invalid_request"])
}

/// `fapi2-security-profile-final-ensure-client-assertion-in-token-endpoint`: only `client_id`, no
/// assertion.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_client_assertion_in_token_endpoint() -> Result<()> {
    bad_assertion(&|_| {}, true).await
}

/// `fapi2-security-profile-final-ensure-client-assertion-with-exp-is-5-minutes-in-past-fails`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_client_assertion_with_exp_is_5_minutes_in_past_fails() -> Result<()> {
    bad_assertion(
        &|c| {
            c.insert("exp".into(), json!(now() - 300));
        },
        false,
    )
    .await
}

/// `fapi2-security-profile-final-ensure-client-assertion-with-wrong-aud-fails`: `aud` another server's
/// resource.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_client_assertion_with_wrong_aud_fails() -> Result<()> {
    bad_assertion(
        &|c| {
            c.insert("aud".into(), json!("https://fapidev-rs.authlete.net/api/userinfo"));
        },
        false,
    )
    .await
}

/// `fapi2-security-profile-final-ensure-client-assertion-with-no-sub-fails`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_client_assertion_with_no_sub_fails() -> Result<()> {
    bad_assertion(
        &|c| {
            c.remove("sub");
        },
        false,
    )
    .await
}

/// A proof built by hand: `header` and `claims` as given (from a good proof's), signed by `key`.
fn proof_with(key: &keys::SigningKey, edit_header: &dyn Fn(&mut Map<String, Value>), claims: &Value) -> Result<String> {
    let mut jwk = key.public_jwk();
    if let Some(j) = jwk.as_object_mut() {
        for m in ["kid", "alg", "use"] {
            j.remove(m);
        }
    }
    let mut header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk})
        .as_object()
        .cloned()
        .ok_or_else(|| anyhow!("header"))?;
    edit_header(&mut header);
    sign_raw(key, &header, claims)
}

/// `fapi2-security-profile-final-dpop-negative-tests`: after a normal flow, resource calls with the
/// same access token and proofs the suite varies. Accepted (200): `htu` with a query or fragment added
/// or removed, extra header and claim members, a fixed `jti`'s first use, a final correct proof.
/// Refused (400 or 401): two `DPoP` headers; not a JWT; no `typ`, `alg`, `jwk`, `jti`, `htm`, `htu`,
/// `iat` or `ath`; `typ` not `dpop+jwt`; `alg: none`; a bad signature; a private `jwk`; `htm=PUT`;
/// another URL; `iat` an hour ahead or behind; a wrong `ath`; another key; no proof (with the `DPoP`
/// scheme, and with `Bearer`); a replayed `jti` (only a WARNING in the suite).
#[tokio::test]
async fn fapi2_security_profile_final_dpop_negative_tests() -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let (_, tokens, dpop) = one.flow(&Options::default()).await?;
    let url = format!("{}/userinfo", s.hub());
    let at = tokens.access_token.clone();
    let nonce = dpop.nonce().ok_or_else(|| anyhow!("no server nonce known"))?;
    let claims = |edit: &dyn Fn(&mut Map<String, Value>)| -> Value {
        let mut c = json!({
            "jti": random(), "htm": "GET", "htu": url, "iat": now(), "nonce": nonce,
            "ath": keys::dpop::ath(&at),
        })
        .as_object()
        .cloned()
        .unwrap_or_default();
        edit(&mut c);
        Value::Object(c)
    };
    let call = |proofs: Vec<String>, scheme: &'static str| {
        let url = url.clone();
        let at = at.clone();
        async move {
            let mut request = http()?.get(&url).header("Authorization", format!("{scheme} {at}"));
            for p in proofs {
                request = request.header("DPoP", p);
            }
            Http::from(request.send().await?).await
        }
    };
    let key = &dpop.key;
    let good = |edit: &dyn Fn(&mut Map<String, Value>)| proof_with(key, &|_| {}, &claims(edit));
    let header_edit = |edit: &dyn Fn(&mut Map<String, Value>)| proof_with(key, edit, &claims(&|_| {}));

    let fixed_jti = random();
    let accepted: Vec<(&str, String)> = vec![
        (
            "htu with a query",
            good(&|c| {
                c.insert("htu".into(), json!(format!("{url}?foo=bar")));
            })?,
        ),
        (
            "htu with a fragment",
            good(&|c| {
                c.insert("htu".into(), json!(format!("{url}#foo")));
            })?,
        ),
        (
            "an extra claim",
            good(&|c| {
                c.insert("extra".into(), json!("x"));
            })?,
        ),
        (
            "an extra header member",
            header_edit(&|h| {
                h.insert("extra".into(), json!("x"));
            })?,
        ),
        (
            "a fixed jti, first use",
            good(&|c| {
                c.insert("jti".into(), json!(fixed_jti));
            })?,
        ),
        ("a correct proof", good(&|_| {})?),
    ];
    for (name, proof) in accepted {
        let answer = call(vec![proof], "DPoP").await?;
        ensure!(
            matches!(answer.status, 200 | 201),
            "{name} was refused: {} {}",
            answer.status,
            answer.body
        );
    }

    let other = new_key()?;
    let good_proof = good(&|_| {})?;
    let mut bad_signature = good_proof.clone();
    bad_signature.truncate(bad_signature.len() - 4);
    bad_signature.push_str("AAAA");
    let mut none_header = Map::new();
    none_header.insert("typ".into(), json!("dpop+jwt"));
    none_header.insert("alg".into(), json!("none"));
    none_header.insert("jwk".into(), key.public_jwk());
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(Value::Object(none_header).to_string()),
        URL_SAFE_NO_PAD.encode(claims(&|_| {}).to_string())
    );
    let private_jwk = {
        let pem = super::client::key_pem(key)?;
        let pair = josekit::jws::ES256.key_pair_from_pem(&pem)?;
        let jwk: Map<String, Value> = pair.to_jwk_private_key().as_ref().clone();
        header_edit(&move |h| {
            h.insert("jwk".into(), Value::Object(jwk.clone()));
        })?
    };
    let mut refused: Vec<(&str, Vec<String>, &'static str)> = vec![
        ("two DPoP headers", vec![good(&|_| {})?, good(&|_| {})?], "DPoP"),
        ("not a JWT", vec!["not-a-jwt".into()], "DPoP"),
        (
            "no typ",
            vec![header_edit(&|h| {
                h.remove("typ");
            })?],
            "DPoP",
        ),
        (
            "no alg",
            vec![header_edit(&|h| {
                h.remove("alg");
            })?],
            "DPoP",
        ),
        (
            "no jwk",
            vec![header_edit(&|h| {
                h.remove("jwk");
            })?],
            "DPoP",
        ),
        (
            "typ JWT",
            vec![header_edit(&|h| {
                h.insert("typ".into(), json!("JWT"));
            })?],
            "DPoP",
        ),
        ("alg none", vec![alg_none], "DPoP"),
        ("a bad signature", vec![bad_signature], "DPoP"),
        ("a private jwk", vec![private_jwk], "DPoP"),
        (
            "htm PUT",
            vec![good(&|c| {
                c.insert("htm".into(), json!("PUT"));
            })?],
            "DPoP",
        ),
        (
            "another URL",
            vec![good(&|c| {
                c.insert("htu".into(), json!(format!("{}/token", s.hub())));
            })?],
            "DPoP",
        ),
        (
            "iat an hour ahead",
            vec![good(&|c| {
                c.insert("iat".into(), json!(now() + 3600));
            })?],
            "DPoP",
        ),
        (
            "iat an hour ago",
            vec![good(&|c| {
                c.insert("iat".into(), json!(now() - 3600));
            })?],
            "DPoP",
        ),
        (
            "a wrong ath",
            vec![good(&|c| {
                c.insert("ath".into(), json!(keys::dpop::ath("other")));
            })?],
            "DPoP",
        ),
        (
            "another key",
            vec![proof_with(&other, &|_| {}, &claims(&|_| {}))?],
            "DPoP",
        ),
        ("no proof", vec![], "DPoP"),
        ("no proof, Bearer", vec![], "Bearer"),
        (
            "the fixed jti again",
            vec![good(&|c| {
                c.insert("jti".into(), json!(fixed_jti));
            })?],
            "DPoP",
        ),
    ];
    for claim in ["jti", "htm", "htu", "iat", "ath"] {
        refused.push((
            "a claim missing",
            vec![good(&move |c| {
                c.remove(claim);
            })?],
            "DPoP",
        ));
    }
    for (name, proofs, scheme) in refused {
        let answer = call(proofs, scheme).await?;
        ensure!(
            matches!(answer.status, 400 | 401),
            "{name} was not refused: {} {}",
            answer.status,
            answer.body
        );
    }
    Ok(())
}

/// `fapi2-security-profile-final-par-ensure-reused-request-uri-prior-to-auth-completion-succeeds`: the
/// authorization URL visited once without signing in, then again to sign in: success.
#[tokio::test]
async fn fapi2_security_profile_final_par_ensure_reused_request_uri_prior_to_auth_completion_succeeds() -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let options = Options::default();
    let pushed = one.push(&options).await?;
    let url = one.authorize_url(&pushed, &options);
    let mut agent = Agent::new()?;
    let first = agent.visit(&url, Some(&s.cb)).await?;
    ensure!(
        first.is_choice(s.hub()),
        "the first visit did not reach the choice: {} {}",
        first.status,
        first.url
    );
    let response = one.callback(&mut agent, &url, "success").await?;
    ensure_state_and_iss(s, &response, pushed.state.as_deref())?;
    let code = response.code()?;
    one.redeem(&code, &pushed, &Dpop::new()?).await.map(|_| ())
}

/// `fapi2-security-profile-final-par-attempt-reuse-request_uri`: after a successful flow, the same
/// `request_uri` again: the hub's error page (the suite's preferred answer).
#[tokio::test]
async fn fapi2_security_profile_final_par_attempt_reuse_request_uri() -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let options = Options::default();
    let pushed = one.push(&options).await?;
    let url = one.authorize_url(&pushed, &options);
    let response = one.callback(&mut Agent::new()?, &url, "success").await?;
    response.code()?;
    let again = Agent::new()?.get(&url).await?;
    ensure_error_page(&again, s)
}

/// `fapi2-security-profile-final-par-attempt-to-use-expired-request_uri`: the suite sleeps until the
/// pushed request's `expires_in` (60 s here) has passed. What stands in: the short-lived federation,
/// whose pushed requests live [`SHORT_REQUEST_URI_TTL`] s (the least the suite accepts), and a visit
/// after that: the hub's error page.
#[tokio::test]
async fn fapi2_security_profile_final_par_attempt_to_use_expired_request_uri() -> Result<()> {
    let s = shared(Plan::ShortLived).await?;
    let one = Fapi::one(s);
    let options = Options::default();
    let pushed = one.push(&options).await?;
    tokio::time::sleep(Duration::from_secs(SHORT_REQUEST_URI_TTL + 1)).await;
    let seen = Agent::new()?.get(&one.authorize_url(&pushed, &options)).await?;
    ensure_error_page(&seen, s)
}

/// `fapi2-security-profile-final-par-ensure-jwt-client-assertions-nbf-8-seconds-in-the-future-is-accepted`:
/// a PAR assertion with `iat` = `nbf` = now + 8 s: 201, and the flow continues.
#[tokio::test]
async fn fapi2_security_profile_final_par_ensure_jwt_client_assertions_nbf_8_seconds_in_the_future_is_accepted(
) -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let (params, pushed) = one.par_params(&[]);
    let answer = one
        .par_raw(&params, None, &|c| {
            let t = now() + 8;
            c.insert("iat".into(), json!(t));
            c.insert("nbf".into(), json!(t));
        })
        .await?;
    ensure!(answer.status == 201, "{} {}", answer.status, answer.body);
    let pushed = Pushed {
        request_uri: answer.json()["request_uri"].as_str().unwrap_or_default().to_string(),
        ..pushed
    };
    let response = one
        .callback(
            &mut Agent::new()?,
            &one.authorize_url(&pushed, &Options::default()),
            "success",
        )
        .await?;
    let tokens = one.redeem(&response.code()?, &pushed, &Dpop::new()?).await?;
    ensure!(!tokens.access_token.is_empty());
    Ok(())
}

/// A PAR whose assertion `edit` changes must be refused: 400 or 401, `invalid_request` or
/// `invalid_client`.
async fn par_assertion_refused(edit: &(dyn Fn(&mut Map<String, Value>) + Sync)) -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let (params, _) = one.par_params(&[]);
    let answer = one.par_raw(&params, None, edit).await?;
    ensure_endpoint_error(&answer, &[400, 401], &["invalid_request", "invalid_client"])
}

/// `fapi2-security-profile-final-par-ensure-jwt-client-assertions-nbf-over-60-seconds-in-the-future-fails`:
/// `iat`, `nbf` and `exp` 62 s ahead.
#[tokio::test]
async fn fapi2_security_profile_final_par_ensure_jwt_client_assertions_nbf_over_60_seconds_in_the_future_fails(
) -> Result<()> {
    par_assertion_refused(&|c| {
        let t = now() + 62;
        c.insert("iat".into(), json!(t));
        c.insert("nbf".into(), json!(t));
        c.insert("exp".into(), json!(t + 60));
    })
    .await
}

/// `fapi2-security-profile-final-par-attempt-to-use-request_uri-for-different-client`: client 1's
/// `request_uri` with client 2's `client_id`: the hub's error page.
#[tokio::test]
async fn fapi2_security_profile_final_par_attempt_to_use_request_uri_for_different_client() -> Result<()> {
    let s = plan().await?;
    let one = Fapi::one(s);
    let pushed = one.push(&Options::default()).await?;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("client_id", FAPI_2), ("request_uri", pushed.request_uri.as_str())])
        .finish();
    let seen = Agent::new()?.get(&format!("{}/authorize?{query}", s.hub())).await?;
    ensure_error_page(&seen, s)
}

/// `fapi2-security-profile-final-par-authorization-request-containing-request_uri-form-param`: PAR with a
/// `request_uri` parameter: 400 `invalid_request`.
#[tokio::test]
async fn fapi2_security_profile_final_par_authorization_request_containing_request_uri_form_param() -> Result<()> {
    par_refused(
        &[(
            "request_uri",
            Some(format!("urn:ietf:params:oauth:request_uri:{}", random())),
        )],
        &["invalid_request"],
    )
    .await
}

/// `fapi2-security-profile-final-par-attempt-invalid-http-method`: PAR by PUT: a 4xx (405).
#[tokio::test]
async fn fapi2_security_profile_final_par_attempt_invalid_http_method() -> Result<()> {
    let s = plan().await?;
    let answer = http()?.put(format!("{}/par", s.hub())).send().await?;
    let status = answer.status().as_u16();
    ensure!((400..600).contains(&status), "PUT /par answered {status}");
    Ok(())
}

/// `fapi2-security-profile-final-par-ensure-pkce-required`: no `code_challenge`: PAR 400
/// `invalid_request`.
#[tokio::test]
async fn fapi2_security_profile_final_par_ensure_pkce_required() -> Result<()> {
    par_refused(
        &[("code_challenge", None), ("code_challenge_method", None)],
        &["invalid_request"],
    )
    .await
}

/// `fapi2-security-profile-final-ensure-pkce-code-verifier-required`: no `code_verifier`: 400, JSON,
/// `invalid_grant`.
#[tokio::test]
async fn fapi2_security_profile_final_ensure_pkce_code_verifier_required() -> Result<()> {
    let s = plan().await?;
    let (one, _, code) = code_of_one(s).await?;
    let answer = one.token(&code, None, Some(&Dpop::new()?), &|_| {}).await?;
    ensure_endpoint_error(&answer, &[400], &["invalid_grant"])
}

/// `fapi2-security-profile-final-incorrect-pkce-code-verifier-rejected`: a wrong `code_verifier`.
#[tokio::test]
async fn fapi2_security_profile_final_incorrect_pkce_code_verifier_rejected() -> Result<()> {
    let s = plan().await?;
    let (one, _, code) = code_of_one(s).await?;
    let (wrong, _) = pkce();
    let answer = one.token(&code, Some(&wrong), Some(&Dpop::new()?), &|_| {}).await?;
    ensure_endpoint_error(&answer, &[400], &["invalid_grant"])
}

/// `fapi2-security-profile-final-par-plain-pkce-rejected`: `code_challenge_method=plain`: PAR 400
/// `invalid_request`.
#[tokio::test]
async fn fapi2_security_profile_final_par_plain_pkce_rejected() -> Result<()> {
    par_refused(&[("code_challenge_method", Some("plain".into()))], &["invalid_request"]).await
}

/// `fapi2-security-profile-final-par-without-duplicate-parameters`: `/authorize` with only `client_id`
/// and `request_uri` (RFC 9101 §5): success.
#[tokio::test]
async fn fapi2_security_profile_final_par_without_duplicate_parameters() -> Result<()> {
    let s = plan().await?;
    Fapi::one(s)
        .flow(&Options {
            bare: true,
            ..Options::default()
        })
        .await
        .map(|_| ())
}

/// `fapi2-security-profile-final-par-test-array-as-audience-fails`: the PAR assertion's `aud` an array of
/// the issuer and the token endpoint (FAPI 2.0 SP §5.3.2.1-8: the issuer, as one string).
#[tokio::test]
async fn fapi2_security_profile_final_par_test_array_as_audience_fails() -> Result<()> {
    let s = plan().await?;
    let hub = s.hub().to_string();
    par_assertion_refused(&move |c| {
        c.insert("aud".into(), json!([hub, format!("{hub}/token")]));
    })
    .await
}

/// `fapi2-security-profile-final-par-test-par-endpoint-url-as-audience-fails`.
#[tokio::test]
async fn fapi2_security_profile_final_par_test_par_endpoint_url_as_audience_fails() -> Result<()> {
    let s = plan().await?;
    let aud = format!("{}/par", s.hub());
    par_assertion_refused(&move |c| {
        c.insert("aud".into(), json!(aud));
    })
    .await
}

/// `fapi2-security-profile-final-par-test-token-endpoint-url-as-audience-fails`.
#[tokio::test]
async fn fapi2_security_profile_final_par_test_token_endpoint_url_as_audience_fails() -> Result<()> {
    let s = plan().await?;
    let aud = format!("{}/token", s.hub());
    par_assertion_refused(&move |c| {
        c.insert("aud".into(), json!(aud));
    })
    .await
}
