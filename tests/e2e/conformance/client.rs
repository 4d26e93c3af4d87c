//! The conformance suite's side of each module: the person's browser through the hub and the stub
//! provider, the authorization response read as the suite reads it (query, or the form post the hub's
//! page sends), the token and userinfo calls with each client authentication, DPoP, and the checks the
//! suite's conditions make (ID token, error responses, entropy of codes and tokens).

use super::{callback::Received, Mode, Shared};
use crate::harness::{now, random_prefix, Agent, Seen};
use anyhow::{anyhow, ensure, Context, Result};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::{collections::HashMap, time::Duration};

/// A random value for `state`, `nonce`, `jti`.
pub fn random() -> String {
    random_prefix().replace(':', "").replace("e2e", "r")
}

/// A random string of `len` characters (the suite's long `state` and `nonce`).
pub fn random_of(len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        s.push_str(&random());
    }
    s.truncate(len);
    s
}

/// An HTTP answer as the suite sees it.
#[derive(Debug, Clone)]
pub struct Http {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Http {
    pub async fn from(response: reqwest::Response) -> Result<Self> {
        Ok(Self {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await?,
        })
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    /// `Content-Type` is JSON (`EnsureContentTypeJson`, `CheckTokenEndpointReturnedJsonContentType`).
    pub fn ensure_json(&self) -> Result<()> {
        let ct = self.header("content-type").unwrap_or_default();
        ensure!(
            ct.split(';').next().map(str::trim) == Some("application/json"),
            "Content-Type is {ct:?}, not application/json: {} {}",
            self.status,
            self.body
        );
        Ok(())
    }
}

/// A client that does not follow redirects.
pub fn http() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()?)
}

