//! A certified identity provider played in-process: the hub's outbound HTTP ([`ProviderClient`]) is
//! answered here, so discovery, JWKS, the token exchange and userinfo run through the hub's real code,
//! every signature made and checked. Personas say who signs in; outcomes say how the provider answers,
//! broken answers included. Every request the hub makes is recorded.

use hub::{
    clock::{Clock, ManualClock},
    ids::pkce_challenge,
    outbound::{FetchError, ProviderClient, Reply},
};
use serde_json::{json, Map, Value};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// Who signs in at the provider.
#[derive(Debug, Clone)]
pub struct Persona {
    pub sub: &'static str,
    /// The vector the persona reaches (the provider answers the first asked it can meet, else this).
    pub reaches: &'static str,
    pub claims: Value,
}

impl Persona {
    /// Alex Morgan: identity proven to P2, passport, address.
    pub fn p2() -> Self {
        Self {
            sub: "provider-sub-alex",
            reaches: "Cl.Cm.P2",
            claims: json!({
                "given_name": "Alex", "family_name": "Morgan", "birthdate": "1990-04-12",
                "email": "alex.morgan@example.com", "email_verified": true,
                "phone_number": "+447700900123", "phone_number_verified": true,
                "address": {"street_address": "1 Harbour Way", "locality": "Bristol", "postal_code": "BS1 5TY", "country": "GB"},
                "https://vocab.account.gov.uk/v1/passport": [{"documentNumber": "123456789", "expiryDate": "2031-01-01", "icaoIssuerCode": "GBR"}],
            }),
        }
    }

    /// Dana Whitfield: two factors, no identity documents.
    pub fn cl_cm() -> Self {
        Self {
            sub: "provider-sub-dana",
            reaches: "Cl.Cm",
            claims: json!({"email": "dana@example.com", "email_verified": true}),
        }
    }
}

/// How the provider answers the next sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// `error=access_denied`.
    Denied,
    /// `error=unmet_authentication_requirements`.
    Unmet,
    /// `error=access_denied&identity_outcome=pending`.
    PendingError,
    /// `error=access_denied&identity_outcome=fraud_suspected`.
    FraudError,
    /// `error=temporarily_unavailable`.
    Unavailable,
    /// Signs the person in at `Cl.Cm` with `identity_outcome=pending`.
    PendingSignIn,
    /// Signs the person in at `Cl.Cm` with `identity_outcome=fraud_suspected`.
    FraudSignIn,
    /// `acr` one level below the one asked.
    LevelBelow,
    BadSignature,
    AlgNone,
    WrongIss,
    WrongAud,
    Expired,
    NotYetValid,
    WrongNonce,
    UnknownAcr,
    MissingSub,
    /// The token endpoint answers 500.
    TokenEndpointDown,
    /// The token endpoint answers garbage.
    Garbage,
    /// The `iss` authorization-response parameter names another issuer (mix-up).
    MixUp,
    /// Userinfo names another subject.
    UserinfoOtherSub,
}

/// A code the provider issued, and what it stands for.
#[derive(Debug, Clone)]
struct Issued {
    nonce: String,
    challenge: String,
    acr: String,
    persona: Persona,
    outcome: Outcome,
}

/// One request the hub made.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: &'static str,
    pub url: String,
    pub form: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct Inner {
    codes: HashMap<String, Issued>,
    tokens: HashMap<String, (Persona, Outcome)>,
    seen: Vec<Seen>,
    down: bool,
    /// POSTs to URLs outside the provider (services' back-channel logout) still to refuse with a 503.
    refuse_services: u32,
}

/// The fake provider.
#[derive(Debug, Clone)]
pub struct FakeProvider {
    pub issuer: String,
    key: Arc<keys::SigningKey>,
    other_key: Arc<keys::SigningKey>,
    clock: ManualClock,
    pub persona: Persona,
    inner: Arc<Mutex<Inner>>,
}

/// The hub's client id at the fake provider.
pub const HUB_CLIENT_ID: &str = "federation-hub";

impl FakeProvider {
    /// A provider signing its persona in, on `clock`.
    pub fn new(issuer: &str, persona: Persona, clock: ManualClock) -> Self {
        Self {
            issuer: issuer.to_string(),
            key: Arc::new(keys::SigningKey::generate().unwrap()),
            other_key: Arc::new(keys::SigningKey::generate().unwrap()),
            clock,
            persona,
            inner: Arc::default(),
        }
    }

    /// Every request the hub made to the provider.
    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// Makes the next `n` POSTs to a service (a back-channel logout) answer 503.
    pub fn refuse_service_posts(&self, n: u32) {
        self.inner.lock().unwrap().refuse_services = n;
    }

