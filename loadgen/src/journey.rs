//! One virtual person's sign-in at one virtual service, as a browser and a real OIDC client would make it:
//! authorize with PKCE, the hub's pages and the provider by redirects and forms, the code at the service's
//! redirect URI, then `/token` with `private_key_jwt` and `/userinfo`, every answer checked.

use crate::{
    form::{self, Form},
    hubs::Hub,
    jar::Jar,
    stats::{Step, StepTimes},
    verify,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use reqwest::{header, StatusCode};
use serde::Deserialize;
use std::time::Instant;
use url::Url;

/// The identity credential's claim name (INTERFACE.md §5).
pub const CORE_IDENTITY: &str = "https://vocab.account.gov.uk/v1/coreIdentityJWT";
/// The most redirects and pages one sign-in may pass through before it counts as a loop.
const MAX_HOPS: usize = 20;

/// Why a sign-in failed; [`JourneyError::kind`] is what the report counts.
#[derive(Debug, thiserror::Error)]
pub enum JourneyError {
    #[error("http {status} at {}", step.name())]
    Http { step: Step, status: u16 },
    #[error("unexpected page at {} ({path})", step.name())]
    UnexpectedPage { step: Step, path: String },
    #[error("page at {}: {why}", step.name())]
    Form { step: Step, why: form::FormError },
    #[error("bad redirect to the service: {0}")]
    BadRedirect(String),
    #[error("bad token response: {0}")]
    BadTokenResponse(&'static str),
    #[error("bad id token: {0}")]
    BadIdToken(&'static str),
    #[error("bad userinfo: {0}")]
    BadUserinfo(&'static str),
    #[error("bad coreIdentityJWT: {0}")]
    BadCredential(&'static str),
    #[error("timeout at {}", step.name())]
    Timeout { step: Step },
    #[error("connection error at {}", step.name())]
    Transport { step: Step },
    #[error("more than {MAX_HOPS} redirects and pages")]
    TooManyHops,
    #[error("cannot sign the client assertion")]
    Signing,
}

impl JourneyError {
    /// The error's kind, as counted: the message, which holds no secret and no per-request value.
    pub fn kind(&self) -> String {
        self.to_string()
    }

    fn transport(step: Step, e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            JourneyError::Timeout { step }
        } else {
            JourneyError::Transport { step }
        }
    }
}

/// One service, as registered at the hub, and the level and provider its people use.
#[derive(Debug)]
pub struct Service {
    pub client_id: String,
    pub key: keys::SigningKey,
    pub redirect_uri: Url,
    pub scope: String,
    pub level: crate::cli::Level,
    pub provider: String,
    /// Signing in directly at a generic provider (`--peer`), not through the hub.
    pub peer: bool,
}

/// Everything journeys share: one connection pool, the hub as discovered, the service.
#[derive(Debug)]
pub struct Ctx {
    pub http: reqwest::Client,
    pub hub: Hub,
    pub service: Service,
    /// The access token and `sub` of every completed sign-in, when asked for (`--tokens-out`).
    pub kept: Option<std::sync::Mutex<Vec<(String, String)>>>,
}

fn random_b64(bytes: usize) -> String {
    let mut buf = [0u8; 32];
    let buf = &mut buf[..bytes.min(32)];
    rand::fill(buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The per-sign-in secrets of the service: PKCE verifier, nonce and state.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub verifier: String,
    pub nonce: String,
    pub state: String,
}

impl Secrets {
    /// Fresh values (256-bit verifier, 128-bit nonce and state).
    pub fn new() -> Self {
        Self {
            verifier: random_b64(32),
            nonce: random_b64(16),
            state: random_b64(16),
        }
    }

    fn challenge(&self) -> String {
        use sha2::{Digest, Sha256};
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }
}

impl Default for Secrets {
    fn default() -> Self {
        Self::new()
    }
}

/// A request to make next.
enum Next {
    Get(Url),
    Post(Url, Vec<(String, String)>),
}

impl Next {
    fn url(&self) -> &Url {
        match self {
            Next::Get(u) | Next::Post(u, _) => u,
        }
    }
}

impl Ctx {
    /// The step a request to `url` belongs to; `current` for hub pages outside the journey's steps.
    fn step_of(&self, url: &Url, current: Step) -> Step {
        if !self.hub.instances.is_hub(url) {
            return Step::ProviderCallback;
        }
        match url.path() {
            p if p == self.hub.authorization_path => Step::Authorize,
            "/choose-provider" => Step::Choice,
            "/upstream/callback" => Step::ProviderCallback,
            "/consent" => Step::Consent,
            _ => current,
        }
    }

    fn authorize_url(&self, secrets: &Secrets) -> Url {
        let s = &self.service;
        let mut url = self.hub.instances.next_base().clone();
        url.set_path(&self.hub.authorization_path);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &s.client_id)
                .append_pair("redirect_uri", s.redirect_uri.as_str())
                .append_pair("scope", &s.scope)
                .append_pair("state", &secrets.state)
                .append_pair("nonce", &secrets.nonce)
                .append_pair("code_challenge", &secrets.challenge())
                .append_pair("code_challenge_method", "S256")
                .append_pair("vtr", s.level.vtr());
            if s.level.identity() {
                q.append_pair("claims", &format!(r#"{{"userinfo":{{"{CORE_IDENTITY}":null}}}}"#));
            }
        }
        url
    }

    fn submit(&self, page: &Url, form: Form) -> Result<Next, JourneyError> {
        let target = page
            .join(&form.action)
            .map_err(|_| JourneyError::BadRedirect("form action".into()))?;
        let target = self.hub.instances.route(target);
        Ok(if form.post {
            Next::Post(target, form.fields)
        } else {
            let mut url = target;
            url.query_pairs_mut().clear().extend_pairs(form.fields.iter());
            Next::Get(url)
        })
    }

    /// Whether a redirect goes to the service's redirect URI (where nothing listens: the journey stops).
    fn is_redirect_uri(&self, url: &Url) -> bool {
        let r = &self.service.redirect_uri;
        url.scheme() == r.scheme()
            && url.host_str() == r.host_str()
            && url.port_or_known_default() == r.port_or_known_default()
            && url.path() == r.path()
    }

    /// From `/authorize` to the code at the redirect URI, through the choice, the provider (which answers
    /// at once) and, at P2, consent. Checks `state` and `iss` on the way back.
    pub async fn sign_in(&self, secrets: &Secrets, times: &mut StepTimes) -> Result<String, JourneyError> {
        let mut jar = Jar::default();
        let mut next = Next::Get(self.authorize_url(secrets));
        let mut step = Step::Authorize;
        for _ in 0..MAX_HOPS {
            step = self.step_of(next.url(), step);
            let (url, request) = match next {
                Next::Get(url) => {
                    let r = self.http.get(url.clone());
                    (url, r)
                }
                Next::Post(url, fields) => {
                    let r = self.http.post(url.clone()).form(&fields);
                    (url, r)
                }
            };
            let request = match jar.header() {
                Some(cookies) => request.header(header::COOKIE, cookies),
                None => request,
            };
            let started = Instant::now();
            let response = request.send().await.map_err(|e| JourneyError::transport(step, &e))?;
            jar.keep(response.headers());
            let status = response.status();
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(|l| url.join(l));
            let body = response.text().await.map_err(|e| JourneyError::transport(step, &e))?;
            times.add(step, started.elapsed());
            if status.is_redirection() {
                let location = location.and_then(Result::ok).ok_or_else(|| {
                    JourneyError::BadRedirect(format!("{status} without a Location at {}", step.name()))
                })?;
                if self.is_redirect_uri(&location) {
                    return self.code_of(&location, secrets);
                }
                next = Next::Get(self.hub.instances.route(location));
                continue;
            }
            if status != StatusCode::OK {
                return Err(JourneyError::Http {
                    step,
                    status: status.as_u16(),
                });
            }
            let form = match (self.hub.instances.is_hub(&url), url.path()) {
                (true, _) if self.service.peer => form::first(&body),
                (true, "/choose-provider") => form::choice(&body, &self.service.provider),
                (true, "/consent") => form::consent(&body),
                _ => {
                    return Err(JourneyError::UnexpectedPage {
                        step,
                        path: url.path().to_string(),
                    })
                }
            }
            .map_err(|why| JourneyError::Form { step, why })?;
            next = self.submit(&url, form)?;
        }
        Err(JourneyError::TooManyHops)
    }

    /// The code of the authorization response, after checking `state` and `iss` (RFC 9207).
    fn code_of(&self, location: &Url, secrets: &Secrets) -> Result<String, JourneyError> {
        let (mut code, mut state, mut iss, mut error) = (None, None, None, None);
        for (k, v) in location.query_pairs() {
            match &*k {
                "code" => code = Some(v),
                "state" => state = Some(v),
                "iss" => iss = Some(v),
                "error" => error = Some(v),
                _ => {}
            }
        }
        if let Some(error) = error {
            return Err(JourneyError::BadRedirect(format!("error={error}")));
        }
        if state.as_deref() != Some(secrets.state.as_str()) {
            return Err(JourneyError::BadRedirect("state".into()));
        }
        if iss.as_deref() != Some(self.hub.issuer.as_str()) {
            return Err(JourneyError::BadRedirect("iss".into()));
        }
        code.map(|c| c.into_owned())
            .ok_or_else(|| JourneyError::BadRedirect("no code".into()))
    }

    fn client_assertion(&self) -> Result<String, JourneyError> {
        let s = &self.service;
        let claims = keys::client_assertion::Claims::new(
            &s.client_id,
            self.hub.token_endpoint.as_str(),
            &random_b64(16),
            crate::clock::unix_now(),
        );
        s.key.sign("JWT", &claims).map_err(|_| JourneyError::Signing)
    }

    /// Redeems a code at `/token` with `private_key_jwt` and checks the ID token; returns the access token
    /// and the `sub`.
    pub async fn redeem(
        &self,
        code: &str,
        secrets: &Secrets,
        times: &mut StepTimes,
    ) -> Result<(String, String), JourneyError> {
        let assertion = self.client_assertion()?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.service.redirect_uri.as_str()),
            ("code_verifier", &secrets.verifier),
            ("client_assertion_type", keys::client_assertion::JWT_BEARER),
            ("client_assertion", &assertion),
        ];
        let url = self.hub.instances.route(self.hub.token_endpoint.clone());
        let started = Instant::now();
        let step = Step::Token;
        let response = self
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| JourneyError::transport(step, &e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| JourneyError::transport(step, &e))?;
        times.add(step, started.elapsed());
        if status != StatusCode::OK {
            return Err(JourneyError::Http {
                step,
                status: status.as_u16(),
            });
        }
        let tokens: TokenResponse =
            serde_json::from_slice(&body).map_err(|_| JourneyError::BadTokenResponse("not the JSON expected"))?;
        if !tokens.token_type.eq_ignore_ascii_case("bearer") {
            return Err(JourneyError::BadTokenResponse("token_type"));
        }
        let expected = verify::IdTokenExpected {
            issuer: &self.hub.issuer,
            client_id: &self.service.client_id,
            nonce: &secrets.nonce,
            access_token: &tokens.access_token,
            vot: "Cl.Cm",
            now: crate::clock::unix_now(),
            generic: self.service.peer,
        };
        let sub = verify::id_token(&self.hub.jwks, &tokens.id_token, &expected).map_err(JourneyError::BadIdToken)?;
        Ok((tokens.access_token, sub))
    }

    /// Fetches `/userinfo` and checks `sub` and, at P2, the `coreIdentityJWT`.
    pub async fn userinfo(&self, access_token: &str, sub: &str, times: &mut StepTimes) -> Result<(), JourneyError> {
        let url = self.hub.instances.route(self.hub.userinfo_endpoint.clone());
        let step = Step::Userinfo;
        let started = Instant::now();
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| JourneyError::transport(step, &e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| JourneyError::transport(step, &e))?;
        times.add(step, started.elapsed());
        if status != StatusCode::OK {
            return Err(JourneyError::Http {
                step,
                status: status.as_u16(),
            });
        }
        let info: Userinfo = serde_json::from_slice(&body).map_err(|_| JourneyError::BadUserinfo("not JSON"))?;
        if info.sub != sub {
            return Err(JourneyError::BadUserinfo("sub is not the ID token's"));
        }
        if let Some(did) = &self.hub.did {
            let jwt = info
                .core_identity
                .ok_or(JourneyError::BadUserinfo("no coreIdentityJWT"))?;
            let expected = verify::CredentialExpected {
                client_id: &self.service.client_id,
                sub,
                vot: "P2",
                now: crate::clock::unix_now(),
            };
            verify::core_identity(did, &jwt, &expected).map_err(JourneyError::BadCredential)?;
        }
        Ok(())
    }

    /// A whole sign-in: authorize to userinfo.
    pub async fn journey(&self, times: &mut StepTimes) -> Result<(), JourneyError> {
        let secrets = Secrets::new();
        let code = self.sign_in(&secrets, times).await?;
        let (access_token, sub) = self.redeem(&code, &secrets, times).await?;
        self.userinfo(&access_token, &sub, times).await?;
        if let Some(kept) = &self.kept {
            kept.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((access_token, sub));
        }
        Ok(())
    }

    /// One round of discovery: the discovery document and the JWKS, as a client (re)loading them.
    pub async fn discovery(&self, times: &mut StepTimes) -> Result<(), JourneyError> {
        for (step, path) in [
            (Step::Discovery, "/.well-known/openid-configuration"),
            (Step::Jwks, "/.well-known/jwks.json"),
        ] {
            let mut url = self.hub.instances.next_base().clone();
            url.set_path(path);
            let started = Instant::now();
            let response = self
                .http
                .get(url)
                .send()
                .await
                .map_err(|e| JourneyError::transport(step, &e))?;
            let status = response.status();
            let body = response.bytes().await.map_err(|e| JourneyError::transport(step, &e))?;
            times.add(step, started.elapsed());
            if status != StatusCode::OK {
                return Err(JourneyError::Http {
                    step,
                    status: status.as_u16(),
                });
            }
            if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
                return Err(JourneyError::UnexpectedPage {
                    step,
                    path: path.to_string(),
                });
            }
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    id_token: String,
}

#[derive(Debug, Deserialize)]
struct Userinfo {
    sub: String,
    #[serde(rename = "https://vocab.account.gov.uk/v1/coreIdentityJWT")]
    core_identity: Option<String>,
}