/// The characters `error_description` may hold (RFC 6749 §4.1.2.1: %x20-21 / %x23-5B / %x5D-7E).
pub fn description_is_valid(d: &str) -> bool {
    d.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// The suite's entropy estimate of a random string: its length times the Shannon entropy per character.
pub fn entropy_bits(s: &str) -> f64 {
    let mut counts: HashMap<char, usize> = HashMap::new();
    for c in s.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let n = s.chars().count() as f64;
    let per_char: f64 = counts
        .values()
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_char * n
}

/// `EnsureMinimumAuthorizationCodeLength` / `…Entropy` (and the same for access tokens and
/// `request_uri`s): at least 128 bits long and about 96 bits of entropy.
pub fn ensure_random_enough(what: &str, value: &str) -> Result<()> {
    ensure!(value.len() * 8 >= 128, "{what} {value:?} is shorter than 128 bits");
    let bits = entropy_bits(value);
    ensure!(
        bits >= 96.0,
        "{what} {value:?} has about {bits:.0} bits of entropy, under 96"
    );
    Ok(())
}

/// Where a journey ended, as the suite's browser saw it.
pub struct Ended {
    /// The last page or redirect.
    pub seen: Seen,
    /// Whether the person was asked to sign in (the provider's page was shown).
    pub signed_in: bool,
}

/// The person's part: from the first answer to an authorization request, through the hub's provider
/// choice and the stub provider's page (answering `outcome`), until the answer goes to the client.
pub async fn person(s: &Shared, agent: &mut Agent, first: Seen, outcome: &str) -> Result<Ended> {
    let cb = s.cb.clone();
    let mut seen = agent.follow(first, Some(&cb)).await?;
    let mut signed_in = false;
    for _ in 0..4 {
        if seen.is_choice(s.hub()) {
            seen = agent
                .submit(&seen, "continue", &[("provider", "stub-a")], Some(&cb))
                .await?;
        } else if seen.status == 200 && seen.url.starts_with(&format!("{}/stub-a/authorize", s.fed.stub)) {
            signed_in = true;
            seen = agent
                .submit(&seen, "continue", &[("outcome", outcome)], Some(&cb))
                .await?;
        } else {
            break;
        }
    }
    Ok(Ended { seen, signed_in })
}

/// GETs an authorization URL and plays the person with `outcome`.
pub async fn authorize(s: &Shared, agent: &mut Agent, url: &str, outcome: &str) -> Result<Ended> {
    let first = agent.get(url).await?;
    person(s, agent, first, outcome).await
}

/// An authorization response as the client received it.
#[derive(Debug, Clone)]
pub struct AuthResponse {
    pub params: HashMap<String, String>,
    /// The parameters in the order and number received (to catch repeats).
    pub pairs: Vec<(String, String)>,
}

impl AuthResponse {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The code, or an error naming what came instead.
    pub fn code(&self) -> Result<String> {
        ensure!(
            self.get("error").is_none(),
            "the authorization endpoint answered an error: {:?}",
            self.pairs
        );
        self.get("code")
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no code in {:?}", self.pairs))
    }
}

/// Whether `seen` is the hub handing a response to the client at `redirect_uri` (a redirect there, or
/// the form post page).
pub fn is_response(seen: &Seen, redirect_uri: &str) -> bool {
    let base = redirect_uri.split('?').next().unwrap_or(redirect_uri);
    seen.location.as_deref().is_some_and(|l| l.starts_with(base))
        || (seen.status == 200 && seen.body.contains(r#"id="form-post""#))
}

/// Reads the authorization response as the suite's `processCallback` does: from the redirect's query, or
/// for form_post by POSTing the hub's auto-submitting form to the callback listener, which must receive a
/// POST of exactly `application/x-www-form-urlencoded` with nothing in its query
/// (`CheckCallbackHttpMethodIsPost`, `CheckCallbackContentTypeIsFormUrlEncoded`, `RejectAuthCodeInUrlQuery`,
/// `RejectErrorInUrlQuery`). Also `CheckMatchingCallbackParameters`: a query of the registered redirect URI
/// comes back.
pub async fn response(agent: &mut Agent, seen: &Seen, redirect_uri: &str, mode: Mode) -> Result<AuthResponse> {
    let registered_query: Vec<(String, String)> = url::Url::parse(redirect_uri)?
        .query_pairs()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let pairs: Vec<(String, String)> = match mode {
        Mode::Query => {
            let location = seen
                .location
                .clone()
                .ok_or_else(|| anyhow!("no redirect; got {} {}\n{}", seen.status, seen.url, seen.body))?;
            let base = redirect_uri.split('?').next().unwrap_or(redirect_uri);
            ensure!(location.starts_with(base), "redirect to {location}, not the client");
            let url = url::Url::parse(&location)?;
            ensure!(url.fragment().is_none(), "a fragment in the response: {location}");
            url.query_pairs().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        }
        Mode::FormPost => {
            ensure!(
                seen.status == 200 && seen.location.is_none(),
                "expected the form post page, got {} {:?}\n{}",
                seen.status,
                seen.location,
                seen.body
            );
            let (action, method, enctype) = {
                let html = seen.html();
                let sel = scraper::Selector::parse("form#form-post").map_err(|e| anyhow!("{e:?}"))?;
                let form = html
                    .select(&sel)
                    .next()
                    .ok_or_else(|| anyhow!("no form#form-post on {}:\n{}", seen.url, seen.body))?;
                let attr = |n: &str| form.value().attr(n).map(str::to_string);
                (attr("action"), attr("method"), attr("enctype"))
            };
            ensure!(action.as_deref() == Some(redirect_uri), "form action {action:?}");
            ensure!(
                method.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("post")),
                "form method {method:?}"
            );
            ensure!(
                enctype
                    .as_deref()
                    .is_none_or(|e| e.eq_ignore_ascii_case("application/x-www-form-urlencoded")),
                "form enctype {enctype:?}: a browser would not send a urlencoded form"
            );
            let posted = agent.submit(seen, "continue", &[], None).await?;
            ensure!(posted.status == 200, "the callback answered {}", posted.status);
            let got = Received::from_json(&serde_json::from_str(&posted.body)?)?;
            ensure!(got.method == "POST", "the callback was called with {}", got.method);
            ensure!(
                got.content_type.as_deref() == Some("application/x-www-form-urlencoded"),
                "the callback's Content-Type is {:?}",
                got.content_type
            );
            ensure!(
                got.query == registered_query,
                "the callback's query is {:?}, not the registered {registered_query:?}",
                got.query
            );
            got.form
        }
    };
    for (k, v) in &registered_query {
        ensure!(
            pairs.iter().any(|(a, b)| a == k && b == v),
            "the redirect URI's own {k}={v} did not come back: {pairs:?}"
        );
    }
    let mut params = HashMap::new();
    for (k, v) in &pairs {
        ensure!(
            params.insert(k.clone(), v.clone()).is_none(),
            "{k} twice in the response: {pairs:?}"
        );
    }
    Ok(AuthResponse { params, pairs })
}

/// `ValidateIssIfPresentInAuthorizationResponse` (and FAPI's `RequireIssInAuthorizationResponse`: the
/// hub always sends it) and `CheckStateInAuthorizationResponse`.
pub fn ensure_state_and_iss(s: &Shared, response: &AuthResponse, state: Option<&str>) -> Result<()> {
    ensure!(
        response.get("iss") == Some(s.hub()),
        "iss {:?} is not the issuer",
        response.get("iss")
    );
    ensure!(
        response.get("state") == state,
        "state {:?}, sent {state:?}",
        response.get("state")
    );
    Ok(())
}

/// `performGenericAuthorizationEndpointErrorResponseValidation` plus the expected codes.
pub fn ensure_error_response(s: &Shared, response: &AuthResponse, state: Option<&str>, codes: &[&str]) -> Result<()> {
    ensure_state_and_iss(s, response, state)?;
    let error = response
        .get("error")
        .ok_or_else(|| anyhow!("no error in {:?}", response.pairs))?;
    ensure!(codes.contains(&error), "error {error:?}, expected one of {codes:?}");
    ensure!(response.get("code").is_none(), "a code beside the error");
    for (k, _) in &response.pairs {
        ensure!(
            matches!(
                k.as_str(),
                "error" | "error_description" | "error_uri" | "state" | "session_state" | "iss" | "dummy1" | "dummy2"
            ),
            "unexpected parameter {k} in an error response"
        );
    }
    if let Some(d) = response.get("error_description") {
        ensure!(
            description_is_valid(d),
            "error_description has characters RFC 6749 forbids: {d:?}"
        );
    }
    Ok(())
}

/// A token endpoint (or PAR) error as the suite checks it: status, JSON `Content-Type`, `error` one of
/// `codes`, `error_description` syntax.
pub fn ensure_endpoint_error(answer: &Http, statuses: &[u16], codes: &[&str]) -> Result<()> {
    ensure!(
        statuses.contains(&answer.status),
        "status {}, expected one of {statuses:?}: {}",
        answer.status,
        answer.body
    );
    answer.ensure_json()?;
    let body = answer.json();
    let error = body["error"].as_str().unwrap_or_default();
    ensure!(
        codes.contains(&error),
        "error {error:?}, expected one of {codes:?}: {body}"
    );
    if let Some(d) = body["error_description"].as_str() {
        ensure!(description_is_valid(d), "error_description {d:?}");
    }
    Ok(())
}

/// The page the hub shows instead of redirecting (the suite's "placeholder": an error page of the OP's
/// own, never a redirect to the client).
pub fn ensure_error_page(seen: &Seen, s: &Shared) -> Result<()> {
    ensure!(
        seen.location.is_none(),
        "redirected to {:?} instead of showing a page",
        seen.location
    );
    ensure!(seen.status == 400, "status {} for the error page", seen.status);
    ensure!(seen.url.starts_with(s.hub()), "the page is not the hub's: {}", seen.url);
    ensure!(
        seen.body.contains("govuk-heading-l") || seen.body.contains("govuk-heading"),
        "not a GOV.UK page:\n{}",
        seen.body
    );
    Ok(())
}

/// The hub's public keys.
pub async fn jwks(s: &Shared) -> Result<(Value, keys::VerifyingKeys)> {
    let doc: Value = reqwest::get(format!("{}/.well-known/jwks.json", s.hub()))
        .await?
        .json()
        .await?;
    let keys = keys::VerifyingKeys::from_jwks(&doc)?;
    Ok((doc, keys))
}

/// `at_hash`: the left half of the SHA-256 of the access token, base64url (OIDC Core §3.1.3.6, ES256
/// and RS256).
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// `PerformStandardIdTokenChecks`: signature by a key of the JWKS with a `kid`, `iss`, `aud`, `exp`,
/// `iat`, `auth_time`, `nonce` (absent when none was sent), `sub`, `at_hash` when present.
pub async fn check_id_token(
    s: &Shared,
    id_token: &str,
    client_id: &str,
    nonce: Option<&str>,
    access_token: Option<&str>,
) -> Result<Map<String, Value>> {
    let (_, keys) = jwks(s).await?;
    let (header, claims) = keys
        .verify(id_token)
        .context("the ID token does not verify with the JWKS")?;
    ensure!(header.kid.is_some(), "the ID token's header has no kid");
    let t = now();
    ensure!(
        claims.get("iss") == Some(&json!(s.hub())),
        "iss {:?}",
        claims.get("iss")
    );
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a == client_id),
        _ => false,
    };
    ensure!(aud_ok, "aud {:?} is not {client_id}", claims.get("aud"));
    let number = |n: &str| claims.get(n).and_then(Value::as_i64);
    let exp = number("exp").ok_or_else(|| anyhow!("no exp"))?;
    ensure!(exp > t - 300 && exp < t + 50 * 365 * 86_400, "exp {exp}");
    let iat = number("iat").ok_or_else(|| anyhow!("no iat"))?;
    ensure!(iat <= t + 300 && iat >= t - 300, "iat {iat} is not about now ({t})");
    if let Some(auth_time) = number("auth_time") {
        ensure!(
            auth_time <= t + 300 && auth_time >= t - 365 * 86_400,
            "auth_time {auth_time}"
        );
    }
    ensure!(
        claims.get("nonce").and_then(Value::as_str) == nonce,
        "nonce {:?}, sent {nonce:?}",
        claims.get("nonce")
    );
    ensure!(
        claims.get("sub").and_then(Value::as_str).is_some_and(|s| !s.is_empty()),
        "no sub"
    );
    if let (Some(hash), Some(at)) = (claims.get("at_hash").and_then(Value::as_str), access_token) {
        ensure!(hash == at_hash(at), "at_hash does not match the access token");
    }
    if let Some(acr) = claims.get("acr") {
        ensure!(acr.as_str().is_some_and(|a| !a.is_empty()), "acr {acr}");
    }
    Ok(claims)
}