    /// Makes every request fail as if the provider were down (or back up).
    pub fn set_down(&self, down: bool) {
        self.inner.lock().unwrap().down = down;
    }

    /// The person at the provider's authorization endpoint: the hub's request (its redirect `location`)
    /// answered with `outcome`. Returns the hub callback path and query the browser is sent back to.
    pub fn answer(&self, location: &str, persona: Persona, outcome: Outcome) -> String {
        let url = url::Url::parse(location).unwrap();
        assert!(
            location.starts_with(&format!("{}/authorize?", self.issuer)),
            "{location}"
        );
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let state = q.get("state").cloned().unwrap_or_default();
        let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
        let path = url::Url::parse(&redirect).unwrap().path().to_string();
        let mut params: Vec<(&str, String)> = vec![("state", state)];
        let error = match outcome {
            Outcome::Denied => Some(("access_denied", None)),
            Outcome::Unmet => Some(("unmet_authentication_requirements", None)),
            Outcome::PendingError => Some(("access_denied", Some("pending"))),
            Outcome::FraudError => Some(("access_denied", Some("fraud_suspected"))),
            Outcome::Unavailable => Some(("temporarily_unavailable", None)),
            _ => None,
        };
        match error {
            Some((error, identity)) => {
                params.push(("error", error.into()));
                if let Some(i) = identity {
                    params.push(("identity_outcome", i.into()));
                }
            }
            None => {
                let code = hub::ids::random_token();
                let asked: Vec<String> = q
                    .get("acr_values")
                    .map(|a| a.split(' ').map(str::to_string).collect())
                    .unwrap_or_default();
                let acr = reached(&persona, &asked, outcome);
                self.inner.lock().unwrap().codes.insert(
                    code.clone(),
                    Issued {
                        nonce: q.get("nonce").cloned().unwrap_or_default(),
                        challenge: q.get("code_challenge").cloned().unwrap_or_default(),
                        acr,
                        persona,
                        outcome,
                    },
                );
                params.push(("code", code));
            }
        }
        let iss = if outcome == Outcome::MixUp {
            "https://attacker.example".to_string()
        } else {
            self.issuer.clone()
        };
        params.push(("iss", iss));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        format!("{path}?{query}")
    }

    fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": format!("{}/authorize", self.issuer),
            "token_endpoint": format!("{}/token", self.issuer),
            "userinfo_endpoint": format!("{}/userinfo", self.issuer),
            "jwks_uri": format!("{}/jwks", self.issuer),
            "authorization_response_iss_parameter_supported": true,
        })
    }

    fn token(&self, form: &HashMap<String, String>) -> Reply {
        let refuse = |error: &str| json_reply(400, json!({"error": error}));
        let Some(issued) = form
            .get("code")
            .and_then(|c| self.inner.lock().unwrap().codes.remove(c))
        else {
            return refuse("invalid_grant");
        };
        if issued.outcome == Outcome::TokenEndpointDown {
            return json_reply(500, json!({"error": "server_error"}));
        }
        if issued.outcome == Outcome::Garbage {
            return Reply {
                status: 200,
                content_type: Some("application/json".into()),
                body: b"{\"access_token\": 7".to_vec(),
            };
        }
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        if pkce_challenge(&verifier) != issued.challenge {
            return refuse("invalid_grant");
        }
        let assertion = form.get("client_assertion").cloned().unwrap_or_default();
        let peeked = keys::peek_claims(&assertion).unwrap_or_default();
        if peeked.get("iss").and_then(Value::as_str) != Some(HUB_CLIENT_ID) {
            return refuse("invalid_client");
        }
        let now = self.clock.now();
        let mut claims = json!({
            "iss": self.issuer, "aud": HUB_CLIENT_ID, "sub": issued.persona.sub,
            "iat": now, "exp": now + 300, "nonce": issued.nonce, "acr": issued.acr, "auth_time": now,
        })
        .as_object()
        .cloned()
        .unwrap();
        match issued.outcome {
            Outcome::PendingSignIn => {
                claims.insert("identity_outcome".into(), json!("pending"));
            }
            Outcome::FraudSignIn => {
                claims.insert("identity_outcome".into(), json!("fraud_suspected"));
            }
            Outcome::WrongIss => {
                claims.insert("iss".into(), json!("https://other.example"));
            }
            Outcome::WrongAud => {
                claims.insert("aud".into(), json!("someone-else"));
            }
            Outcome::Expired => {
                claims.insert("exp".into(), json!(now - 600));
            }
            Outcome::NotYetValid => {
                claims.insert("nbf".into(), json!(now + 600));
            }
            Outcome::WrongNonce => {
                claims.insert("nonce".into(), json!("not-the-nonce"));
            }
            Outcome::UnknownAcr => {
                claims.insert("acr".into(), json!("urn:unknown:level"));
            }
            Outcome::MissingSub => {
                claims.remove("sub");
            }
            _ => {}
        }
        let id_token = match issued.outcome {
            Outcome::BadSignature => self
                .other_key
                .sign_jwt_with_kid("JWT", self.key.kid(), &claims)
                .unwrap(),
            Outcome::AlgNone => {
                use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
                let head = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, self.key.kid()));
                let body = URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string());
                format!("{head}.{body}.")
            }
            _ => self.key.sign_jwt("JWT", &claims).unwrap(),
        };
        let access_token = hub::ids::random_token();
        self.inner
            .lock()
            .unwrap()
            .tokens
            .insert(access_token.clone(), (issued.persona, issued.outcome));
        json_reply(
            200,
            json!({"access_token": access_token, "token_type": "Bearer", "id_token": id_token, "expires_in": 300}),
        )
    }

    fn userinfo(&self, bearer: Option<&str>) -> Reply {
        let found = bearer.and_then(|t| self.inner.lock().unwrap().tokens.get(t).cloned());
        let Some((persona, outcome)) = found else {
            return json_reply(401, json!({"error": "invalid_token"}));
        };
        let mut claims: Map<String, Value> = persona.claims.as_object().cloned().unwrap_or_default();
        let sub = if outcome == Outcome::UserinfoOtherSub {
            "someone-else"
        } else {
            persona.sub
        };
        claims.insert("sub".into(), json!(sub));
        json_reply(200, Value::Object(claims))
    }
}