/// `EnsureIdTokenDoesNotContainNonRequestedClaims`: only the claims the suite allows for the scopes asked.
pub fn ensure_only_requested_claims(claims: &Map<String, Value>) -> Result<()> {
    const ALLOWED: &[&str] = &[
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "azp",
        "at_hash",
        "c_hash",
        "nbf",
        "jti",
        "sid",
        "s_hash",
    ];
    // `vot` and `vtm` are One Login's ID token claims (INTERFACE.md §4); the suite only warns of them.
    let extra: Vec<&String> = claims
        .keys()
        .filter(|k| !ALLOWED.contains(&k.as_str()) && !matches!(k.as_str(), "vot" | "vtm"))
        .collect();
    ensure!(extra.is_empty(), "claims nobody asked for in the ID token: {extra:?}");
    ensure!(!claims.contains_key("name"), "name in the ID token");
    ensure!(
        !claims.contains_key("email"),
        "email in the ID token though an access token was issued"
    );
    Ok(())
}

/// How an `oidc-basic` client authenticates at `/token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Basic,
    Post,
}

/// One of the suite's static `oidc-basic` clients.
#[derive(Debug, Clone)]
pub struct Rp {
    pub client_id: &'static str,
    pub secret: &'static str,
    pub auth: Auth,
    pub mode: Mode,
}

/// One authorization request the suite made: its URL and the values it must see again.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub verifier: Option<String>,
}

impl Rp {
    /// The suite's `client` (`client_secret_basic`).
    pub fn basic(mode: Mode) -> Self {
        Self {
            client_id: super::BASIC,
            secret: super::BASIC_SECRET,
            auth: Auth::Basic,
            mode,
        }
    }

    /// The suite's `client_secret_post` client.
    pub fn post(mode: Mode) -> Self {
        Self {
            client_id: super::POST,
            secret: super::POST_SECRET,
            auth: Auth::Post,
            mode,
        }
    }

    /// The standard request's parameters (`client_id`, `redirect_uri`, `state`, `nonce`,
    /// `response_type`, `scope`, and `response_mode=form_post` in that plan), with `set` applied (`None`
    /// removes).
    pub fn params(&self, s: &Shared, set: &[(&str, Option<&str>)]) -> (Vec<(String, String)>, Request) {
        let mut params: Vec<(String, String)> = vec![
            ("client_id".into(), self.client_id.into()),
            ("redirect_uri".into(), s.redirect_uri(self.client_id)),
            ("state".into(), random()),
            ("nonce".into(), random()),
            ("response_type".into(), "code".into()),
            ("scope".into(), "openid".into()),
        ];
        if self.mode == Mode::FormPost {
            params.push(("response_mode".into(), "form_post".into()));
        }
        for (k, v) in set {
            params.retain(|(name, _)| name != k);
            if let Some(v) = v {
                params.push((k.to_string(), v.to_string()));
            }
        }
        let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let request = Request {
            url: String::new(),
            state: get("state"),
            nonce: get("nonce"),
            verifier: None,
        };
        (params, request)
    }