/// The acr the provider answers: the first asked the persona meets, else what it reaches; one below
/// for `LevelBelow`; `Cl.Cm` for the identity outcomes.
fn reached(persona: &Persona, asked: &[String], outcome: Outcome) -> String {
    let reaches = hub::vtr::Vector::parse(persona.reaches).unwrap();
    match outcome {
        Outcome::PendingSignIn | Outcome::FraudSignIn => return "Cl.Cm".into(),
        Outcome::LevelBelow => return "Cl.Cm".into(),
        _ => {}
    }
    asked
        .iter()
        .find(|a| hub::vtr::Vector::parse(a).is_ok_and(|v| reaches.satisfies(&v)))
        .cloned()
        .unwrap_or_else(|| persona.reaches.to_string())
}

fn json_reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        content_type: Some("application/json".into()),
        body: body.to_string().into_bytes(),
    }
}

/// The hub's outbound HTTP in tests: the fake provider answers under its issuer; every other URL (a
/// service's back-channel logout, say) is recorded and answered 200.
#[derive(Debug, Clone)]
pub struct FakeInternet {
    pub provider: FakeProvider,
}

#[async_trait::async_trait]
impl ProviderClient for FakeInternet {
    async fn get(&self, url: &str, bearer: Option<&str>) -> Result<Reply, FetchError> {
        let p = &self.provider;
        let down = {
            let mut inner = p.inner.lock().unwrap();
            inner.seen.push(Seen {
                method: "GET",
                url: url.to_string(),
                form: Vec::new(),
            });
            inner.down
        };
        if down {
            return Err(FetchError::Unreachable(url.to_string()));
        }
        let path = url.strip_prefix(&p.issuer).unwrap_or(url);
        Ok(match path {
            "/.well-known/openid-configuration" => json_reply(200, p.discovery()),
            "/jwks" => json_reply(200, keys::jwks([p.key.as_ref()])),
            "/userinfo" => p.userinfo(bearer),
            _ => json_reply(404, json!({"error": "not found"})),
        })
    }

    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        _basic: Option<(&str, &str)>,
    ) -> Result<Reply, FetchError> {
        let p = &self.provider;
        let (down, refuse) = {
            let mut inner = p.inner.lock().unwrap();
            inner.seen.push(Seen {
                method: "POST",
                url: url.to_string(),
                form: form.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            });
            let refuse = !url.starts_with(&p.issuer) && inner.refuse_services > 0;
            if refuse {
                inner.refuse_services -= 1;
            }
            (inner.down, refuse)
        };
        if refuse {
            return Ok(json_reply(503, json!({})));
        }
        if url.starts_with(&p.issuer) && down {
            return Err(FetchError::Unreachable(url.to_string()));
        }
        let form: HashMap<String, String> = form.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Ok(match url.strip_prefix(&p.issuer) {
            Some("/token") => p.token(&form),
            Some(_) => json_reply(404, json!({"error": "not found"})),
            None => json_reply(200, json!({})),
        })
    }
}