    /// The authorization URL for `params`.
    pub fn url(&self, s: &Shared, params: &[(String, String)]) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        format!("{}/authorize?{query}", s.hub())
    }

    /// A standard request with changes.
    pub fn request(&self, s: &Shared, set: &[(&str, Option<&str>)]) -> Request {
        let (params, mut request) = self.params(s, set);
        request.url = self.url(s, &params);
        request
    }

    /// Runs `request` in `agent` to the authorization response, the person answering `success`.
    pub async fn run(&self, s: &Shared, agent: &mut Agent, request: &Request) -> Result<(AuthResponse, Ended)> {
        let ended = authorize(s, agent, &request.url, "success").await?;
        let response = self.response(s, agent, &ended.seen).await?;
        Ok((response, ended))
    }

    /// The authorization response in `seen`, read as this plan's mode reads it.
    pub async fn response(&self, s: &Shared, agent: &mut Agent, seen: &Seen) -> Result<AuthResponse> {
        ensure!(
            is_response(seen, &s.redirect_uri(self.client_id)),
            "the hub did not answer the client: {} {} {:?}\n{}",
            seen.status,
            seen.url,
            seen.location,
            seen.body
        );
        response(agent, seen, &s.redirect_uri(self.client_id), self.mode).await
    }

    /// A code for a standard request, with the state and iss checked.
    pub async fn code(&self, s: &Shared, agent: &mut Agent, request: &Request) -> Result<String> {
        let (response, _) = self.run(s, agent, request).await?;
        ensure_state_and_iss(s, &response, request.state.as_deref())?;
        response.code()
    }

    /// `POST /token` for `code`, authenticated the client's way, with `extra` form fields.
    pub async fn token(&self, s: &Shared, code: &str, extra: &[(&str, &str)]) -> Result<Http> {
        let redirect_uri = s.redirect_uri(self.client_id);
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
        ];
        form.extend_from_slice(extra);
        let mut request = http()?.post(format!("{}/token", s.hub()));
        match self.auth {
            Auth::Basic => request = request.basic_auth(self.client_id, Some(self.secret)),
            Auth::Post => {
                form.push(("client_id", self.client_id));
                form.push(("client_secret", self.secret));
            }
        }
        Http::from(request.form(&form).send().await?).await
    }

    /// The token response for `code`, checked as the suite checks it (200, `access_token`, `expires_in`,
    /// an ID token passing the standard checks).
    pub async fn redeem(&self, s: &Shared, code: &str, request: &Request) -> Result<Tokens> {
        let verifier = request.verifier.clone();
        let extra: Vec<(&str, &str)> = verifier.iter().map(|v| ("code_verifier", v.as_str())).collect();
        let answer = self.token(s, code, &extra).await?;
        ensure!(
            answer.status == 200,
            "token endpoint: {} {}",
            answer.status,
            answer.body
        );
        let body = answer.json();
        let access_token = body["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("no access_token: {body}"))?
            .to_string();
        let expires_in = body["expires_in"].as_i64().ok_or_else(|| anyhow!("no expires_in"))?;
        ensure!(expires_in > 0 && expires_in <= 365 * 86_400, "expires_in {expires_in}");
        let id_token = body["id_token"]
            .as_str()
            .ok_or_else(|| anyhow!("no id_token: {body}"))?
            .to_string();
        let claims = check_id_token(
            s,
            &id_token,
            self.client_id,
            request.nonce.as_deref(),
            Some(&access_token),
        )
        .await?;
        Ok(Tokens {
            access_token,
            id_token,
            claims,
        })
    }

    /// A whole standard sign-in: the code, redeemed and checked.
    pub async fn sign_in(&self, s: &Shared, agent: &mut Agent, request: &Request) -> Result<Tokens> {
        let code = self.code(s, agent, request).await?;
        self.redeem(s, &code, request).await
    }
}

/// A token response that passed the checks.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub id_token: String,
    pub claims: Map<String, Value>,
}

impl Tokens {
    pub fn sub(&self) -> String {
        self.claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    pub fn auth_time(&self) -> Option<i64> {
        self.claims.get("auth_time").and_then(Value::as_i64)
    }
}

/// How userinfo is called.
#[derive(Debug, Clone, Copy)]
pub enum UserinfoCall {
    Get,
    PostHeader,
    PostBody,
}

/// Calls userinfo with a Bearer token.
pub async fn userinfo(s: &Shared, token: &str, how: UserinfoCall) -> Result<Http> {
    let url = format!("{}/userinfo", s.hub());
    let request = match how {
        UserinfoCall::Get => http()?.get(url).bearer_auth(token),
        UserinfoCall::PostHeader => http()?.post(url).bearer_auth(token),
        UserinfoCall::PostBody => http()?.post(url).form(&[("access_token", token)]),
    };
    Http::from(request.send().await?).await
}

/// `oidcc-userinfo-*`: 200, JSON, a JSON object whose `sub` is the ID token's.
pub fn ensure_userinfo(answer: &Http, tokens: &Tokens) -> Result<Value> {
    ensure!(answer.status == 200, "userinfo: {} {}", answer.status, answer.body);
    answer.ensure_json()?;
    let body = answer.json();
    ensure!(body.is_object(), "userinfo is not a JSON object: {}", answer.body);
    ensure!(
        body["sub"].as_str() == Some(tokens.sub().as_str()),
        "userinfo sub {} is not the ID token's",
        body["sub"]
    );
    Ok(body)
}

/// A PKCE pair (RFC 7636, S256).
pub fn pkce() -> (String, String) {
    let verifier = random_of(64);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// A JWS with any header and claims, signed by `key` (its header as given: for proofs and assertions
/// the suite breaks on purpose).
pub fn sign_raw(key: &keys::SigningKey, header: &Map<String, Value>, claims: &Value) -> Result<String> {
    let pem = key_pem(key)?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("ES256");
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(Value::Object(header.clone()).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = match alg {
        "RS256" => {
            use josekit::jws::JwsSigner as _;
            josekit::jws::RS256
                .signer_from_pem(&pem)?
                .sign(signing_input.as_bytes())?
        }
        _ => {
            use josekit::jws::JwsSigner as _;
            josekit::jws::ES256
                .signer_from_pem(&pem)?
                .sign(signing_input.as_bytes())?
        }
    };
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// The private PEM of a key (written out and read back: the key type keeps it private).
pub fn key_pem(key: &keys::SigningKey) -> Result<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("key.pem");
    key.write_pem(&path)?;
    Ok(std::fs::read(path)?)
}

/// A fresh ES256 key.
pub fn new_key() -> Result<keys::SigningKey> {
    Ok(keys::SigningKey::generate()?)
}
